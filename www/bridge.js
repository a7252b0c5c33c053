// The Android WebView bridge: how a smart-POS shell's native code becomes
// posflow's host. posflow asks for any object with
// `send(request) → Promise<reply>`; a WebView can only pass strings to and
// from native code, so this adapter turns that promise into a call and a
// callback.
//
// The native side (Kotlin or Java) implements, through
// `webView.addJavascriptInterface(bridge, "PosBridge")`:
//
//   @JavascriptInterface
//   fun send(requestJson: String, callbackId: String)
//     Hand the request to the acquirer link and return at once (never block
//     the JS thread). The request is posflow's HostRequest as JSON:
//     { message: "sale" | "void" | "refund" | … | "settlement" | "batch_upload"
//       | "batch_upload_end", merchantId, terminalId, traceNo, batchNo, amount,
//       card: { maskedPan, method, foreign }, original, summary, upload?, sentAt }.
//
// and answers later, on the UI thread, with exactly one of:
//
//   webView.evaluateJavascript("__posflowBridge.reply('<id>', '<replyJson>')", null)
//     replyJson: { message, traceNo, amount, code, rrn, authCode, balanced, hostTime }
//     (the response code as the acquirer sent it; posflow classifies it);
//   webView.evaluateJavascript("__posflowBridge.fail('<id>', '{\"kind\":\"timeout\"}')", null)
//     kind: "timeout" | "lost_reply" | "transport_error" when the link knows
//     the request did not complete.
//
// A reply that never comes is fine: after `policy.hostTimeoutMs` the terminal
// treats the request as in doubt and reverses it before anything new. A
// reply or failure for an id that is no longer waited for is dropped.

/** The callbacks native code calls; one per page, shared by every adapter. */
function hub() {
  if (!globalThis.__posflowBridge) {
    const waiting = new Map();
    const settle = (id, json, ok) => {
      const w = waiting.get(String(id));
      if (!w) return false;
      waiting.delete(String(id));
      let value;
      try {
        value = JSON.parse(json);
      } catch {
        w.reject({ kind: "transport_error" });
        return true;
      }
      (ok ? w.resolve : w.reject)(value);
      return true;
    };
    globalThis.__posflowBridge = {
      waiting,
      next: 0,
      reply: (id, json) => settle(id, json, true),
      fail: (id, json) => settle(id, json, false),
    };
  }
  return globalThis.__posflowBridge;
}

/**
 * A posflow host over `bridge` (by default `window.PosBridge`). `onSend`
 * sees every request, for a progress display.
 */
export function bridgeHost(bridge = globalThis.PosBridge, { onSend } = {}) {
  if (!bridge || typeof bridge.send !== "function") {
    throw new TypeError("PosBridge.send(requestJson, callbackId) is missing");
  }
  const h = hub();
  return {
    kind: "bridge",
    send(request) {
      onSend?.(request);
      return new Promise((resolve, reject) => {
        const id = `posflow-${++h.next}`;
        h.waiting.set(id, { resolve, reject });
        try {
          bridge.send(JSON.stringify(request), id);
        } catch {
          h.waiting.delete(id);
          reject({ kind: "transport_error" });
        }
      });
    },
  };
}
