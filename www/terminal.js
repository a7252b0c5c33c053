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
  /** The name printed on receipts. */
  merchantName: "posflow 演示商户",
  /**
   * IndexedDB database of the journal: one per terminal, so a reload
   * continues the day. `?db=name` gives a test (or a second demo) its own.
   */
  storageName: params.get("db") || "posflow-demo-10000001",
  /** The simulated acquirer's seed (RRNs and auth codes). */
  acquirerSeed: 7,
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
 * The simulated acquirer, made to outlive a reload like a real host does.
 * It lives in the page, so the page keeps what it was told — each injected
 * fault and each request, in order, in localStorage next to the journal's
 * name — and a new page replays that into a fresh acquirer with the same
 * seed: its ledger (what it approved, reversed, settled) is back, so a
 * refund or a settlement after a reload meets the same host. Only the RRNs
 * and the host's clock differ (they come from the time of the replay).
 */
export function persistentAcquirer(name = config.storageName) {
  const key = `posflow.acquirer.${name}`;
  const acquirer = new SimulatedAcquirer({ seed: config.acquirerSeed });
  let log = [];
  try {
    log = JSON.parse(localStorage.getItem(key) ?? "[]");
  } catch {
    log = [];
  }
  for (const step of log) {
    try {
      if (step.inject) acquirer.inject(step.inject);
      else acquirer.send(step.send).catch(() => {}); // the outcome is in the journal already
    } catch {
      // A step this build refuses (an older log): the ledger lacks it.
    }
  }
  const append = (step) => {
    log.push(step);
    try {
      localStorage.setItem(key, JSON.stringify(log));
    } catch {
      // Quota: the host forgets on the next reload; the terminal's journal is unaffected.
    }
  };
  return {
    replayed: log.length,
    inject(fault) {
      acquirer.inject(fault); // throws on a bad fault: nothing is logged
      append({ inject: fault });
    },
    send(request) {
      append({ send: request });
      return acquirer.send(request);
    },
    statement: (terminalId) => acquirer.statement(terminalId),
    ledger: () => acquirer.ledger(),
    /** Forgets the log (a new day); the next page starts an empty host. */
    forget: () => localStorage.removeItem(key),
  };
}

/**
 * Opens the terminal on its IndexedDB journal: the day continues across
 * reloads, and what the last page left pending (a reversal first) is sent
 * before anything else. A second tab gets the journal read-only
 * (`term.readOnly`). A build without IndexedDB storage falls back to memory
 * (the screen says which). `journal` imports a backup into empty storage.
 * `onProgress` is told how a long open stands (a restore, a full replay).
 */
export async function openTerminal({ host, locale, journal, storage = "indexeddb", onProgress }) {
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
    onProgress,
  };
  if (journal !== undefined) base.journal = journal;
  if (storage === "indexeddb") {
    try {
      const term = await Terminal.open({ ...base, storage: { kind: "indexeddb", name: config.storageName } });
      return { term, storage: "indexeddb" };
    } catch (err) {
      const unsupported = err?.code === "INVALID_INPUT" && err.details?.field === "storage.kind";
      if (!unsupported && !(err?.code === "STORAGE_FAILED" && typeof indexedDB === "undefined")) throw err;
    }
  }
  const term = await Terminal.open({ ...base, storage: { kind: "memory" } });
  return { term, storage: "memory" };
}

/**
 * Checks a backup before anything is replaced: opens it in a throwaway
 * terminal in memory, behind a host that is never reached. Returns how
 * many records it holds.
 */
export async function checkBackup(journal, locale, onProgress) {
  await load();
  const offline = { send: () => Promise.reject(Object.assign(new Error("offline"), { kind: "transport_error" })) };
  const term = await Terminal.open({
    merchantId: config.merchantId,
    terminalId: config.terminalId,
    currency: config.currency,
    host: offline,
    operators: config.operators,
    policy: config.policy,
    locale,
    now: clock.now,
    storage: { kind: "memory" },
    journal,
    onProgress,
  });
  await term.close();
  term.free?.();
}

/** Deletes the journal's IndexedDB database (after `term.close()`). */
export function deleteJournal(name = config.storageName) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve("deleted");
    request.onerror = () => reject(request.error);
    // Another tab still has it open (a read-only viewer): it goes once that
    // tab closes; say so instead of waiting.
    request.onblocked = () => resolve("blocked");
  });
}
