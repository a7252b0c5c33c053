#!/usr/bin/env node
// A first profile of the browser bench through Chrome's CPU profiler (CDP):
// sales on a memory terminal, `open` of a 10,000-record journal from
// IndexedDB, and `reconcile` of 10,000 lines; prints the functions with the
// most self time. Needs a package with wasm function names:
//
//   wasm-pack build --profiling --target web --mode no-install --out-dir target/bench/pkg-profiling
//   node bench/profile.mjs [pkg-dir]
import http from "node:http";
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../scripts/chromium.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = path.resolve(process.argv[2] ?? path.join(root, "target/bench/pkg-profiling"));
const mounts = { "/pkg/": pkg, "/bench/": path.join(root, "bench"), "/node_modules/decimal.js/": path.join(root, "node_modules/decimal.js") };
const mime = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };

const server = await new Promise((resolve) => {
  const s = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    const prefix = Object.keys(mounts).find((p) => url.startsWith(p));
    const file = prefix && path.join(mounts[prefix], url.slice(prefix.length) || "index.html");
    if (!file || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": mime[path.extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  s.listen(0, "127.0.0.1", () => resolve(s));
});
const browser = await launchChromium();
const page = await browser.newPage();
page.on("pageerror", (e) => console.error("page error:", e));
page.on("console", (m) => { if (m.type() === "error") console.error("console:", m.text()); });
await page.goto(`http://127.0.0.1:${server.address().port}/bench/index.html`);
await page.waitForFunction(() => window.benchReady);
await page.evaluate(() => window.bench.setup());
await page.evaluate(() => window.bench.makeJournals([10_000], 10_000));
const cdp = await page.context().newCDPSession(page);
await cdp.send("Profiler.enable");
await cdp.send("Profiler.setSamplingInterval", { interval: 200 });

function top(profile, n = 18) {
  const self = new Map();
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const dt = profile.timeDeltas;
  const count = new Map();
  profile.samples.forEach((id, i) => count.set(id, (count.get(id) ?? 0) + (dt[i] ?? 0)));
  for (const [id, us] of count) {
    const f = byId.get(id).callFrame;
    const name = `${f.functionName || "(anonymous)"} ${f.url ? path.basename(f.url) : ""}`.trim();
    self.set(name, (self.get(name) ?? 0) + us);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([name, us]) => `${(100 * us / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`).join("\n");
}

mkdirSync(path.join(root, "target/bench"), { recursive: true });
for (const [label, fn] of [
  ["2,000 sales, memory storage", () => window.bench.engineBench({ start: 100, sales: 2000, refunds: 10, plans: 10, emptyCalls: 10 })],
  ["open of 10,000 records from IndexedDB", () => window.bench.openBench([10_000], () => 3)],
  ["reconcile of 10,000 lines", () => window.bench.reconcileBench([10_000], () => 3)],
]) {
  await cdp.send("Profiler.start");
  await page.evaluate(fn);
  const { profile } = await cdp.send("Profiler.stop");
  writeFileSync(path.join(root, "target/bench", `${label.replace(/\W+/g, "-")}.cpuprofile`), JSON.stringify(profile));
  console.log(`\n== ${label}: top self time\n${top(profile)}`);
}
await browser.close();
server.close();
