// The refund flow as a cashier and a supervisor use it: the planner's
// decision is on the screen before anything is sent.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  withDemo, signedIn, sale, nav, idle, planRefund, planOf, submitRefund, approve, resultOf, listedState, shots,
  PREPAID, KIOSK, PHONE,
} from "./helpers.mjs";

const SUPERVISOR = ["90", "246810"];
const SECOND_SUPERVISOR = ["91", "135790"];

test("a wrong-amount sale is voided with a supervisor's approval", async () => {
  await withDemo({}, async (page) => {
    await signedIn(page);
    const wrong = await sale(page, "1000.00"); // meant 100.00
    assert.equal(wrong.state, "approved");

    // Pick it from the list, open its detail, start the refund from there.
    await nav(page, "transactions");
    await page.fill("#search", wrong.traceNo);
    await page.click(`#records tr[data-id="${wrong.id}"]`);
    await page.waitForSelector(`#detail[data-id="${wrong.id}"]`);
    await page.click("#detail-refund");
    await page.waitForSelector('body[data-screen="refund"]');
    assert.equal(await page.inputValue("#refund-ref"), wrong.id);
    await page.fill("#refund-reason", "wrong amount");
    await page.click("#plan-button");
    await page.waitForSelector("#plan[data-action]");
    const plan = await planOf(page);
    assert.equal(plan.action, "void");
    assert.ok(plan.reasons.includes("VOID_SAME_BATCH"), plan.reasons.join());
    assert.equal(plan.approvals, 1);
    await shots(page, "void-plan");

    // A wrong supervisor PIN keeps the dialog open with the attempts left.
    await page.click("#refund-submit");
    await approve(page, [["90", "000000"]]);
    await page.waitForSelector('#approval-dialog[open] #approval-error[data-code="WRONG_PIN"] [data-attempts-left="4"]');
    await shots(page, "void-wrong-pin");
    await page.fill("#approver-pin-0", SUPERVISOR[1]);
    await page.click("#approval-ok");
    await idle(page);
    await page.waitForSelector('#refund-result[data-state="approved"]');
    assert.match(await page.textContent("#refund-result"), /撤销|Void/);
    await shots(page, "void-done");
    assert.equal(await listedState(page, wrong.id), "voided");
  });
});

test("after settlement the same wish becomes a refund", async () => {
  await withDemo({ viewport: KIOSK }, async (page) => {
    await signedIn(page);
    const original = await sale(page, "100.00");
    await nav(page, "settlement");
    await page.click("#settle-button");
    await page.waitForSelector('#settlement-result[data-balanced="true"]');

    const plan = await planRefund(page, { by: "rrn", ref: original.rrn, reason: "wrong amount" });
    assert.equal(plan.action, "refund", "a settled batch cannot be voided");
    assert.equal(plan.route, "original");
    assert.ok(plan.reasons.includes("ORIGINAL_ROUTE_OPEN"), plan.reasons.join());
    assert.match(plan.arrival, /^\d{4}-\d{2}-\d{2}/, "the expected arrival is shown before sending");
    await shots(page, "settled-refund-plan");
    await submitRefund(page, [SUPERVISOR]);
    await page.waitForSelector('#refund-result[data-state="approved"]');
    assert.equal(await listedState(page, original.id), "refunded");

    await nav(page, "tracker");
    const row = page.locator("#tracker tr").first();
    assert.equal(await row.getAttribute("data-route"), "original");
    assert.match(await row.getAttribute("data-status"), /^(accepted|credited)$/);
    await shots(page, "settled-refund-tracker");
  });
});

test("two partial refunds, and a third is refused for exceeding what is left", async () => {
  await withDemo({ viewport: PHONE }, async (page) => {
    await signedIn(page);
    const original = await sale(page, "100.00");
    for (const amount of ["30.00", "50.00"]) {
      const plan = await planRefund(page, { ref: original.traceNo, amount });
      assert.equal(plan.action, "refund", `a partial refund of ${amount} is a refund, not a void`);
      await submitRefund(page, [SUPERVISOR]);
      await page.waitForSelector('#refund-result[data-state="approved"]');
    }
    assert.equal(await listedState(page, original.id), "partially_refunded");

    const third = await planRefund(page, { ref: original.traceNo, amount: "30.00" });
    assert.equal(third.action, "reject");
    assert.equal(third.error, "REFUND_EXCEEDS_REFUNDABLE");
    assert.ok(third.reasons.includes("EXCEEDS_REFUNDABLE"), third.reasons.join());
    assert.match(await page.textContent('#plan [data-field="refundable"]'), /20\.00/);
    assert.equal(await page.isDisabled("#refund-submit"), true, "nothing can be sent for a refused plan");
    await shots(page, "refund-exceeds");
  });
});

test("a prepaid original: settlement-account fallback, two approvers, confirmed with a reference", async () => {
  await withDemo({}, async (page) => {
    await signedIn(page);
    const original = await sale(page, "60.00", PREPAID);
    const plan = await planRefund(page, { ref: original.traceNo, amount: "50.00" }); // partial: not a void
    assert.equal(plan.action, "fallback");
    assert.ok(plan.reasons.includes("METHOD_CANNOT_REFUND"), plan.reasons.join());
    assert.equal(plan.approvals, 2);
    await page.check('input[name="fallback-route"][value="settlement_account"]');
    await page.fill("#dest-holder", "张三");
    await page.fill("#dest-bank", "中国工商银行");
    await page.fill("#dest-account", "6222 0000 1111 2222 333");
    await shots(page, "fallback-plan");

    // The same person twice is not dual control.
    await page.click("#refund-submit");
    await approve(page, [SUPERVISOR, SUPERVISOR]);
    await page.waitForSelector('#approval-dialog[open] #approval-error[data-code="SAME_PERSON_APPROVAL"]');
    await shots(page, "fallback-same-person");
    await approve(page, [SUPERVISOR, SECOND_SUPERVISOR]);
    await idle(page);
    await page.waitForSelector("#refund-result[data-state]");
    const refund = await resultOf(page, "#refund-result");

    await nav(page, "tracker");
    const row = page.locator(`#tracker tr[data-id="${refund.id}"]`);
    assert.equal(await row.getAttribute("data-route"), "settlement_account");
    assert.equal(await row.locator('[data-field="nextStep"] [data-code]').getAttribute("data-code"), "TRANSFER_AND_CONFIRM");
    const destination = await row.locator('[data-field="destination"]').textContent();
    assert.ok(!destination.includes("6222000011112222333"), "the account is shown masked");
    await shots(page, "fallback-tracker");
    await row.locator("button[data-confirm]").click();
    await page.fill("#confirm-reference", "ICBC20250101-0042");
    await page.click("#confirm-ok");
    await page.waitForSelector(`#tracker tr[data-id="${refund.id}"][data-status="credited"]`);
    assert.equal(await row.locator('[data-field="reference"]').textContent(), "ICBC20250101-0042");
    await shots(page, "fallback-confirmed");
  });
});

test("a bank-card refund after 31 days: the window has passed, the planner offers the fallback routes", async () => {
  await withDemo({ viewport: PHONE }, async (page) => {
    await signedIn(page);
    const original = await sale(page, "80.00");
    // The terminal's clock is the page's: move it as the simulator panel does.
    await nav(page, "tools");
    await page.fill("#clock-days", "31");
    await page.click("#clock-button");
    await page.waitForFunction(() => Number(document.querySelector("#clock").dataset.offsetMs) >= 31 * 86_400_000);
    const plan = await planRefund(page, { by: "rrn", ref: original.rrn, amount: "10.00" });
    assert.equal(plan.action, "fallback");
    assert.ok(plan.reasons.includes("WINDOW_PASSED"), plan.reasons.join());
    assert.equal(plan.approvals, 2);
    await shots(page, "window-passed-plan");
  });
});

test("a refund from the voucher without an auth code needs a supervisor; the host decides the route", async () => {
  await withDemo({ viewport: KIOSK }, async (page) => {
    await signedIn(page);
    await nav(page, "refund");
    await page.check('input[name="refund-by"][value="voucher"]');
    // A sale two days ago on another terminal: inside the original-route window.
    const day = new Date(Date.now() - 2 * 86_400_000);
    const date = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
    await page.fill("#v-date", date);
    await page.fill("#v-amount", "88.00");
    await page.fill("#v-rrn", "250110123456");
    await page.fill("#v-trace", "000321");
    await page.fill("#v-batch", "000007");
    await page.fill("#v-pan", "6222020200112233445");
    await page.fill("#refund-amount", "88.00");
    await page.fill("#refund-reason", "customer return");
    await page.click("#plan-button");
    await page.waitForSelector("#plan[data-action]");
    const plan = await planOf(page);
    assert.ok(plan.reasons.includes("NOT_IN_JOURNAL"), plan.reasons.join());
    assert.ok(plan.reasons.includes("NO_AUTH_CODE"), plan.reasons.join());
    assert.equal(plan.action, "refund", "the original route is tried first; the host decides");
    assert.equal(plan.approvals, 1, "without an auth code a supervisor approves");
    await shots(page, "voucher-plan");
    {
      await submitRefund(page, [SUPERVISOR]);
      const result = await resultOf(page, "#refund-result");
      assert.match(result.state, /^(approved|declined)$/);
      if (result.state === "declined") {
        // The host refused the original route: asking again offers the fallbacks.
        await page.click("#plan-button");
        await page.waitForFunction(() => document.querySelector("#plan").dataset.action === "fallback");
        const again = await planOf(page);
        assert.ok(again.reasons.includes("HOST_REFUSED_ROUTE"), again.reasons.join());
      }
      await shots(page, "voucher-result");
    }
  });
});
