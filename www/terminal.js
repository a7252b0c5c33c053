// How the POS screen opens posflow: the terminal's configuration, the host
// transport (the simulated acquirer behind a network with latency), the
// clock, and the storage. A page that embeds posflow does the same with its
// own host object and operators.
import init, { Terminal, SimulatedAcquirer } from "/pkg/posflow.js";

const params = new URLSearchParams(location.search);

function numberParam(name, fallback, min, max) {
  const raw = params.get(name);
  const n = raw === null ? NaN : Number(raw);
  return Number.isFinite(n) && n >= min && n <= max ? n : fallback;
}

export const config = {
  merchantId: "898440350480001",
  terminalId: "10000001",
  currency: "CNY",
  /** Demo staff; the PINs are shown on the sign-in screen because this is a demo. */
  operators: [
    { id: "01", role: "cashier", pin: "1234" },
    { id: "02", role: "cashier", pin: "4321" },
    { id: "90", role: "supervisor", pin: "246810" },
    { id: "91", role: "supervisor", pin: "135790" },
  ],
  /** Policy overrides: how long the terminal waits for the host (`?timeout=ms`). */
  policy: { hostTimeoutMs: numberParam("timeout", 15000, 1000, 120000) },
  /** The completion tolerance of the default policy, for the "up to" hint. */
  completionTolerancePercent: "115",
  /** IndexedDB database of the journal, when the build has that storage. */
  storageName: params.get("db") || "posflow-demo",
};

/**
 * The terminal's clock: real time plus an offset the simulator panel (or a
 * test, through `window.__posflowClock` or `?clock=2025-03-01T10:00`) moves
 * forward to show refund windows passing and refunds going overdue. The
 * offset survives a reload of the tab (sessionStorage).
 */
export const clock = (() => {
  let offsetMs = Number(sessionStorage.getItem("posflow.clockOffsetMs")) || 0;
  const start = params.get("clock");
  if (start !== null && !sessionStorage.getItem("posflow.clockFromUrl")) {
    const at = new Date(start).getTime();
    if (Number.isFinite(at)) offsetMs = at - Date.now();
    sessionStorage.setItem("posflow.clockFromUrl", "1");
  }
  const listeners = [];
  const save = () => {
    sessionStorage.setItem("posflow.clockOffsetMs", String(offsetMs));
    for (const f of listeners) f();
  };
  return {
    now: () => Date.now() + offsetMs,
    offsetMs: () => offsetMs,
    advance(ms) {
      offsetMs += ms;
      save();
    },
    advanceDays(days) {
      offsetMs += days * 86_400_000;
      save();
    },
    onChange: (f) => listeners.push(f),
  };
})();

/**
 * The host as the terminal sees it: `send(request) → Promise<reply>`. Here
 * the simulated acquirer behind a network with latency (`?latency=ms`), plus
 * a "hang" fault the acquirer cannot make: a host that never answers, so the
 * terminal's own timeout decides. `onSend` tells the screen what is on the
 * wire.
 */
export function makeTransport(acquirer, { onSend, onSettled }) {
  let latencyMs = numberParam("latency", 600, 0, 20000);
  const queued = [];
  return {
    get latencyMs() {
      return latencyMs;
    },
    set latencyMs(ms) {
      latencyMs = ms;
    },
    /** Faults queued for the next requests, oldest first, as labels. */
    queued,
    inject(fault) {
      queued.push(fault.next);
      if (fault.next !== "hang") acquirer.inject(fault);
    },
    send(request) {
      onSend(request);
      const fault = queued.shift();
      if (fault === "hang") return new Promise(() => {});
      return new Promise((resolve) => setTimeout(resolve, latencyMs))
        .then(() => acquirer.send(request))
        .finally(() => onSettled(request));
    },
  };
}

/** Loads the wasm module once. */
let loaded;
export function load() {
  loaded ??= init();
  return loaded;
}

export { Terminal, SimulatedAcquirer };

/**
 * Opens the terminal. IndexedDB keeps the day across reloads when this build
 * of posflow has it; otherwise memory (the screen says which). `journal`
 * imports a backup.
 */
export async function openTerminal({ host, locale, journal }) {
  await load();
  const base = {
    merchantId: config.merchantId,
    terminalId: config.terminalId,
    currency: config.currency,
    host,
    operators: config.operators,
    policy: config.policy,
    locale,
    now: clock.now,
  };
  if (journal !== undefined) base.journal = journal;
  try {
    const term = await Terminal.open({ ...base, storage: { kind: "indexeddb", name: config.storageName } });
    return { term, storage: "indexeddb" };
  } catch (err) {
    // A build without IndexedDB storage refuses the storage object itself:
    // either its kind, or (older) the `name` field it does not know.
    const found = err?.details?.found ?? "";
    const unsupported = err?.code === "INVALID_INPUT" &&
      (err.details?.field === "storage.kind" || /unknown field `name`/.test(found));
    if (!unsupported) throw err;
  }
  const term = await Terminal.open({ ...base, storage: { kind: "memory" } });
  return { term, storage: "memory" };
}
