#!/usr/bin/env node
// Two (or more) builds side by side in V8 (node), sales on a memory
// terminal: the way each speed change of sessions 4–8 was measured. The
// builds alternate round by round in one process, so the machine's noise
// falls on all of them; the figure to read is the median of the per-round
// ratios, not two absolute times.
//
//   wasm-pack build --release --target web --mode no-install --out-dir target/ab-a   # before
//   (change, then)
//   wasm-pack build --release --target web --mode no-install --out-dir target/ab-b   # after
//   node bench/ab.mjs target/ab-a target/ab-b        # ROUNDS=7 SALES=2000 by default
//
// Each terminal first runs 3,000 sales (a warm JIT and a journal that is
// not empty). A memory terminal's wasm memory only grows, so long loops
// drift; that is why the rounds alternate.
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const dirs = process.argv.slice(2).map((d) => path.resolve(d));
if (dirs.length === 0) {
  console.error("usage: node bench/ab.mjs PKG_DIR [PKG_DIR ...]");
  process.exit(2);
}
const rounds = Number(process.env.ROUNDS ?? 7);
const sales = Number(process.env.SALES ?? 2000);
const PAN = "6222020200112233445";
const amountOf = (i) => `${1 + (i % 500)}.${String(i % 100).padStart(2, "0")}`;

const terms = [];
for (const dir of dirs) {
  const m = await import(pathToFileURL(path.join(dir, "posflow.js")).href);
  await m.default({ module_or_path: readFileSync(path.join(dir, "posflow_bg.wasm")) });
  const term = await m.Terminal.open({
    merchantId: "898440350480001", terminalId: "10000001", currency: "CNY",
    storage: { kind: "memory" }, host: new m.SimulatedAcquirer({ seed: 7 }), locale: "en",
    operators: [{ id: "01", role: "cashier", pin: "1234" }], policy: { pinHashIterations: 1 },
  });
  await term.signIn({ operatorId: "01", pin: "1234" });
  terms.push(term);
}
let key = 0;
for (const term of terms) {
  for (let i = 0; i < 3000; i++) await term.sale({ amount: amountOf(i), card: { pan: PAN }, key: `w${key++}` });
}
const us = dirs.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (const [j, term] of terms.entries()) {
    const t0 = performance.now();
    for (let i = 0; i < sales; i++) await term.sale({ amount: amountOf(i), card: { pan: PAN }, key: `r${key++}` });
    us[j].push(((performance.now() - t0) * 1000) / sales);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const [j, dir] of dirs.entries()) {
  console.log(`${path.relative(process.cwd(), dir) || dir}: median ${median(us[j]).toFixed(1)} µs a sale (rounds: ${us[j].map((x) => x.toFixed(1)).join(" ")})`);
}
for (let j = 1; j < dirs.length; j++) {
  const ratios = us[j].map((x, i) => x / us[0][i]);
  console.log(`${path.basename(dirs[j])} ÷ ${path.basename(dirs[0])}: ${median(ratios).toFixed(3)} (median of the per-round ratios)`);
}
