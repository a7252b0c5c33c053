// Language switch and journal backup: both reopen the terminal from its
// journal, and the day is still there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { withDemo, signedIn, sale, nav, listedState, shots, PHONE } from "./helpers.mjs";

test("switching to English keeps the day; module messages follow the language", async () => {
  await withDemo({}, async (page) => {
    await signedIn(page);
    const first = await sale(page, "42.00");
    await page.click("#lang-switch");
    await page.waitForSelector('body[data-locale="en"][data-status="signin"]');
    assert.equal(await page.textContent("#signin-button"), "Sign in");
    await signedIn(page);
    assert.equal(await listedState(page, first.id), "approved", "the journal was replayed");
    await nav(page, "sale");
    await page.fill("#amount", "1.234");
    await page.click("#sale-button");
    await page.waitForSelector('#error[data-code="INVALID_AMOUNT"]');
    assert.match(await page.textContent("#error .message"), /[a-z]/i);
    assert.doesNotMatch(await page.textContent("#error .message"), /[\u4e00-\u9fff]/, "the message is in English");
    await shots(page, "english");
  });
});

test("a journal exported and imported into a fresh terminal brings the day back", async () => {
  let backup;
  await withDemo({ viewport: PHONE }, async (page) => {
    await signedIn(page);
    await sale(page, "12.00");
    await nav(page, "tools");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-button")]);
    assert.match(download.suggestedFilename(), /^posflow-journal-10000001-\d{4}-\d{2}-\d{2}\.json$/);
    backup = await readFile(await download.path(), "utf8");
    assert.equal(JSON.parse(backup).format, "posflow-journal/1");
    assert.ok(!backup.includes("6222020200112233445"), "no full PAN in the backup");
  });
  await withDemo({ viewport: PHONE }, async (page) => {
    await signedIn(page);
    await nav(page, "tools");
    await page.setInputFiles("#import-file", { name: "backup.json", mimeType: "application/json", buffer: Buffer.from(backup) });
    await page.waitForSelector('body[data-status="signin"]');
    await signedIn(page);
    await nav(page, "transactions");
    await page.waitForSelector('#records tr[data-state="approved"]');
    assert.equal(await page.textContent('#records tr [data-field="amount"] .money'), "12.00");
    await shots(page, "journal-imported");

    // A damaged backup is refused with its code, and the terminal carries on.
    await nav(page, "tools");
    const damaged = backup.replace("12.00", "13.00");
    await page.setInputFiles("#import-file", { name: "bad.json", mimeType: "application/json", buffer: Buffer.from(damaged) });
    await page.waitForSelector('#error:not([hidden])[data-code="JOURNAL_DAMAGED"]');
    await shots(page, "journal-damaged");
  });
});

test("a journal of 250 sales: the list shows the newest page, a search finds an older one", async () => {
  // Built in Node with the same module: 250 sales of this demo terminal.
  const { readFileSync } = await import("node:fs");
  const path = await import("node:path");
  const { repoRoot } = await import("./helpers.mjs");
  const m = await import(path.join(repoRoot, "pkg", "posflow.js"));
  m.initSync({ module: readFileSync(path.join(repoRoot, "pkg", "posflow_bg.wasm")) });
  const term = await m.Terminal.open({ merchantId: "898440350480001", terminalId: "10000001", currency: "CNY",
    storage: { kind: "memory" }, host: new m.SimulatedAcquirer({ seed: 7 }),
    operators: [{ id: "01", role: "cashier", pin: "1234" }], policy: { pinHashIterations: 1 } });
  await term.signIn({ operatorId: "01", pin: "1234" });
  for (let i = 0; i < 250; i++) {
    await term.sale({ amount: `${1 + i}.00`, card: { pan: "6222020200112233445" }, key: `bulk${i}` });
  }
  const journal = term.exportJournal();
  await term.close();

  await withDemo({}, async (page) => {
    await signedIn(page);
    await nav(page, "tools");
    // What the status line says while the backup is checked and restored.
    await page.evaluate(() => {
      window.statusSeen = [];
      // Each text set is a record of its own (the observer is told in batches).
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes) window.statusSeen.push(n.textContent);
      }).observe(document.getElementById("status"), { childList: true });
    });
    await page.setInputFiles("#import-file", { name: "bulk.json", mimeType: "application/json", buffer: Buffer.from(journal) });
    await page.waitForSelector('body[data-status="signin"]');
    const records = JSON.parse(journal).count;
    const seen = await page.evaluate(() => window.statusSeen);
    for (const stage of ["check", "replay", "save"]) {
      assert.ok(seen.some((s) => s.includes(`${records}/${records}`) && s.includes({ check: "核对", replay: "重放", save: "保存" }[stage])),
        `the ${stage} progress reached ${records}: ${JSON.stringify(seen)}`);
    }
    assert.match(await page.textContent("#status"), new RegExp(`${records}`), "the import says how many records");
    await signedIn(page);
    await nav(page, "transactions");
    await page.waitForSelector("#more-records:not([hidden])");
    assert.equal(await page.locator("#records tr").count(), 200, "the newest page");
    assert.equal(await page.textContent('#records tr [data-field="amount"] .money'), "250.00", "newest first");
    // The first sale (trace 000001) is beyond the page: a search finds it.
    await page.fill("#search", "1");
    await page.waitForFunction(() => document.querySelectorAll("#records tr").length === 1);
    assert.equal(await page.textContent('#records tr [data-field="traceNo"]'), "000001");
    assert.equal(await page.isHidden("#more-records"), true);
    // By its RRN too, and by an amount ("100" is 100.00, sale 100).
    const rrn = (await page.textContent('#records tr [data-field="rrn"]')).trim();
    await page.fill("#search", "");
    await page.waitForFunction(() => document.querySelectorAll("#records tr").length === 200);
    await page.fill("#search", rrn);
    await page.waitForFunction(() => document.querySelectorAll("#records tr").length === 1);
    assert.equal(await page.textContent('#records tr [data-field="traceNo"]'), "000001");
    await page.fill("#search", "100.0");
    await page.waitForFunction(() => document.querySelectorAll("#records tr").length === 1);
    assert.equal(await page.textContent('#records tr [data-field="amount"] .money'), "100.00");
    await page.fill("#search", "1");
    await page.waitForFunction(() => document.querySelectorAll("#records tr").length === 1);
    await page.click('#records tr');
    await page.waitForSelector('#history li[data-type="answered"]');
  });
});
