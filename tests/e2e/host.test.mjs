// What the screen shows when the host misbehaves, and the day's other
// business: pre-authorisation and settlement.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withDemo, signedIn, sale, nav, idle, planRefund, submitRefund, listedState, shots, KIOSK, PHONE } from "./helpers.mjs";

test("a sale times out: in doubt, and the reversal goes out before the next sale", async () => {
  // A slow network, so the waiting state can be seen; the host's timeout fault.
  await withDemo({ query: "latency=700&timeout=5000" }, async (page) => {
    await signedIn(page);
    await nav(page, "tools");
    await page.selectOption("#fault-next", "timeout");
    await page.click("#inject-button");
    await page.waitForSelector('#faults[data-count="1"]');

    await nav(page, "sale");
    await page.fill("#amount", "66.00");
    await page.click("#sale-button");
    // Nothing blocks while the host is waited for: progress with the elapsed
    // time and what happens on timeout, and the list can still be opened.
    await page.waitForSelector('#progress:not([hidden])[data-message="sale"]');
    assert.match(await page.textContent("#progress-timeout"), /5/);
    await shots(page, "timeout-waiting");
    await nav(page, "transactions");
    await nav(page, "sale");
    await idle(page);
    await page.waitForSelector('#sale-result[data-state="in_doubt"] .in-doubt-note');
    const doubtful = await page.getAttribute("#sale-result", "data-id");
    await page.waitForSelector('#reversal-note:not([hidden])[data-count="1"]');
    assert.equal(await listedState(page, doubtful), "in_doubt");
    await page.waitForSelector(`#records tr[data-id="${doubtful}"] .badge[data-value="in_doubt"]`);
    await shots(page, "timeout-in-doubt");

    const next = await sale(page, "66.00");
    assert.equal(next.state, "approved");
    assert.equal(await listedState(page, doubtful), "reversed");
    await page.waitForSelector("#reversal-note[hidden]", { state: "attached" });
    // The journal order: the reversal of the doubtful sale, then the new sale.
    await nav(page, "tools");
    const order = await page.$$eval("#events li", (items) => items.reverse().map((li) => `${li.dataset.type}:${li.dataset.purpose}`));
    const reversal = order.indexOf("sent:reversal");
    const lastRequest = order.lastIndexOf("requested:");
    assert.ok(reversal >= 0, `a reversal was sent: ${order.join(" ")}`);
    assert.ok(reversal < lastRequest, `the reversal went out before the next sale: ${order.join(" ")}`);
    await shots(page, "timeout-reversed-events");

    // The detail of the doubtful sale tells its story.
    await nav(page, "transactions");
    await page.click(`#records tr[data-id="${doubtful}"]`);
    await page.waitForSelector('#history li[data-type="unanswered"]');
    await page.waitForSelector('#history li[data-purpose="reversal"]');
    await shots(page, "timeout-detail");
  });
});

test("a reply the terminal cannot read: in doubt, never declined, reversed before the next sale", async () => {
  await withDemo({}, async (page) => {
    await signedIn(page);
    await nav(page, "tools");
    await page.selectOption("#fault-next", "garbled_reply");
    await page.click("#inject-button");
    await page.waitForSelector('#faults[data-count="1"]');
    assert.match(await page.textContent("#faults"), /应答无法识别/);

    const garbled = await sale(page, "12.00");
    assert.equal(garbled.state, "in_doubt");
    await page.waitForSelector('#sale-result[data-state="in_doubt"] .in-doubt-note');
    await page.waitForSelector('#reversal-note:not([hidden])[data-count="1"]');
    const next = await sale(page, "12.00");
    assert.equal(next.state, "approved");
    assert.equal(await listedState(page, garbled.id), "reversed");
  });
});

test("a pre-authorisation completed at 115 %, not a cent more", async () => {
  await withDemo({ viewport: KIOSK }, async (page) => {
    await signedIn(page);
    await nav(page, "preauth");
    await page.fill("#preauth-amount", "200.00");
    await page.click("#preauth-button");
    await idle(page);
    await page.waitForSelector('#preauth-result[data-state="approved"]');
    const id = await page.getAttribute("#preauth-result", "data-id");
    const item = page.locator(`#preauths .card-item[data-id="${id}"]`);
    assert.equal(await item.locator(".max").textContent(), "230.00");

    await item.locator(`[data-complete-amount="${id}"]`).fill("230.01");
    await item.locator(`button[data-complete="${id}"]`).click();
    await page.waitForSelector('#error:not([hidden])[data-code="COMPLETION_EXCEEDS_TOLERANCE"]');
    await idle(page);
    await shots(page, "preauth-over-tolerance");

    await item.locator(`[data-complete-amount="${id}"]`).fill("230.00");
    await item.locator(`button[data-complete="${id}"]`).click();
    await idle(page);
    await page.waitForSelector('#preauth-result[data-state="approved"]');
    assert.match(await page.textContent("#preauth-result"), /230\.00/);
    assert.equal(await listedState(page, id), "completed");
    await nav(page, "preauth");
    await page.waitForSelector("#no-preauths:not([hidden])");
    await shots(page, "preauth-completed");
  });
});

test("a pre-authorisation is cancelled; the refund planner answers pre_auth_cancel for one", async () => {
  await withDemo({ viewport: PHONE }, async (page) => {
    await signedIn(page);
    await nav(page, "preauth");
    await page.fill("#preauth-amount", "500.00");
    await page.click("#preauth-button");
    await idle(page);
    await page.waitForSelector('#preauth-result[data-state="approved"]');
    const id = await page.getAttribute("#preauth-result", "data-id");
    const trace = await page.textContent('#preauth-result [data-field="traceNo"] dd');
    const plan = await planRefund(page, { ref: trace });
    assert.equal(plan.action, "pre_auth_cancel");
    assert.ok(plan.reasons.includes("ORIGINAL_IS_PRE_AUTH"), plan.reasons.join());
    await nav(page, "preauth");
    await page.click(`button[data-cancel-preauth="${id}"]`);
    await idle(page);
    assert.equal(await listedState(page, id), "cancelled");
    await shots(page, "preauth-cancelled");
  });
});

test("settlement shows the totals and the host's balanced verdict", async () => {
  await withDemo({}, async (page) => {
    await signedIn(page);
    const a = await sale(page, "120.00");
    await sale(page, "35.50");
    await planRefund(page, { ref: a.traceNo, amount: "20.00" });
    await submitRefund(page, [["90", "246810"]]);
    await page.waitForSelector('#refund-result[data-state="approved"]');

    await nav(page, "settlement");
    await page.click("#settle-button");
    await idle(page);
    await page.waitForSelector("#settlement-result[data-balanced]");
    assert.equal(await page.getAttribute("#settlement-result", "data-balanced"), "true");
    const debit = await page.$$eval('#settlement-result [data-total="debit"] td', (tds) => tds.map((td) => td.textContent));
    const credit = await page.$$eval('#settlement-result [data-total="credit"] td', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(debit, ["2", "155.50"]);
    assert.deepEqual(credit, ["1", "20.00"]);
    await shots(page, "settlement");

    // The batch is closed: the next sale is in the next batch.
    const next = await sale(page, "1.00");
    await nav(page, "transactions");
    const batch = await page.textContent(`#records tr[data-id="${next.id}"] [data-field="batchNo"]`);
    const closed = await page.getAttribute("#settlement-result", "data-batch-no").catch(() => null);
    assert.notEqual(batch, closed);
  });
});
