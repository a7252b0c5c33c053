// Settlement the host disagrees with. The page's way to make the terminal
// and the simulated acquirer disagree: an offline pre-auth completion
// (advice) that the host refuses without booking it (the simulator's
// "decline" fault on the advice). The terminal has already given the goods
// and counts the completion; the host's ledger lacks it, so the settlement
// comes back unbalanced.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withDemo, signedIn, nav, idle, sale, shots, PHONE } from "./helpers.mjs";

test("settlement unbalanced then uploaded", async () => {
  await withDemo({ viewport: PHONE }, async (page) => {
    await signedIn(page);
    await sale(page, "15.00");
    await nav(page, "preauth");
    await page.fill("#preauth-amount", "200.00");
    await page.click("#preauth-button");
    await idle(page);
    await page.waitForSelector('#preauth-result[data-state="approved"]');
    const preAuth = await page.getAttribute("#preauth-result", "data-id");

    // The host will refuse the advice (05) without booking it.
    await nav(page, "tools");
    await page.selectOption("#fault-next", "decline");
    await page.fill("#fault-code", "05");
    await page.click("#inject-button");
    await page.waitForSelector('#faults[data-count="1"]');

    await nav(page, "preauth");
    const item = page.locator(`#preauths .card-item[data-id="${preAuth}"]`);
    await item.locator(`[data-complete-amount="${preAuth}"]`).fill("230.00");
    await item.locator(`[data-advice="${preAuth}"]`).check();
    await item.locator(`button[data-complete="${preAuth}"]`).click();
    await idle(page);
    await page.waitForSelector('#preauth-result[data-state="approved"]');
    const completion = await page.getAttribute("#preauth-result", "data-id");

    await nav(page, "settlement");
    await page.click("#settle-button");
    await idle(page);
    await page.waitForSelector("#settlement-result[data-balanced]");
    // The advice went out first (before the settlement) and was refused;
    // the terminal keeps the completion.
    await page.waitForSelector('#faults[data-count="0"]', { state: "attached" });
    const debit = await page.$$eval('#settlement-result [data-total="debit"] td', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(debit, ["2", "245.00"], "the terminal counts the sale and the completion");
    assert.equal(await page.getAttribute("#settlement-result", "data-balanced"), "false");
    await shots(page, "settlement-unbalanced");

    // The acquirer's statement: the batch settled unbalanced.
    await nav(page, "reconcile");
    await page.click("#fetch-statement");
    await idle(page);
    await page.waitForSelector("#reconcile[data-balanced]");
    await shots(page, "settlement-unbalanced-reconcile");
    const category = await page.getAttribute(`#reconcile tr[data-txn="${completion}"]`, "data-category");
    assert.equal(category, "terminal_only", "the host never booked the completion");
  });
});
