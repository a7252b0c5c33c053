// Settlement the host disagrees with. The page's way to make the terminal
// and the simulated acquirer disagree: an offline pre-auth completion
// (advice) that the host refuses without booking it (the simulator's
// "decline" fault on the advice). The terminal has already given the goods
// and counts the completion; the host's ledger lacks it, so the settlement
// comes back unbalanced, and the terminal uploads the batch (批上送).
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
    // 不平: the terminal uploaded the batch, and the batch closed on its records.
    assert.equal(await page.getAttribute("#settlement-result", "data-uploaded"), "true");
    await page.waitForSelector("#settlement-result .uploaded-note");
    await shots(page, "settlement-unbalanced-uploaded");

    // The journal shows the settlement, then the upload chunks and their end.
    await nav(page, "tools");
    const purposes = await page.$$eval("#events li", (items) => items.reverse().map((li) => `${li.dataset.type}:${li.dataset.purpose}`));
    const settlement = purposes.indexOf("settlement_sent:");
    const upload = purposes.findIndex((p) => /:upload$/.test(p));
    const end = purposes.findIndex((p) => /:upload_end$/.test(p));
    assert.ok(settlement >= 0 && settlement < upload && upload < end, `settlement, upload, end: ${purposes.join(" ")}`);

    // The acquirer now holds the completion the advice never booked.
    await nav(page, "reconcile");
    await page.click("#fetch-statement");
    await idle(page);
    await page.waitForSelector("#reconcile[data-balanced]");
    await shots(page, "settlement-uploaded-reconcile");
    assert.equal(await page.getAttribute(`#reconcile tr[data-txn="${completion}"]`, "data-category"), "matched");
    assert.equal(await page.getAttribute("#reconcile", "data-balanced"), "true", await page.textContent("#reconcile"));

    // The next sale is in the next batch.
    const next = await sale(page, "1.00");
    assert.equal(next.state, "approved");
  });
});
