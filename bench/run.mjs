#!/usr/bin/env node
// `make bench`: the native criterion benches, the simulator, the size, and
// the browser bench (bench/page.mjs in headless Chromium through
// Playwright); prints every figure with its ratio to its floor, to native
// and to the plain-JS peer, and each budget as MET or MISSED.
//
//   node bench/run.mjs                 everything
//   node bench/run.mjs --browser-only  skip criterion and the simulator
//                                      (uses the last criterion results)
//   BENCH_QUICK=1 node bench/run.mjs   fewer repetitions
//   node bench/run.mjs --browser-only --only=open,reconcile
//                                      only these browser parts (peer,
//                                      load, open, engine, durable,
//                                      reconcile);
//                                      the table then has gaps
//
// Writes the run's figures to target/bench/results.json and its table to
// target/bench/table.md (BENCHMARKS.md holds a copy).
import http from "node:http";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../scripts/chromium.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const onlyArg = process.argv.find((a) => a.startsWith("--only="));
const only = onlyArg ? new Set(onlyArg.slice(7).split(",")) : null;
const part = (name) => !only || only.has(name);
const quick = !!process.env.BENCH_QUICK;
const outDir = path.join(root, "target", "bench");
mkdirSync(outDir, { recursive: true });
const say = (s) => console.log(`\x1b[1mbench:\x1b[0m ${s}`);

// ---------------------------------------------------------------- native
const CRITERION = ["--warm-up-time", "1", "--measurement-time", "3", "--noplot"];

function cargoBench(name) {
  say(`cargo bench -p posflow-core --bench ${name} -- ${CRITERION.join(" ")}`);
  execFileSync("cargo", ["bench", "-p", "posflow-core", "--bench", name, "--", ...CRITERION], { cwd: root, stdio: "inherit" });
}

/** Every criterion result under target/criterion: full id → mean ns. */
function criterionResults() {
  const base = path.join(root, "target", "criterion");
  const out = {};
  const walk = (dir) => {
    for (const f of readdirSync(dir)) {
      const p = path.join(dir, f);
      if (!statSync(p).isDirectory()) continue;
      const bj = path.join(p, "new", "benchmark.json");
      if (existsSync(bj)) {
        const id = JSON.parse(readFileSync(bj, "utf8")).full_id;
        const est = JSON.parse(readFileSync(path.join(p, "new", "estimates.json"), "utf8"));
        out[id] = est.mean.point_estimate;
      } else walk(p);
    }
  };
  if (existsSync(base)) walk(base);
  return out;
}

function simulator() {
  const a = ["run", "-q", "--profile", "native", "-p", "posflow-core", "--example", "simulate", "--", "--seeds", "200", "--ops", "200"];
  say(`cargo ${a.join(" ")}`);
  const r = spawnSync("cargo", a, { cwd: root, encoding: "utf8" });
  const text = r.stdout + r.stderr;
  process.stdout.write(text.split("\n").filter((l) => /ops|seeds|fail/i.test(l)).join("\n") + "\n");
  const m = text.match(/([\d,._]+)\s*(?:operations|ops)\/s/i) ?? text.match(/(?:operations|ops)\/s\D*([\d,._]+)/i);
  return { opsPerSec: m ? Number(m[1].replace(/[,_]/g, "")) : NaN, status: r.status, text };
}

function size() {
  const f = ["pkg/posflow_bg.wasm", "pkg/posflow.js"].map((p) => {
    const bytes = readFileSync(path.join(root, p));
    return { file: p, raw: bytes.length, gz: gzipSync(bytes, { level: 9 }).length };
  });
  return { files: f, gz: f.reduce((a, x) => a + x.gz, 0) };
}

// ---------------------------------------------------------------- browser
const mime = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };
const mounts = { "/pkg/": "pkg", "/bench/": "bench", "/node_modules/decimal.js/": "node_modules/decimal.js" };

function serve() {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    const prefix = Object.keys(mounts).find((p) => url.startsWith(p));
    const dir = prefix && path.join(root, mounts[prefix]);
    const file = dir && path.join(dir, url.slice(prefix.length) || "index.html");
    if (!file || !file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": mime[path.extname(file)] ?? "application/octet-stream", "Cache-Control": "no-store" });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function browserBench() {
  const server = await serve();
  const browser = await launchChromium();
  const version = browser.version();
  const page = await browser.newPage();
  page.on("console", (m) => { if (m.text().startsWith("[page]")) say(m.text()); });
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(`http://127.0.0.1:${server.address().port}/bench/index.html`);
  await page.waitForFunction(() => window.benchReady);
  const call = (fn, ...a) => page.evaluate(([fn, a]) => window.bench[fn](...a), [fn, a]);
  const sizes = [1_000, 10_000, 100_000];
  const out = { chromium: version };
  try {
    await call("setup");
    if (part("peer")) {
      say("browser: peer check (posflow and the peer on one script)");
      out.peerCheck = await call("checkPeer");
    }
    if (part("open") || part("reconcile")) {
      say("browser: journals of 1k/10k/100k records (sales through a memory terminal)");
      out.journals = await call("makeJournals", sizes, 100_000);
      say(`browser: ${out.journals.sales} sales in ${(out.journals.ms / 1000).toFixed(1)} s`);
    }
    if (part("open")) {
      say("browser: Terminal.open from memory, and from IndexedDB: first open (full replay), snapshot, re-opens");
      out.open = await page.evaluate(([sizes, quick]) =>
        window.bench.openBench(sizes, (n) => (n >= 100_000 ? 3 : n >= 10_000 ? 5 : quick ? 5 : 11)), [sizes, quick]);
    }
    if (part("load")) {
      say("browser: cold start in a fresh iframe (init, open, first sale), new bytes and cached");
      out.load = {
        cold: await call("loadBench", { reps: quick ? 3 : 7, unique: true }),
        cached: await call("loadBench", { reps: quick ? 3 : 7, unique: false }),
      };
    }
    if (part("engine")) {
      say("browser: sale / planRefund / refund, posflow and peer, 10k records in the journal");
      out.engine = await call("engineBench", { start: 10_000, sales: quick ? 2_000 : 10_000, refunds: 1_000, plans: 10_000, emptyCalls: 1_000_000 });
    }
    if (part("durable")) {
      say("browser: durable sales on IndexedDB against the strict put floor");
      out.durable = await call("durableBench", { sales: quick ? 50 : 200 });
    }
    if (part("reconcile")) {
      say("browser: reconcile 1k/10k/100k lines");
      out.reconcile = await page.evaluate(([sizes, quick]) =>
        window.bench.reconcileBench(sizes, (n) => (n >= 100_000 ? 3 : quick ? 3 : 5)), [sizes, quick]);
    }
  } finally {
    await browser.close();
    server.close();
  }
  return out;
}

// ---------------------------------------------------------------- report
function machine(chromiumVersion) {
  const cpu = readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  return { nproc: os.cpus().length, cpu, chromium: chromiumVersion, node: process.version };
}

const fmtT = (ms) => (!Number.isFinite(ms) ? "–" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(ms >= 100 ? 0 : 1)} ms` : `${(ms * 1000).toFixed(ms * 1000 >= 10 ? 1 : 2)} µs`);
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}×` : "–");

async function main() {
  if (!existsSync(path.join(root, "pkg", "posflow.js"))) throw new Error("pkg/posflow.js is missing: build it (make build)");
  const browserOnly = args.has("--browser-only");
  let sim = { opsPerSec: NaN };
  if (!browserOnly) {
    cargoBench("engine");
    cargoBench("reconcile");
    sim = simulator();
  }
  const native = criterionResults();
  const b = await browserBench();
  const sz = size();
  if (only) {
    // A partial run: the raw figures of the parts asked for, no table.
    const { chromium: _, ...parts } = b;
    console.log(JSON.stringify(parts, (k, v) => (k === "bytes" && typeof v === "object" ? undefined : v), 2));
    console.log(`size: ${sz.gz} bytes gzipped (${sz.files.map((f) => `${path.basename(f.file)} ${f.gz}`).join(", ")})`);
    return;
  }
  const m = machine(b.chromium);
  const nat = (id) => (native[id] ?? NaN) / 1e6; // ms

  const rows = [];
  const row = (what, browserMs, nativeMs, floorLabel, floorMs, peerMs) =>
    rows.push({ what, browser: browserMs, native: nativeMs, floorLabel, floor: floorMs, peer: peerMs });
  const e = b.engine;
  row("empty wasm-bindgen call (`term.readOnly` getter) — floor", e.emptyCallUs / 1000, NaN, "", NaN, NaN);
  row("sale + reply, memory storage, 10k records in journal", e.saleUs / 1000, nat("sale with reply (10k in journal)"), "empty call", e.emptyCallUs / 1000, e.peerSaleUs / 1000);
  row("sale + reply through a JS host (`{ send: (r) => sim.send(r) }`), memory storage", e.saleJsHostUs / 1000, nat("sale with reply (10k in journal)"), "empty call", e.emptyCallUs / 1000, e.peerSaleUs / 1000);
  row("planRefund, 10k records in journal", e.planUs / 1000, nat("plan_refund (10k in journal)"), "empty call", e.emptyCallUs / 1000, e.peerPlanUs / 1000);
  row("partial refund + reply, 10k records in journal", e.refundUs / 1000, nat("refund with reply (10k in journal)"), "empty call", e.emptyCallUs / 1000, e.peerRefundUs / 1000);
  const d = b.durable;
  row(`bare strict IndexedDB put, ${d.bytes} bytes, 1 transaction — floor`, d.putMs, NaN, "", NaN, NaN);
  row(`same rows, ${d.rowsPerSale} strict transactions (1 per row)`, d.putEachMs, NaN, "strict put", d.putMs, NaN);
  row(`durable sale (IndexedDB, ${d.txnsPerSale.toFixed(2)} transactions per sale)`, d.saleMs, NaN, "strict put", d.putMs, NaN);
  const l = b.load;
  row(`cold start in a fresh page: \`init\` (compile + instantiate ${(l.cold.bytes / 1024).toFixed(0)} KB of wasm, bytes V8 has not seen)`, l.cold.initMs, NaN, "same bytes again (V8's cache)", l.cached.initMs, NaN);
  row("… then `Terminal.open` (memory) and a sign-in", l.cold.openMs, NaN, "same bytes again (V8's cache)", l.cached.openMs, NaN);
  row("… then the first sale (its functions compiled on first call)", l.cold.saleMs, NaN, "same bytes again (V8's cache)", l.cached.saleMs, NaN);
  row("… cold start to the first sale, in all (with the glue's import)", l.cold.totalMs, NaN, "same bytes again (V8's cache)", l.cached.totalMs, NaN);
  row("Terminal.open, empty journal (fixed cost)", b.open.empty.median, NaN, "", NaN, NaN);
  for (const n of [1_000, 10_000, 100_000]) {
    const o = b.open[n];
    if (o.memory.refused) rows.push({ what: `Terminal.open, ${n.toLocaleString("en")} records, from memory (journal: import): refused, ${o.memory.refused.split(":")[0]} (config over 64 KiB)`, browser: NaN, native: NaN, floor: NaN, peer: NaN });
    else {
      row(`Terminal.open, ${n.toLocaleString("en")} records, from memory (journal: import)`, o.memory.median, nat(`open (replay)/${n} records, from JSON`), "", NaN, NaN);
      row(`… longest main-thread block while it restores (in slices)`, o.memory.blockedMs, NaN, "", NaN, NaN);
    }
    if (o.restore) {
      row(`restore of a ${n.toLocaleString("en")}-record backup into IndexedDB (\`journal:\`, its rows stored in one transaction)`, o.restore.ms, nat(`open (replay)/${n} records, from JSON`), "", NaN, NaN);
      row(`… longest main-thread block while it restores (in slices)`, o.restore.blockedMs, NaN, "", NaN, NaN);
    }
    row(`Terminal.open, ${n.toLocaleString("en")} records, from IndexedDB, first open (no snapshot: full replay)`, o.first.ms, nat(`open (replay)/${n} records, from JSON`), "", NaN, NaN);
    if (o.first.blockedMs !== undefined) row(`… longest main-thread block while it replays (in slices)`, o.first.blockedMs, NaN, "", NaN, NaN);
    row(`snapshot of ${n.toLocaleString("en")} records (${(o.first.snapshot.bytes / 1e6).toFixed(1)} MB): serialize`, o.first.snapshot.serializeMs, nat(`open (snapshot)/${n} records, take snapshot`), "", NaN, NaN);
    row(`snapshot of ${n.toLocaleString("en")} records: IndexedDB write`, o.first.snapshot.writeMs, NaN, "", NaN, NaN);
    row(`… longest main-thread block while it is written (in slices; it also hands the replayed journal to the history)`, o.first.snapshot.blockedMs, NaN, "", NaN, NaN);
    if (o.steady) {
      row(`snapshot at idle, ${n.toLocaleString("en")} records, history loaded: whole write`, o.steady.ms, NaN, "", NaN, NaN);
      row(`… longest main-thread block while it is written`, o.steady.blockedMs, NaN, "", NaN, NaN);
    }
    row(`Terminal.open, ${n.toLocaleString("en")} records, from IndexedDB, re-open (snapshot + tail of ${Math.max(...o.tails)})`, o.idb.median, nat(`open (snapshot)/${n} records, from snapshot`), "", NaN, NaN);
    if (o.idb.blockedMs !== undefined) row(`… longest main-thread block while it opens (the snapshot read in slices)`, o.idb.blockedMs, NaN, "", NaN, NaN);
    row(`… history before the snapshot loaded (after open returns, background)`, o.historyMs.median, NaN, "", NaN, NaN);
    row(`… longest main-thread block while it loads`, o.historyMs.blockedMs, NaN, "", NaN, NaN);
    if (o.held) {
      rows.push({ what: `memory a page holds, ${n.toLocaleString("en")} records, opened and history loaded: wasm ${(o.held.wasmBytes / 1e6).toFixed(1)} MB (${(o.held.emptyWasmBytes / 1e6).toFixed(1)} MB before the open), history text ${(o.held.historyChars / 1e6).toFixed(1)} MB of JS strings`, browser: NaN, native: NaN, floor: NaN, peer: NaN });
    }
    row(`journal records of the oldest transaction, ${n.toLocaleString("en")} records (\`journalEntries({ transaction })\`)`, o.entries.trailMs, NaN, "exportJournal + JSON.parse + filter", o.entries.exportMs, NaN);
    row(`newest 300 journal records, ${n.toLocaleString("en")} records (\`journalEntries({ last: 300 })\`)`, o.entries.newestMs, NaN, "exportJournal + JSON.parse + filter", o.entries.exportMs, NaN);
    row(`newest 200 transactions, ${n.toLocaleString("en")} records (\`transactions({ limit: 200 })\`)`, o.lists.pageMs, NaN, "transactions() (all)", o.lists.allMs, NaN);
    row(`transactions in doubt, ${n.toLocaleString("en")} records (\`transactions({ state: "in_doubt" })\`, none)`, o.lists.doubtMs, NaN, "transactions() (all)", o.lists.allMs, NaN);
    row(`one transaction, ${n.toLocaleString("en")} records (\`transactions({ id })\`)`, o.lists.oneMs, NaN, "transactions() (all)", o.lists.allMs, NaN);
    row(`what was made against the oldest sale, ${n.toLocaleString("en")} records (\`transactions({ original })\`, none)`, o.lists.againstMs, NaN, "transactions() (all)", o.lists.allMs, NaN);
    row(`search by amount, ${n.toLocaleString("en")} records (\`transactions({ amount, limit: 200 })\`, matches across the journal)`, o.lists.searchAmountMs, NaN, "transactions() (all) + filter in JS", o.lists.searchInJsMs, NaN);
    row(`search by trace number, ${n.toLocaleString("en")} records (\`transactions({ traceNo, limit: 200 })\`)`, o.lists.searchTraceMs, NaN, "transactions() (all) + filter in JS", o.lists.searchInJsMs, NaN);
  }
  for (const n of [1_000, 10_000, 100_000]) {
    const r = b.reconcile[n];
    const natMs = nat(`reconcile/read_csv/${n}`) + nat(`reconcile/match/${n}`);
    row(`reconcile, ${n.toLocaleString("en")}-line CSV`, r.median ?? NaN, natMs, "", NaN, NaN);
    row(`… longest main-thread block while it runs`, r.blockedMs ?? NaN, NaN, "", NaN, NaN);
  }

  const table = [
    "| operation | browser (wasm) | native | browser ÷ native | floor | ÷ floor | JS peer | posflow ÷ peer |",
    "|---|---:|---:|---:|---|---:|---:|---:|",
    ...rows.map((r) => `| ${r.what} | ${fmtT(r.browser)} | ${Number.isFinite(r.native) ? fmtT(r.native) : "–"} | ${ratio(r.browser, r.native)} | ${r.floorLabel || "–"} | ${ratio(r.browser, r.floor)} | ${Number.isFinite(r.peer) ? fmtT(r.peer) : "–"} | ${ratio(r.browser, r.peer)} |`),
  ].join("\n");

  const o100 = b.open[100_000];
  const budgets = [
    ["wasm + glue ≤ 120 KB gzipped (main build)", sz.gz <= 120 * 1024, `${(sz.gz / 1024).toFixed(1)} KB (${sz.gz} bytes: ${sz.files.map((f) => `${path.basename(f.file)} ${f.gz}`).join(", ")})`],
    ["open of a 100,000-record journal from IndexedDB ≤ 500 ms", o100.idb.median <= 500, `${fmtT(o100.idb.median)} (re-open from the snapshot; the first open after an upgrade replays in full: ${fmtT(o100.first.ms)})`],
    ["engine time per sale through the JS boundary ≤ 2× native", e.saleUs / 1000 <= 2 * nat("sale with reply (10k in journal)"), `${fmtT(e.saleUs / 1000)} vs ${fmtT(nat("sale with reply (10k in journal)"))} native = ${ratio(e.saleUs / 1000, nat("sale with reply (10k in journal)"))}`],
    ["durable sale ≤ 1.3× the bare strict IndexedDB put", d.saleMs <= 1.3 * d.putMs, `${fmtT(d.saleMs)} vs ${fmtT(d.putMs)} = ${ratio(d.saleMs, d.putMs)}; Rule 4's floor, the sale's ${d.rowsPerSale} rows in ${d.rowsPerSale} strict transactions, is ${ratio(d.putEachMs, d.putMs)} the put, and posflow is ${ratio(d.saleMs, d.putEachMs)} that floor`],
    ["reconciliation of 100,000 lines ≤ 1 s in the browser", (b.reconcile[100_000].median ?? Infinity) <= 1000, b.reconcile[100_000].median ? fmtT(b.reconcile[100_000].median) : JSON.stringify(b.reconcile[100_000])],
    ["simulator ≥ 50,000 operations per second natively", sim.opsPerSec >= 50_000, browserOnly ? "not run (--browser-only)" : `${Math.round(sim.opsPerSec).toLocaleString("en")} ops/s`],
  ];
  const budgetText = budgets.map(([what, ok, fig]) => `| ${what} | ${ok ? "MET" : "MISSED"} | ${fig} |`).join("\n");

  const growth = [1_000, 10_000, 100_000].map((n) => {
    const o = b.open[n];
    return `| ${n.toLocaleString("en")} | ${o.memory.refused ? "refused (64 KiB)" : fmtT(o.memory.median)} | ${fmtT(o.first.ms)} | ${fmtT(o.idb.median)} | ${((o.idb.median - b.open.empty.median) / n * 1000).toFixed(2)} µs | ${fmtT(o.historyMs.median)} | ${fmtT(nat(`open (replay)/${n} records, from JSON`))} | ${fmtT(nat(`open (snapshot)/${n} records, from snapshot`))} | ${(b.journals.bytes[n] / 1e6).toFixed(1)} MB | ${(o.first.snapshot.bytes / 1e6).toFixed(1)} MB |`;
  }).join("\n");

  const peerOk = b.peerCheck.every((s) => s.same);
  const md = [
    `Machine: ${m.nproc} × ${m.cpu}, ${m.chromium ? `Chromium ${m.chromium}` : ""} headless, Node ${m.node}. Run ${new Date().toISOString().slice(0, 16)}Z${quick ? " (BENCH_QUICK)" : ""}.`,
    "",
    table,
    "",
    "| journal records | open from memory | IndexedDB first open (full replay) | IndexedDB re-open (snapshot + tail) | re-open per record (less the empty open) | history loaded after | native replay from JSON | native open from snapshot | export size | snapshot size |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    growth,
    "",
    "| budget | verdict | figure |",
    "|---|---|---|",
    budgetText,
    "",
    `Peer check (posflow and the JS peer on the same ${b.peerCheck.length}-step script): ${peerOk ? "same outcomes" : "DIFFERENT outcomes, see results.json"}.`,
  ].join("\n");

  writeFileSync(path.join(outDir, "results.json"), JSON.stringify({ machine: m, native, sim: { opsPerSec: sim.opsPerSec }, size: sz, browser: b }, null, 2));
  writeFileSync(path.join(outDir, "table.md"), md + "\n");
  console.log("\n" + md + "\n");
  for (const s of b.peerCheck) if (!s.same) console.log(`peer differs at "${s.what}": posflow ${JSON.stringify(s.posflow)} peer ${JSON.stringify(s.peer)}`);
  for (const [what, ok, fig] of budgets) console.log(`budget ${ok ? "\x1b[32mMET\x1b[0m   " : "\x1b[31mMISSED\x1b[0m"} ${what}: ${fig}`);
  say(`figures in target/bench/results.json, table in target/bench/table.md`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
