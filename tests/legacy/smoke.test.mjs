// The legacy build (pkg/legacy/: pure-MVP wasm, no-modules glue lowered to
// chrome57) loads in Chromium with the browser APIs that Chrome/WebView 57
// lacks taken away, and runs a shift against the SimulatedAcquirer: sign in,
// a sale, a timeout left in doubt, its reversal first, storage in
// localStorage without Web Locks. Needs `scripts/build.sh` (pkg/legacy/) and
// /usr/bin/chromium. Run: node --test tests/legacy/*.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../../scripts/chromium.mjs";
import { startServer } from "../../scripts/serve.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

let server;
let browser;
let baseUrl;

before(async () => {
  for (const f of ["posflow.js", "posflow_bg.wasm"]) {
    assert.ok(
      existsSync(path.join(repoRoot, "pkg", "legacy", f)),
      `pkg/legacy/${f} is missing: run scripts/build.sh legacy`,
    );
  }
  server = await startServer({ port: 0, host: "127.0.0.1" });
  baseUrl = `http://127.0.0.1:${server.address().port}/`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
});

// Globals that arrived after Chrome 57, removed before the glue loads, so a
// use of one without a fallback fails here as it would on the device.
const OLD_WEBVIEW = `
  for (const name of ["queueMicrotask", "FinalizationRegistry", "WeakRef",
                      "structuredClone", "AggregateError"]) {
    delete globalThis[name];
  }
  delete Navigator.prototype.locks;
  delete StorageManager.prototype.persist;
`;

test("the legacy build runs a sale, a reversal and a reopen like the main one", async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  const warnings = [];
  page.on("console", (m) => m.type() === "warning" && warnings.push(m.text()));
  await page.addInitScript(OLD_WEBVIEW);
  await page.route("**/legacy-smoke.html", (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>legacy</title>" }),
  );
  await page.goto(`${baseUrl}legacy-smoke.html`);
  await page.addScriptTag({ url: "/pkg/legacy/posflow.js" });

  const result = await page.evaluate(async () => {
    await wasm_bindgen({ module_or_path: "/pkg/legacy/posflow_bg.wasm" });
    const { Terminal, SimulatedAcquirer } = wasm_bindgen;
    const sent = [];
    const sim = new SimulatedAcquirer({ seed: 7 });
    const host = { send: (r) => (sent.push(r.message), sim.send(r)) };
    const config = {
      merchantId: "898440350480001", terminalId: "10000001", currency: "CNY",
      storage: { kind: "localstorage", key: "legacy-smoke" }, host, locale: "en",
      policy: { pinHashIterations: 1000 },
      operators: [{ id: "01", role: "cashier", pin: "1234" }],
    };
    const term = await Terminal.open(config);
    await term.signIn({ operatorId: "01", pin: "1234" });
    const sale = await term.sale({ amount: "88.80", card: { pan: "6222020200112233445" }, key: "k1" });
    sim.inject({ next: "timeout" });
    const doubt = await term.sale({ amount: "10.00", card: { pan: "6222020200112233445" }, key: "k2" });
    const next = await term.sale({ amount: "20.00", card: { pan: "6222020200112233445" }, key: "k3" });
    let code;
    try {
      await term.sale({ amount: 1.5, card: { pan: "6222020200112233445" }, key: "k4" });
    } catch (e) {
      code = `${e.name} ${e.code}`;
    }
    const journal = term.exportJournal();
    await term.close();
    const again = await Terminal.open(config);
    return {
      sale: [sale.state, sale.amount, sale.maskedPan],
      doubt: doubt.state,
      next: next.state,
      sent,
      code,
      states: again.transactions().map((t) => t.state),
      sameJournal: again.exportJournal() === journal,
      readOnly: again.readOnly,
    };
  });
  assert.deepEqual(result.sale, ["approved", "88.80", "622202*********3445"]);
  assert.equal(result.doubt, "in_doubt");
  assert.equal(result.next, "approved");
  assert.deepEqual(result.sent, ["sale", "sale", "reversal", "sale"]);
  assert.equal(result.code, "PosError INVALID_INPUT");
  assert.deepEqual(result.states, ["approved", "reversed", "approved"]);
  assert.equal(result.sameJournal, true);
  assert.equal(result.readOnly, false);
  assert.ok(warnings.some((w) => w.includes("navigator.locks is not available")), warnings.join("\n"));
  assert.deepEqual(problems, []);
  await page.close();
});
