// The browser half of `make bench` (bench/run.mjs drives it with Playwright):
// posflow through its JS API, the floors (a bare strict IndexedDB put, an
// empty wasm-bindgen call) and the plain-JS peer, on the same operations.
// Every step returns plain figures; the runner prints them with their ratios.
import init, { Terminal, SimulatedAcquirer } from "/pkg/posflow.js";
import { PeerTerminal, PeerHost } from "./peer.mjs";

const log = (...a) => console.log("[page]", ...a);
const PAN = "6222020200112233445";
const SUP = { operatorId: "90", pin: "246810" };

/** The bench terminal's config. PIN hashing at 1 iteration, as in the
 *  native benches: the figures are the engine's, not PBKDF2's (a refund
 *  checks the supervisor's PIN). */
function config(storage, extra = {}) {
  return { ...plainConfig(storage), host: new SimulatedAcquirer({ seed: 9 }), ...extra };
}

/** The config without its host: plain data (JSON). */
function plainConfig(storage) {
  return {
    merchantId: "898440350480001", terminalId: "10000001", currency: "CNY",
    storage, locale: "en",
    operators: [{ id: "01", role: "cashier", pin: "1234" },
                { id: "90", role: "supervisor", pin: "246810" },
                { id: "91", role: "supervisor", pin: "135790" }],
    policy: { pinHashIterations: 1 },
  };
}

const amountOf = (i) => `${1 + (i % 500)}.${String(i % 100).padStart(2, "0")}`;

export async function setup() {
  await init();
  return { userAgent: navigator.userAgent };
}

async function deleteDb(name) {
  await new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = resolve; r.onerror = () => reject(r.error); r.onblocked = resolve;
  });
}

const journals = {};   // records → export text
let bigRows;           // its entries as IndexedDB rows (entry JSON text)
let bigTerm;           // the memory terminal that made it (reconcile runs on it)

/** Runs sales on a memory terminal until the journal holds `max` records
 *  and keeps exports cut at each size in `sizes` (a prefix of a hash chain
 *  is a valid journal). */
export async function makeJournals(sizes, minSales = 0) {
  const max = Math.max(...sizes);
  const t0 = performance.now();
  const term = await Terminal.open(config({ kind: "memory" }));
  await term.signIn({ operatorId: "01", pin: "1234" });
  const base = JSON.parse(term.exportJournal()).count;
  await term.sale({ amount: "1.00", card: { pan: PAN }, key: "g0" });
  const perSale = JSON.parse(term.exportJournal()).count - base;
  const sales = Math.max(minSales, Math.ceil((max - base) / perSale));
  for (let i = 1; i < sales; i++) {
    await term.sale({ amount: amountOf(i), card: { pan: PAN }, key: `g${i}` });
  }
  const text = term.exportJournal();
  bigTerm = term;
  // Parsed here only: kept, its object tree (several hundred MB) would
  // be the page's garbage collector's work in every later figure.
  const bigExport = JSON.parse(text);
  // The rows src/storage.rs writes are each entry's JSON; joined, they are
  // the export's entries, byte for byte (what an open from a snapshot
  // relies on to export without the core holding the history).
  bigRows = bigExport.entries.map((e) => JSON.stringify(e));
  const head = `{"format":"${bigExport.format}","count":${bigExport.count},"head":"${bigExport.head}","entries":[`;
  if (head + bigRows.join(",") + "]}" !== text) throw new Error("rows joined are not the export");
  for (const n of sizes) {
    const entries = bigExport.entries.slice(0, n);
    journals[n] = JSON.stringify({ format: bigExport.format, count: n, head: entries[n - 1].hash, entries });
  }
  return { ms: performance.now() - t0, sales, recordsPerSale: perSale, bytes: Object.fromEntries(sizes.map((n) => [n, journals[n].length])) };
}

/** Writes the first `n` entries of the big journal as IndexedDB rows the
 *  way src/storage.rs stores them: database `name` at version 1 (the
 *  `journal` store only, as before snapshots: the first open upgrades it),
 *  each entry's JSON text keyed by its `seq`. */
async function prefillIdb(name, n) {
  await deleteDb(name);
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore("journal");
    r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error);
  });
  for (let from = 0; from < n; from += 10_000) {
    await new Promise((resolve, reject) => {
      const tx = db.transaction("journal", "readwrite", { durability: "relaxed" });
      const store = tx.objectStore("journal");
      for (let seq = from; seq < Math.min(n, from + 10_000); seq++) store.add(bigRows[seq], seq);
      tx.oncomplete = resolve; tx.onerror = tx.onabort = () => reject(tx.error);
    });
  }
  db.close();
}

/** One `Terminal.open(cfg)` (restoring `journal` when given) with the
 *  page's task loop ticking beside it: its time and the longest block.
 *  The terminal is closed when `close`, else returned. */
async function probedOpen(cfg, journal, close = false) {
  const probe = blockProbe();
  const t0 = performance.now();
  const term = await Terminal.open(journal ? { ...cfg, journal } : cfg);
  const ms = performance.now() - t0;
  const blockedMs = probe.stop();
  if (term.readOnly) throw new Error("bench terminal opened read-only");
  if (close) await term.close();
  return { term: close ? null : term, ms, blockedMs };
}

async function timeOpen(storage, journal, reps) {
  try {
    return await timeOpenOrThrow(storage, journal, reps);
  } catch (e) {
    return { refused: `${e.code ?? e.name}: ${e.message}` };
  }
}

async function timeOpenOrThrow(storage, journal, reps) {
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const term = await Terminal.open(config(storage, journal ? { journal } : {}));
    times.push(performance.now() - t0);
    if (term.readOnly) throw new Error("bench terminal opened read-only");
    await term.close();
  }
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1], min: times[0], reps };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Ticks a task loop (MessageChannel: no timer clamping) until `stop()`,
 *  which returns the longest gap between two ticks in ms, the one from the
 *  last tick to `stop()` included: work that never let the loop tick is
 *  one gap, not none. */
function blockProbe() {
  const channel = new MessageChannel();
  let last = performance.now(), longest = 0, on = true;
  channel.port1.onmessage = () => {
    const t = performance.now();
    longest = Math.max(longest, t - last);
    last = t;
    if (on) channel.port2.postMessage(0);
  };
  channel.port2.postMessage(0);
  return { stop() { on = false; channel.port1.close(); return Math.max(longest, performance.now() - last); } };
}

/** `Terminal.open` of each journal from memory (`journal:` import) and
 *  from IndexedDB in its steady state: the rows are prefilled (no
 *  snapshot, version 1), the first open replays them all and the snapshot
 *  is written (`writeSnapshot()`: its serialization and its IndexedDB
 *  write, timed apart), then every timed re-open reads the snapshot and the
 *  rows after it; the history before it loads in the background, timed
 *  from the open's return to `historyLoaded`. Each re-open appends one
 *  sale, so the next one replays a real tail. */
export async function openBench(sizes, reps) {
  const out = { empty: await timeOpen({ kind: "memory" }, null, reps(0)) };
  for (const n of sizes) {
    const memory = await timeOpen({ kind: "memory" }, journals[n], reps(n));
    // The same restore once more, the page's task loop ticking beside it:
    // the longest the page could not run while it was checked and replayed.
    memory.blockedMs = (await probedOpen(config({ kind: "memory" }), journals[n], true)).blockedMs;
    // A backup restored into IndexedDB: checked, replayed and its rows
    // stored (one transaction, in slices).
    const restoreName = `bench-restore-${n}`;
    await deleteDb(restoreName);
    const restore = await probedOpen(config({ kind: "indexeddb", name: restoreName }), journals[n], true);
    await deleteDb(restoreName);
    const name = `bench-open-${n}`;
    const p0 = performance.now();
    await prefillIdb(name, n);
    const prefillMs = performance.now() - p0;
    const storage = { kind: "indexeddb", name };
    let { term, ms: firstMs, blockedMs: firstBlockedMs } = await probedOpen(config(storage));
    if (term.readOnly) throw new Error("bench terminal opened read-only");
    // Written in slices (the longest time the page could not run): after
    // a full replay it also hands the whole journal to the history.
    const writing = blockProbe();
    const snapshot = await term.writeSnapshot();
    if (!snapshot) throw new Error("no snapshot written");
    snapshot.blockedMs = writing.stop();
    await term.close();
    const reopen = [], reopenBlocked = [], history = [], blocked = [], tails = [], trail = [], newest = [], whole = [];
    const listAll = [], listPage = [], listDoubt = [], listOne = [], listAgainst = [];
    const searchAmount = [], searchTrace = [], searchInJs = [];
    let oldest = null, steady = null;
    for (let r = 0; r < reps(n); r++) {
      const opening = blockProbe();
      const t0 = performance.now();
      term = await Terminal.open(config(storage));
      const opened = performance.now();
      reopen.push(opened - t0);
      reopenBlocked.push(opening.stop());
      let loading = false;
      try { term.exportJournal(); } catch (e) { loading = e.code === "JOURNAL_LOADING"; if (!loading) throw e; }
      if (!loading) throw new Error("re-open did not start from the snapshot");
      // The longest the page could not run anything (draw, take a tap)
      // while the history loads: the gap between ticks of a task loop.
      const probe = blockProbe();
      await term.historyLoaded;
      history.push(performance.now() - opened);
      blocked.push(probe.stop());
      // A screen showing one old transaction's records, and the newest
      // 300: journalEntries, against reading the whole export as the demo
      // did before it.
      oldest ??= term.transactions().at(-1).id;
      // The quick queries are repeated: one call is below the page's
      // timer resolution (0.1 ms).
      const timed = (into, f, times = 1) => {
        const t = performance.now();
        let r;
        for (let i = 0; i < times; i++) r = f();
        into.push((performance.now() - t) / times);
        return r;
      };
      const found = timed(trail, () => term.journalEntries({ transaction: oldest }), 50);
      const last = timed(newest, () => term.journalEntries({ last: 300 }), 20);
      let t = performance.now();
      const exported = JSON.parse(term.exportJournal());
      const seq = Number(oldest.slice(1));
      const about = exported.entries.filter((e) => e.seq === seq || e.record.purpose?.txn === seq || e.record.txn === seq);
      whole.push(performance.now() - t);
      if (about.length !== found.length || about.at(-1).hash !== found.at(-1).hash || last.length !== 300
          || last.at(-1).hash !== exported.head) {
        throw new Error("journalEntries disagrees with the export");
      }
      tails.push(exported.count - snapshot.records);
      // The lists a screen redraws: every transaction, against the newest
      // page, the ones in doubt (the banner), and one by id (a detail).
      const every = timed(listAll, () => term.transactions());
      const page = timed(listPage, () => term.transactions({ limit: 200 }), 20);
      timed(listDoubt, () => term.transactions({ state: "in_doubt" }), 200);
      timed(listAgainst, () => term.transactions({ original: oldest }), 200);
      const one = timed(listOne, () => term.transactions({ id: oldest }), 200);
      if (page.length !== 200 || page[199].id !== every[199].id || one[0]?.id !== oldest) {
        throw new Error("transactions({ limit, id }) disagrees with the full list");
      }
      // A search on the list screen (the demo's search box, each
      // keystroke): by the oldest sale's amount (its matches are spread
      // over the whole journal) and trace number, against filtering every
      // transaction in JS as the demo did before.
      const { amount, traceNo } = every.at(-1);
      const byAmount = timed(searchAmount, () => term.transactions({ amount, limit: 200 }), 5);
      const byTrace = timed(searchTrace, () => term.transactions({ traceNo, limit: 200 }), 200);
      const inJs = timed(searchInJs, () => term.transactions().filter((x) => x.amount === amount).slice(0, 200));
      if (byAmount.map((x) => x.id).join() !== inJs.map((x) => x.id).join()
          || byTrace.at(-1)?.id !== oldest || byTrace.some((x) => x.traceNo !== traceNo)) {
        throw new Error("transactions({ amount, traceNo }) disagrees with the full list");
      }
      await term.signIn({ operatorId: "01", pin: "1234" });
      await term.sale({ amount: "1.00", card: { pan: PAN }, key: `o${r}` });
      if (r === reps(n) - 1) {
        // What the terminal writes at idle: the whole state, with the
        // history loaded and a short tail to hand over.
        const writing = blockProbe();
        const t0 = performance.now();
        steady = await term.writeSnapshot();
        steady.ms = performance.now() - t0;
        steady.blockedMs = writing.stop();
      }
      await term.close();
    }
    const held = await footprint(name);
    await deleteDb(name);
    const idb = { median: median(reopen), min: Math.min(...reopen), reps: reopen.length, blockedMs: median(reopenBlocked) };
    out[n] = { memory, restore, held, idb, first: { ms: firstMs, blockedMs: firstBlockedMs, snapshot }, steady, historyMs: { median: median(history), min: Math.min(...history), blockedMs: median(blocked) }, tails, prefillMs,
      entries: { trailMs: median(trail), newestMs: median(newest), exportMs: median(whole), records: n },
      lists: { allMs: median(listAll), pageMs: median(listPage), doubtMs: median(listDoubt), oneMs: median(listOne), againstMs: median(listAgainst),
        searchAmountMs: median(searchAmount), searchTraceMs: median(searchTrace), searchInJsMs: median(searchInJs) } };
    log(`open ${n}: memory ${memory.median?.toFixed(1) ?? memory.refused} ms, indexeddb first ${firstMs.toFixed(1)} ms, ` +
      `snapshot ${(snapshot.bytes / 1e6).toFixed(1)} MB serialize ${snapshot.serializeMs.toFixed(1)} ms write ${snapshot.writeMs.toFixed(1)} ms, ` +
      `re-open ${idb.median.toFixed(1)} ms, history loaded after ${out[n].historyMs.median.toFixed(1)} ms`);
  }
  return out;
}

/** Sales, partial refunds and refund plans through the JS API on a memory
 *  terminal that starts from the journal of `start` records; the peer on
 *  the same operations; the empty-call floor. */
export async function engineBench({ start, sales, refunds, plans, emptyCalls }) {
  // `journal:` refuses an import over 64 KiB (see BENCHMARKS.md): reach
  // `start` records by running the sales instead.
  const term = await Terminal.open(config({ kind: "memory" }));
  await term.signIn({ operatorId: "01", pin: "1234" });
  for (let i = 0; JSON.parse(term.exportJournal()).count < start; i += 100) {
    for (let j = i; j < i + 100; j++) await term.sale({ amount: amountOf(j), card: { pan: PAN }, key: `pre${j}` });
  }
  // Floor: an empty wasm-bindgen call, the `readOnly` getter (a bool out of
  // a Rc borrow, no argument conversion).
  let sink = 0;
  let t0 = performance.now();
  for (let i = 0; i < emptyCalls; i++) if (term.readOnly) sink++;
  const emptyCallUs = (performance.now() - t0) * 1000 / emptyCalls;

  t0 = performance.now();
  const made = [];
  for (let i = 0; i < sales; i++) {
    const s = await term.sale({ amount: amountOf(i), card: { pan: PAN }, key: `b${i}` });
    if (i < refunds) made.push(s.traceNo);
  }
  const saleUs = (performance.now() - t0) * 1000 / sales;

  t0 = performance.now();
  for (let i = 0; i < plans; i++) {
    const p = term.planRefund({ original: { traceNo: made[i % made.length] }, amount: "0.01" });
    if (p.action !== "refund") throw new Error(`plan: ${p.action}`);
  }
  const planUs = (performance.now() - t0) * 1000 / plans;

  t0 = performance.now();
  for (let i = 0; i < refunds; i++) {
    await term.refund({ original: { traceNo: made[i] }, amount: "0.01", reason: "bench", approval: SUP, key: `r${i}` });
  }
  const refundUs = (performance.now() - t0) * 1000 / refunds;
  await term.close();

  // The same sales through a JS host (a wrapper around the simulator, as a
  // real transport would be): the terminal calls a bare SimulatedAcquirer
  // directly, so this row shows what the JS round trip to a host costs.
  const sim = new SimulatedAcquirer({ seed: 9 });
  const viaJs = await Terminal.open(config({ kind: "memory" }, { host: { send: (r) => sim.send(r) } }));
  await viaJs.signIn({ operatorId: "01", pin: "1234" });
  t0 = performance.now();
  for (let i = 0; i < sales; i++) await viaJs.sale({ amount: amountOf(i), card: { pan: PAN }, key: `j${i}` });
  const saleJsHostUs = (performance.now() - t0) * 1000 / sales;
  await viaJs.close();

  // The peer, holding as many sales as posflow started with.
  const peer = new PeerTerminal({ host: new PeerHost() });
  const pre = Math.floor(start / 2);
  for (let i = 0; i < pre; i++) await peer.sale({ amount: amountOf(i), card: { pan: PAN }, key: `p${i}` });
  t0 = performance.now();
  const pmade = [];
  for (let i = 0; i < sales; i++) {
    const s = await peer.sale({ amount: amountOf(i), card: { pan: PAN }, key: `b${i}` });
    if (i < refunds) pmade.push(s.traceNo);
  }
  const peerSaleUs = (performance.now() - t0) * 1000 / sales;
  t0 = performance.now();
  for (let i = 0; i < plans; i++) {
    const p = peer.planRefund({ original: { traceNo: pmade[i % pmade.length] }, amount: "0.01" });
    if (p.action !== "refund") throw new Error(`peer plan: ${p.action}`);
  }
  const peerPlanUs = (performance.now() - t0) * 1000 / plans;
  t0 = performance.now();
  for (let i = 0; i < refunds; i++) {
    await peer.refund({ original: { traceNo: pmade[i] }, amount: "0.01", reason: "bench", approval: SUP, key: `r${i}` });
  }
  const peerRefundUs = (performance.now() - t0) * 1000 / refunds;
  return { emptyCallUs, saleUs, saleJsHostUs, planUs, refundUs, peerSaleUs, peerPlanUs, peerRefundUs, sink };
}

/** Durable sales on IndexedDB storage against the floor: one strict
 *  transaction putting the bytes a sale appends. Counts the transactions
 *  posflow opens per sale. */
export async function durableBench({ sales }) {
  const name = "bench-durable";
  await deleteDb(name);
  const term = await Terminal.open(config({ kind: "indexeddb", name }));
  await term.signIn({ operatorId: "01", pin: "1234" });
  await term.sale({ amount: "1.00", card: { pan: PAN }, key: "warm" });
  const before = JSON.parse(term.exportJournal()).count;
  const orig = IDBDatabase.prototype.transaction;
  let txns = 0;
  IDBDatabase.prototype.transaction = function (...a) { txns++; return orig.apply(this, a); };
  let t0 = performance.now();
  for (let i = 0; i < sales; i++) await term.sale({ amount: amountOf(i), card: { pan: PAN }, key: `d${i}` });
  const saleMs = (performance.now() - t0) / sales;
  IDBDatabase.prototype.transaction = orig;
  const exp = JSON.parse(term.exportJournal());
  await term.close();
  await deleteDb(name);
  // The same bytes: the rows of the last sale (each sale appends the same
  // number of rows).
  const perSale = Math.round((exp.entries.length - before) / sales);
  const rows = exp.entries.slice(-perSale).map((e) => JSON.stringify(e));
  const bytes = rows.reduce((a, r) => a + r.length, 0);

  const floorName = "bench-floor";
  await deleteDb(floorName);
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open(floorName, 1);
    r.onupgradeneeded = () => r.result.createObjectStore("journal");
    r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error);
  });
  const put = (key, values) => new Promise((resolve, reject) => {
    const tx = db.transaction("journal", "readwrite", { durability: "strict" });
    const store = tx.objectStore("journal");
    values.forEach((v, j) => store.put(v, key * 10 + j));
    tx.oncomplete = resolve; tx.onerror = tx.onabort = () => reject(tx.error);
  });
  const one = [rows.join("")];
  await put(0, one);
  t0 = performance.now();
  for (let i = 1; i <= sales; i++) await put(i, one);
  const putMs = (performance.now() - t0) / sales;
  // The same rows, one strict transaction each (what posflow does).
  t0 = performance.now();
  let k = sales + 1;
  for (let i = 1; i <= sales; i++) for (const r of rows) await put(k++, [r]);
  const putEachMs = (performance.now() - t0) / sales;
  db.close();
  await deleteDb(floorName);
  return { saleMs, putMs, putEachMs, txnsPerSale: txns / sales, rowsPerSale: perSale, bytes };
}

const pad = (n, w) => String(n).padStart(w, "0");

/** A statement of `lines` lines in the documented CSV format (Chinese
 *  header), one settled line per approved sale of the terminal. */
function statementCsv(txns, lines) {
  const out = ["交易日期,交易时间,商户编号,终端编号,批次号,凭证号,参考号,授权码,卡号,交易类型,交易金额,手续费,清算状态"];
  for (let i = 0; i < lines; i++) {
    const t = txns[i];
    const d = new Date(t.createdAt + 8 * 3600_000);
    const date = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}`;
    const time = `${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}`;
    out.push(`${date},${time},898440350480001,10000001,${t.batchNo},${t.traceNo},${t.rrn},${t.authCode},${t.maskedPan},消费,${t.amount},0.38,已清算`);
  }
  return out.join("\n") + "\n";
}

/** `reconcile` of an `n`-line statement against a terminal holding `n`
 *  approved sales, one line per sale (as the native bench): the journal
 *  terminal for the largest, fresh memory terminals for the others. Also
 *  the longest the page's thread was blocked while it ran (the largest gap
 *  between ticks of a task loop, the report's `JSON.parse` included). */
export async function reconcileBench(sizes, reps) {
  const out = {};
  for (const n of sizes) {
    let term = bigTerm;
    let sales = term.transactions({ kind: "sale", state: "approved" });
    if (sales.length !== n) {
      term = await Terminal.open(config({ kind: "memory" }));
      await term.signIn({ operatorId: "01", pin: "1234" });
      for (let i = 0; i < n; i++) await term.sale({ amount: amountOf(i), card: { pan: PAN }, key: `c${i}` });
      sales = term.transactions({ kind: "sale", state: "approved" });
    }
    if (sales.length !== n) { out[n] = { skipped: `the terminal holds ${sales.length} sales` }; continue; }
    const csv = statementCsv(sales, n);
    const times = [], blocked = [];
    let report;
    for (let r = 0; r < reps(n); r++) {
      const probe = blockProbe();
      const t0 = performance.now();
      report = await term.reconcile(csv);
      times.push(performance.now() - t0);
      // One task later, so that the probe ticks after the last block too
      // (its message is queued before this one).
      await new Promise((resolve) => {
        const c = new MessageChannel();
        c.port1.onmessage = () => { c.port1.close(); resolve(); };
        c.port2.postMessage(0);
      });
      blocked.push(probe.stop());
    }
    times.sort((a, b) => a - b);
    const items = report.items?.length;
    out[n] = { median: times[times.length >> 1], min: times[0], blockedMs: median(blocked), reps: reps(n), bytes: csv.length, items, summary: report.summary?.balanced ?? report.balanced };
    log(`reconcile ${n}: ${out[n].median.toFixed(1)} ms, longest block ${out[n].blockedMs.toFixed(1)} ms, ${items} items`);
    if (term !== bigTerm) await term.close();
  }
  return out;
}

/** `bytes` with an empty custom section named `name` appended: the same
 *  module to run, other bytes to V8, which shares compiled code between
 *  modules of identical bytes in one process. */
function withCustomSection(bytes, name) {
  const leb = (v) => { const o = []; do { let b = v & 0x7f; v >>>= 7; if (v) b |= 0x80; o.push(b); } while (v); return o; };
  const n = new TextEncoder().encode(name);
  const body = [...leb(n.length), ...n];
  const section = Uint8Array.from([0, ...leb(body.length), ...body]);
  const out = new Uint8Array(bytes.length + section.length);
  out.set(bytes);
  out.set(section, bytes.length);
  return out;
}

/** A cold start, as a page that loads posflow pays it once the bytes are
 *  at hand: in a fresh iframe (its own realm, its own glue and wasm
 *  instance), `init` with the wasm bytes (compile and instantiate), then
 *  `Terminal.open` on memory storage and a sign-in, then the first sale
 *  (V8 compiles wasm functions lazily, on their first call). `unique`:
 *  bytes V8 has not compiled before; otherwise the same bytes each time,
 *  which V8 takes from its cache. Returns the medians. */
export async function loadBench({ reps, unique }) {
  const bytes = new Uint8Array(await (await fetch("/pkg/posflow_bg.wasm")).arrayBuffer());
  const runs = [];
  for (let r = 0; r < reps + 1; r++) {
    window.__posflowLoadBytes = unique ? withCustomSection(bytes, `posflow-bench-${r}-${Math.random()}`) : bytes;
    const timing = await inFrame(`
      const t0 = performance.now();
      const { default: init, Terminal, SimulatedAcquirer } = await import("/pkg/posflow.js");
      const t1 = performance.now();
      await init({ module_or_path: parent.__posflowLoadBytes });
      const t2 = performance.now();
      const term = await Terminal.open({ ...config, host: new SimulatedAcquirer({ seed: 9 }) });
      await term.signIn({ operatorId: "01", pin: "1234" });
      const t3 = performance.now();
      await term.sale({ amount: "12.34", card: { pan: "${PAN}" }, key: "cold" });
      const t4 = performance.now();
      return { importMs: t1 - t0, initMs: t2 - t1, openMs: t3 - t2, saleMs: t4 - t3, totalMs: t4 - t0 };`,
      { kind: "memory" });
    if (r > 0) runs.push(timing); // the first loads the glue's source too
  }
  const med = (k) => median(runs.map((x) => x[k]));
  return { reps, unique, bytes: bytes.length, initMs: med("initMs"), openMs: med("openMs"), saleMs: med("saleMs"), totalMs: med("totalMs") };
}

/** Runs `body` (the inside of an async function, with `config`, the
 *  bench terminal's plain config on `storage`, in scope) as a module
 *  script in a fresh iframe: its own realm, its own posflow glue and wasm
 *  instance. Resolves with what it returns. */
async function inFrame(body, storage) {
  const frame = document.createElement("iframe");
  const result = new Promise((resolve, reject) => {
    window.addEventListener("message", function on(e) {
      if (e.source !== frame.contentWindow) return;
      window.removeEventListener("message", on);
      if (e.data.error) reject(new Error(e.data.error)); else resolve(e.data.value);
    });
  });
  frame.srcdoc = `<script type="module">
    const config = ${JSON.stringify(plainConfig(storage))};
    try {
      const value = await (async () => { ${body} })();
      parent.postMessage({ value }, "*");
    } catch (e) { parent.postMessage({ error: String(e && e.message || e) }, "*"); }
  <\/script>`;
  document.body.append(frame);
  try {
    return await result;
  } finally {
    frame.remove();
  }
}

/** What a page holds once it has opened the IndexedDB journal `name` and
 *  read its history, measured in a fresh iframe: its wasm memory (which
 *  only grows: the peak of the open) and the history's text, kept as JS
 *  strings (about a byte a character). */
async function footprint(name) {
  return inFrame(`
    const { default: init, Terminal, SimulatedAcquirer } = await import("/pkg/posflow.js");
    const wasm = await init();
    const empty = wasm.memory.buffer.byteLength;
    const term = await Terminal.open({ ...config, host: new SimulatedAcquirer({ seed: 9 }) });
    await term.historyLoaded;
    const value = { emptyWasmBytes: empty, wasmBytes: wasm.memory.buffer.byteLength, historyChars: term.exportJournal().length };
    await term.close();
    return value;`, { kind: "indexeddb", name });
}

/** The peer and posflow on one small script: the same outcomes. */
export async function checkPeer() {
  const term = await Terminal.open(config({ kind: "memory" }));
  await term.signIn({ operatorId: "01", pin: "1234" });
  const peer = new PeerTerminal({ host: new PeerHost() });
  const both = async (f) => {
    const r = [];
    for (const t of [term, peer]) {
      try { const v = await f(t); r.push({ state: v.state ?? v.action, amount: v.amount, refundable: v.refundable }); }
      catch (e) { r.push({ code: e.code ?? String(e) }); }
    }
    return r;
  };
  const steps = [];
  const step = async (what, f) => { const [a, b] = await both(f); steps.push({ what, posflow: a, peer: b, same: JSON.stringify(a) === JSON.stringify(b) }); };
  await step("sale 100.00", (t) => t.sale({ amount: "100.00", card: { pan: PAN }, key: "k1" }));
  await step("sale 50.00", (t) => t.sale({ amount: "50.00", card: { pan: PAN }, key: "k2" }));
  await step("same key, same sale", (t) => t.sale({ amount: "100.00", card: { pan: PAN }, key: "k1" }));
  await step("same key, other amount", (t) => t.sale({ amount: "99.00", card: { pan: PAN }, key: "k1" }));
  await step("amount 10.001", (t) => t.sale({ amount: "10.001", card: { pan: PAN }, key: "k3" }));
  await step("plan full of #1", (t) => t.planRefund({ original: { traceNo: "000001" } }));
  await step("refund 30.00 of #1", (t) => t.refund({ original: { traceNo: "000001" }, amount: "30.00", reason: "r", approval: SUP, key: "k4" }));
  await step("plan 80.00 of #1", (t) => t.planRefund({ original: { traceNo: "000001" }, amount: "80.00" }));
  await step("refund 80.00 of #1", (t) => t.refund({ original: { traceNo: "000001" }, amount: "80.00", reason: "r", approval: SUP, key: "k5" }));
  await step("void #1 (refunded)", (t) => t.void({ original: { traceNo: "000001" }, approval: SUP, key: "k6" }));
  await step("void #2", (t) => t.void({ original: { traceNo: "000002" }, approval: SUP, key: "k7" }));
  await step("refund 1.00 of voided #2", (t) => t.refund({ original: { traceNo: "000002" }, amount: "1.00", reason: "r", approval: SUP, key: "k8" }));
  await step("refund 70.00 of #1 (the rest)", (t) => t.refund({ original: { traceNo: "000001" }, amount: "70.00", reason: "r", approval: SUP, key: "k9" }));
  await step("refund 0.01 more of #1", (t) => t.refund({ original: { traceNo: "000001" }, amount: "0.01", reason: "r", approval: SUP, key: "k10" }));
  await term.close();
  return steps;
}
