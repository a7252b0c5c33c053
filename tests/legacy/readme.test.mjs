// The README's "JavaScript API" block, run as written in Chromium against
// the main build in pkg/ (an import map resolves "posflow"). Needs
// `scripts/build.sh main` and /usr/bin/chromium.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../../scripts/chromium.mjs";
import { startServer } from "../../scripts/serve.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The first ```js block after the "## JavaScript API" heading. */
function readmeExample() {
  const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## JavaScript API"));
  const match = section.match(/```js\n([\s\S]*?)```/);
  assert.ok(match, "README.md has no js block under ## JavaScript API");
  return match[1];
}

let server;
let browser;
let baseUrl;

before(async () => {
  server = await startServer({ port: 0, host: "127.0.0.1" });
  baseUrl = `http://127.0.0.1:${server.address().port}/`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
});

test("the README's API example runs as written", async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  const module = `${readmeExample()}
window.__readme = { sale, refund, report, backup, events, code: error && error.code, name: error && error.name,
  action: plan.action, voucher, balanced: rec.summary.balanced,
  restored: restored.exportJournal() === backup, progress };`;
  await page.route("**/readme.html", (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<!doctype html><script type="importmap">{"imports":{"posflow":"/pkg/posflow.js"}}</script>
<script type="module">${module}</script>`,
    }),
  );
  await page.goto(`${baseUrl}readme.html`);
  await page.waitForFunction(() => window.__readme || false, null, { timeout: 20000 }).catch(() => {});
  assert.deepEqual(problems, []);
  const r = await page.evaluate(() => window.__readme);
  assert.ok(r, "the example did not finish");
  assert.equal(r.sale.state, "approved"); // as it was when returned
  assert.equal(r.sale.maskedPan, "622202*********3445");
  assert.equal(r.refund.amount, "30.00");
  assert.equal(r.action, "refund");
  assert.ok(r.voucher.some((line) => line.includes("退货")), r.voucher.join("\n"));
  assert.equal(r.balanced, true);
  assert.equal(r.name, "PosError");
  assert.equal(r.code, "INVALID_INPUT");
  assert.equal(r.report.debitAmount, "100.00");
  assert.equal(r.report.creditAmount, "30.00");
  assert.ok(r.backup.startsWith('{"format":"posflow-journal/1"'));
  assert.equal(r.restored, true, "the backup restores");
  const count = JSON.parse(r.backup).count;
  assert.equal(r.progress.at(-1), `save ${count}/${count}`, r.progress.join());
  assert.ok(r.progress.includes(`replay ${count}/${count}`), r.progress.join());
  assert.ok(r.events.includes("requested") && r.events.includes("settlement_sent"), r.events.join());
  await page.close();
});
