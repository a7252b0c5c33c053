#!/usr/bin/env node
// Regenerates the README's screenshots (docs/screenshots/*.png) from the
// demo: a sale at the counter, a refund decision, and an in-doubt sale on a
// smart-POS phone. Not part of the test run. Needs pkg/ (make build).
//   node tests/e2e/readme-screenshots.mjs
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../../scripts/chromium.mjs";
import { startServer } from "../../scripts/serve.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = path.join(repoRoot, "docs", "screenshots");
await mkdir(out, { recursive: true });
const server = await startServer({ port: 0 });
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await launchChromium();

async function open(viewport, query = "latency=30&lang=en") {
  const page = await browser.newPage({ viewport });
  await page.goto(`${base}?${query}`);
  await page.waitForSelector('body[data-status="signin"]');
  await page.fill("#signin-pin", "1234");
  await page.click("#signin-button");
  await page.waitForSelector('body[data-status="ready"]');
  return page;
}

async function sale(page, amount, pan = "6222020200112233445") {
  await page.click('[data-nav="sale"]');
  await page.fill("#amount", amount);
  await page.selectOption("#card", pan);
  await page.click("#sale-button");
  await page.waitForSelector('body[data-status="ready"]');
}

try {
  let page = await open({ width: 1280, height: 800 });
  await sale(page, "88.80");
  await page.screenshot({ path: path.join(out, "counter-sale.png") });
  await page.close();

  page = await open({ width: 1280, height: 800 });
  await sale(page, "60.00", "6210990000001234");
  await page.click('[data-nav="refund"]');
  await page.fill("#refund-ref", "000001");
  await page.fill("#refund-amount", "50.00");
  await page.fill("#refund-reason", "customer return");
  await page.click("#plan-button");
  await page.waitForSelector("#plan[data-action]");
  await page.locator("#plan-box").scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(out, "counter-refund-plan.png") });
  await page.close();

  page = await open({ width: 720, height: 1280 });
  await page.click('[data-nav="tools"]');
  await page.selectOption("#fault-next", "timeout");
  await page.click("#inject-button");
  await sale(page, "66.00");
  await page.waitForSelector('#sale-result[data-state="in_doubt"]');
  await page.screenshot({ path: path.join(out, "phone-in-doubt.png") });
  await page.close();
} finally {
  await browser.close();
  server.closeAllConnections();
  server.close();
}
