// The day across reloads and its end: the IndexedDB journal continuing
// after a reload in the middle of a request (the pending reversal first),
// a second tab read-only, reconciliation against the acquirer's statement,
// and the receipts of a refund at both printer widths.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  withDemo, signedIn, sale, nav, idle, planRefund, submitRefund, listedState, shots, started, watch,
  DEBIT, MASKED_DEBIT, PHONE, KIOSK,
} from "./helpers.mjs";

const RETURNED_AT_SETTLEMENT = "6228480000000073";

/** The event log (journal records), oldest first, as `type:purpose`. */
async function events(page) {
  await nav(page, "tools");
  return page.$$eval("#events li", (items) => items.reverse().map((li) => ({
    type: li.dataset.type, purpose: li.dataset.purpose, seq: Number(li.dataset.seq), text: li.textContent,
  })));
}

test("a reload while the host is waited for: the day continues and the reversal goes out first", async () => {
  // The host hangs (the simulator's transport fault) and the terminal would
  // wait 20 s: the page is reloaded long before that.
  await withDemo({ query: "latency=100&timeout=20000" }, async (page, { context, url, problems }) => {
    await signedIn(page);
    const first = await sale(page, "10.00");
    assert.equal(first.state, "approved");
    await page.waitForSelector('#storage-note[data-storage="indexeddb"][data-read-only="false"]');

    await nav(page, "tools");
    await page.selectOption("#fault-next", "hang");
    await page.click("#inject-button");
    await page.waitForSelector('#faults[data-count="1"]');
    await nav(page, "sale");
    await page.fill("#amount", "77.00");
    await page.click("#sale-button");
    await page.waitForSelector('#progress:not([hidden])[data-message="sale"]');
    await shots(page, "reload-waiting");

    await page.reload();
    await started(page);
    // Back on the same journal: the first sale is still there, and the sale
    // that was on the wire was reversed while the terminal opened.
    await page.waitForSelector('#storage-note[data-storage="indexeddb"]');
    await signedIn(page);
    await nav(page, "transactions");
    const rows = await page.$$eval("#records tr", (trs) => trs.map((tr) => ({
      id: tr.dataset.id, state: tr.dataset.state, amount: tr.querySelector('[data-field="amount"] .money').textContent,
    })));
    assert.deepEqual(rows.find((r) => r.id === first.id)?.state, "approved", JSON.stringify(rows));
    const hung = rows.find((r) => r.amount === "77.00");
    assert.ok(hung, `the interrupted sale is in the journal: ${JSON.stringify(rows)}`);
    assert.equal(hung.state, "reversed");
    await page.waitForSelector("#reversal-note[hidden]", { state: "attached" });
    await shots(page, "reload-continued");

    // The next sale goes out after the reversal, never before it.
    const next = await sale(page, "77.00");
    assert.equal(next.state, "approved");
    const log = await events(page);
    const hungSeq = Number(hung.id.slice(1));
    const reversal = log.findIndex((e) => e.type === "sent" && e.purpose === "reversal");
    const nextRequest = log.findIndex((e) => e.seq === Number(next.id.slice(1)));
    assert.ok(log.some((e) => e.seq === hungSeq && e.type === "requested"), "the interrupted sale was journaled before it was sent");
    assert.ok(reversal >= 0, `a reversal was sent: ${log.map((e) => `${e.type}:${e.purpose}`).join(" ")}`);
    assert.ok(reversal < nextRequest, `the reversal went out before the next sale: ${log.map((e) => `${e.type}:${e.purpose}`).join(" ")}`);
    await shots(page, "reload-events");

    // A second tab on the same journal only reads.
    const second = await context.newPage();
    watch(second, problems);
    await second.goto(url);
    await started(second);
    await second.waitForSelector('#storage-note[data-read-only="true"]');
    assert.match(await second.textContent("#storage-note"), /只读/);
    await second.selectOption("#signin-operator", "01");
    await second.fill("#signin-pin", "1234");
    await second.click("#signin-button");
    await second.waitForSelector('#error:not([hidden])[data-code="READ_ONLY"]');
    // It shows the day, and refuses to start anything.
    await second.waitForSelector(`body[data-screen="transactions"] #records tr[data-id="${next.id}"]`);
    await nav(second, "sale");
    await second.click("#sale-button");
    await second.waitForSelector('#error:not([hidden])[data-code="READ_ONLY"]');
    await shots(second, "reload-second-tab-read-only");
    await second.close();
  });
});

test("reconciliation shows a 'successful' sale whose money the issuer returned", async () => {
  await withDemo({}, async (page) => {
    await signedIn(page);
    const returned = await sale(page, "88.00", RETURNED_AT_SETTLEMENT);
    assert.equal(returned.state, "approved", "the terminal saw success");
    const good = await sale(page, "20.00");
    await nav(page, "settlement");
    await page.click("#settle-button");
    await idle(page);
    await page.waitForSelector('#settlement-result[data-balanced="true"]');

    await nav(page, "reconcile");
    await page.click("#fetch-statement");
    await idle(page);
    await page.waitForSelector('#reconcile[data-balanced="false"]');
    const section = page.locator('#reconcile section[data-category="returned_or_reversed"]');
    const row = section.locator(`tr[data-txn="${returned.id}"]`);
    assert.equal(await row.getAttribute("data-finding"), "returned");
    assert.match(await row.locator('[data-field="acquirerStatus"]').textContent(), /已退回/);
    assert.match(await row.locator('[data-field="nextStep"]').textContent(), /退回/);
    const summaryRow = page.locator('#reconcile .recon-summary tr[data-category="returned_or_reversed"]');
    assert.equal(await summaryRow.getAttribute("data-count"), "1");
    assert.match(await summaryRow.locator('[data-field="terminalAmount"]').textContent(), /88\.00/);
    assert.equal(await page.textContent('#reconcile [data-field="unexplained"] dd'), "1");
    assert.equal(await page.getAttribute(`#reconcile section[data-category="matched"] tr[data-txn="${good.id}"]`, "data-finding"), "agreed");
    // Every category is listed, empty or not.
    assert.equal(await page.locator("#reconcile .recon-summary tbody tr").count(), 9);
    await shots(page, "reconcile-returned");

    // The next step follows the language.
    await page.click("#lang-switch");
    await page.waitForSelector('body[data-locale="en"][data-status="signin"]');
    await signedIn(page);
    await nav(page, "reconcile");
    assert.match(await page.textContent(`#reconcile tr[data-txn="${returned.id}"] [data-field="nextStep"]`), /money came back/);
  });
});

test("reconciliation reads an uploaded CSV statement: a line the terminal never saw", async () => {
  await withDemo({ viewport: PHONE }, async (page) => {
    await signedIn(page);
    const s = await sale(page, "35.00");
    const csv = [
      "交易日期,交易时间,商户编号,终端编号,批次号,凭证号,参考号,授权码,卡号,交易类型,交易金额,手续费,清算状态",
      `20000101,120000,898440350480001,10000001,000001,${s.traceNo},${s.rrn},${s.authCode},${MASKED_DEBIT},消费,35.00,0.13,已清算`,
      `20000101,120500,898440350480001,10000001,000001,000777,999999000777,123456,${MASKED_DEBIT},消费,12.00,0.05,已清算`,
    ].join("\r\n");
    await nav(page, "reconcile");
    await page.setInputFiles("#statement-file", { name: "statement.csv", mimeType: "text/csv", buffer: Buffer.from(`\ufeff${csv}`) });
    await idle(page);
    await page.waitForSelector('#reconcile[data-balanced="false"]');
    await page.waitForSelector(`#reconcile section[data-category="matched"] tr[data-txn="${s.id}"]`);
    const only = page.locator('#reconcile section[data-category="acquirer_only"] tbody tr');
    assert.equal(await only.count(), 1);
    assert.equal(await only.getAttribute("data-trace-no"), "000777");
    assert.match(await page.textContent("#reconcile"), /statement\.csv/);
    await shots(page, "reconcile-csv");

    // A malformed file is refused with its code.
    await page.setInputFiles("#statement-file", { name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from("date,amount\nx,y\n") });
    await page.waitForSelector('#error:not([hidden])[data-code="STATEMENT_MALFORMED"]');
  });
});

/** Printer columns: CJK and full-width characters take two. */
function columns(line) {
  let n = 0;
  for (const ch of line) {
    const c = ch.codePointAt(0);
    const wide = (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6);
    n += wide ? 2 : 1;
  }
  return n;
}

test("the receipts of a refund at 58 mm and 80 mm: fixed widths, masked card, printable", async () => {
  await withDemo({ viewport: KIOSK }, async (page) => {
    await signedIn(page);
    const original = await sale(page, "100.00");
    await planRefund(page, { ref: original.traceNo, amount: "30.00", reason: "退货 return" });
    await submitRefund(page, [["90", "246810"]]);
    await page.waitForSelector('#refund-result[data-state="approved"]');
    const refundId = await page.getAttribute("#refund-result", "data-id");

    await nav(page, "transactions");
    await page.click(`#records tr[data-id="${refundId}"]`);
    await page.click("#detail-receipt");
    await page.waitForSelector(`body[data-screen="receipts"] #receipts[data-id="${refundId}"]`);
    const slips = await page.$$eval("#receipts .slip-box", (boxes) => boxes.map((b) => ({
      copy: b.dataset.copy, width: Number(b.dataset.width), text: b.querySelector("pre").textContent,
    })));
    assert.deepEqual(slips.map((s) => `${s.copy}/${s.width}`), ["merchant/32", "cardholder/32", "merchant/48", "cardholder/48"]);
    for (const slip of slips) {
      const lines = slip.text.split("\n");
      const widths = lines.map(columns);
      const over = lines.filter((l, i) => widths[i] > slip.width);
      assert.deepEqual(over, [], `${slip.copy}/${slip.width}: lines wider than ${slip.width} columns`);
      assert.ok(widths.includes(slip.width), `${slip.copy}/${slip.width}: some line fills the paper (${Math.max(...widths)})`);
      assert.ok(!slip.text.includes(DEBIT), `${slip.copy}/${slip.width}: no full PAN`);
      assert.ok(!/\d{13,19}/.test(slip.text.replace(/\s/g, "").replace(/\d{12}(?!\d)/g, "")) || slip.text.includes(MASKED_DEBIT));
      assert.ok(slip.text.includes(MASKED_DEBIT), `${slip.copy}/${slip.width}: the masked card number`);
      assert.match(slip.text, /退货/);
      assert.match(slip.text, /30\.00/);
      assert.match(slip.text, slip.copy === "merchant" ? /商户存根/ : /持卡人存根/);
    }
    await shots(page, "receipt-refund");

    // Real printing goes through the module's HTML and its print CSS.
    await page.click('button[data-print="cardholder-32"]');
    await page.waitForSelector('#print-frame[data-loaded="cardholder-32"]');
    const html = await page.$eval("#print-frame", (f) => f.srcdoc);
    assert.match(html, /@page\s*\{\s*size:\s*58mm/);
    assert.ok(!html.includes(DEBIT));
    await page.click('button[data-print="merchant-48"]');
    await page.waitForSelector('#print-frame[data-loaded="merchant-48"]');
    assert.match(await page.$eval("#print-frame", (f) => f.srcdoc), /80mm/);

    // A reprint, with the credit as a negative amount.
    await page.check("#receipt-reprint");
    await page.check("#receipt-negative");
    await page.waitForFunction(() => /REPRINT/.test(document.querySelector("#receipts pre").textContent));
    assert.match(await page.textContent('#receipts .slip-box[data-copy="merchant"][data-width="32"] pre'), /-30\.00/);
    await shots(page, "receipt-refund-reprint");
  });
});
