// The basics of the POS screen: sign-in with lockout, a sale, a refused amount.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withDemo, signIn, signedIn, sale, shots, pageText, DEBIT, MASKED_DEBIT, PHONE, nav } from "./helpers.mjs";

test("a sale shows one approved record with a masked PAN, at every layout", async () => {
  await withDemo({}, async (page) => {
    await signedIn(page);
    assert.equal(await page.inputValue("#amount"), "100.00", "the amount field starts at 100.00");
    // The keypad types into the amount.
    await page.click('#screen-sale .keypad [data-key="C"]');
    for (const key of ["8", "8", ".", "8", "0"]) await page.click(`#screen-sale .keypad [data-key="${key}"]`);
    assert.equal(await page.inputValue("#amount"), "88.80");
    await page.click("#sale-button");
    await page.waitForSelector('#sale-result[data-state="approved"]');
    const result = await page.$eval("#sale-result", (b) => b.textContent);
    assert.match(result, /88\.80/);
    assert.match(result, new RegExp(MASKED_DEBIT.replace(/\*/g, "\\*")));
    await shots(page, "sale");
    await nav(page, "transactions");
    const row = page.locator("#records tr").first();
    assert.equal(await row.getAttribute("data-state"), "approved");
    assert.equal(await row.locator('[data-field="amount"] .money').textContent(), "88.80");
    assert.match(await row.locator('[data-field="traceNo"]').textContent(), /^\d{6}$/);
    assert.match(await row.locator('[data-field="rrn"]').textContent(), /^[0-9A-Za-z]{12}$/);
    assert.match(await row.locator('[data-field="authCode"]').textContent(), /^[0-9A-Za-z]{6}$/);
    assert.equal(await row.locator('[data-field="maskedPan"]').textContent(), MASKED_DEBIT);
    assert.ok(!(await pageText(page)).includes(DEBIT), "the full PAN must not appear in the page");
    await shots(page, "transactions");
  });
});

test("an amount with too many decimals shows INVALID_AMOUNT and adds no record", async () => {
  await withDemo({ viewport: PHONE }, async (page) => {
    await signedIn(page);
    await page.fill("#amount", "10.001");
    await page.click("#sale-button");
    await page.waitForSelector('#error:not([hidden])[data-code="INVALID_AMOUNT"]');
    assert.match(await page.textContent("#error"), /INVALID_AMOUNT/);
    await shots(page, "invalid-amount");
    const good = await sale(page, "88.80");
    assert.equal(good.state, "approved");
    assert.equal(await page.isVisible("#error"), false, "the next good sale clears the error");
  });
});

test("wrong PINs count down and lock the operator (OPERATOR_LOCKED)", async () => {
  await withDemo({ query: "latency=30&lang=en" }, async (page) => {
    for (let left = 4; left >= 1; left -= 1) {
      await signIn(page, "02", "0000");
      await page.waitForSelector(`#error[data-code="WRONG_PIN"] [data-attempts-left="${left}"]`);
    }
    await signIn(page, "02", "0000");
    await page.waitForSelector('#error[data-code="OPERATOR_LOCKED"] [data-locked-until]');
    await signIn(page, "02", "4321");
    await page.waitForSelector('#error[data-code="OPERATOR_LOCKED"]');
    assert.equal(await page.getAttribute("body", "data-status"), "signin", "a locked operator stays out");
    await shots(page, "signin-locked");
    await signedIn(page, "01", "1234");
  });
});
