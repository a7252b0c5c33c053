// The Android WebView bridge (www/bridge.js): with a `window.PosBridge` the
// demo's host is native code. Here the "native" side is a fake that answers
// through the documented callbacks (`__posflowBridge.reply` / `.fail`) from a
// simulated acquirer of its own, as a Kotlin shell would from its link.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withDemo, signedIn, sale, MASKED_DEBIT, COUNTER, PHONE, shotDir } from "./helpers.mjs";
import path from "node:path";

/** Runs in the page before its scripts: the fake native bridge. */
function fakeNative() {
  window.__bridgeLog = [];
  let host;
  window.PosBridge = {
    send(requestJson, callbackId) {
      const request = JSON.parse(requestJson);
      window.__bridgeLog.push(request.message);
      // Native code answers later, never inside send().
      setTimeout(async () => {
        const { SimulatedAcquirer } = await import("/pkg/posflow.js");
        host ??= new SimulatedAcquirer({ seed: 3 });
        if (window.__bridgeFailNext) {
          window.__bridgeFailNext = false;
          window.__posflowBridge.fail(callbackId, JSON.stringify({ kind: "timeout" }));
          return;
        }
        const reply = await host.send(request);
        window.__posflowBridge.reply(callbackId, JSON.stringify(reply));
      }, 20);
    },
  };
}

test("a smart-POS shell's native bridge is the host: a sale, and a failed link is in doubt then reversed", async () => {
  for (const [name, viewport] of [["counter", COUNTER], ["phone", PHONE]]) {
    await withDemo({ viewport, init: fakeNative }, async (page) => {
      await signedIn(page);
      const first = await sale(page, "25.00");
      assert.equal(first.state, "approved");
      assert.equal(first.maskedPan, MASKED_DEBIT);
      // The link reports a timeout: in doubt, never declined; the reversal
      // goes over the bridge before the next sale.
      await page.evaluate(() => (window.__bridgeFailNext = true));
      const second = await sale(page, "30.00");
      assert.equal(second.state, "in_doubt");
      const third = await sale(page, "40.00");
      assert.equal(third.state, "approved");
      const log = await page.evaluate(() => window.__bridgeLog);
      assert.deepEqual(log, ["sale", "sale", "reversal", "sale"]);
      await page.screenshot({ path: path.join(shotDir, `bridge-${name}.png`) });
    });
  }
});
