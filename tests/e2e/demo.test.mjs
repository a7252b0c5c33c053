// What a cashier sees on the POS demo (www/), driven in headless Chromium.
// Needs the release package in pkg/ (`make build`) and /usr/bin/chromium
// (scripts/setup.sh). Run: node --test tests/e2e/*.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer } from "../../scripts/serve.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const shotDir = path.join(repoRoot, "target", "e2e");

const FULL_PAN = "6222020200112233445";
const MASKED_PAN = "622202*********3445";

let server;
let browser;
let baseUrl;

before(async () => {
  assert.ok(
    existsSync(path.join(repoRoot, "pkg", "posflow.js")),
    "pkg/posflow.js is missing: build it first (make build)",
  );
  await mkdir(shotDir, { recursive: true });
  server = await startServer({ port: 0, host: "127.0.0.1" });
  baseUrl = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/**
 * Opens the demo in a fresh context (a fresh terminal: storage is in memory)
 * and runs `body(page)`. Console errors, uncaught exceptions and failed
 * requests fail the test and are shown with whatever else went wrong.
 */
async function withDemo(viewport, body) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems = [];
  page.on("console", (msg) => {
    if (msg.text().includes(FULL_PAN)) problems.push(`the full PAN was logged: console.${msg.type()}`);
    if (msg.type() === "error") {
      const where = msg.location()?.url;
      problems.push(`console.error: ${msg.text()}${where ? ` (${where})` : ""}`);
    }
  });
  page.on("pageerror", (err) => problems.push(`uncaught: ${err.stack ?? err.message}`));
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`));
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  try {
    await page.goto(baseUrl);
    await page.waitForSelector('body[data-status="ready"], body[data-status="failed"]');
    const status = await page.getAttribute("body", "data-status");
    assert.equal(status, "ready", `the terminal did not start: ${await page.textContent("#error")}`);
    await body(page);
  } catch (err) {
    if (problems.length > 0) err.message += `\n\nbrowser problems:\n  ${problems.join("\n  ")}`;
    throw err;
  } finally {
    await context.close();
  }
  assert.deepEqual(problems, [], `browser problems:\n  ${problems.join("\n  ")}`);
}

async function sale(page, amount) {
  await page.fill("#amount", amount);
  await page.click("#sale-button");
  // The button is disabled while the request runs and enabled again after.
  await page.waitForSelector('body[data-status="ready"]');
}

/** The page's visible text and its full text content, for PAN checks. */
async function pageText(page) {
  return page.evaluate(() => `${document.body.innerText}\n${document.body.textContent}`);
}

async function assertApprovedSale(page, amount) {
  const rows = page.locator("#records tr");
  await rows.first().waitFor();
  const row = rows.first();
  assert.equal(await row.getAttribute("data-state"), "approved");
  assert.equal(await row.locator('[data-field="amount"] .money').textContent(), amount);
  assert.equal(await row.locator('[data-field="amount"] .currency').textContent(), "CNY");
  assert.match(await row.locator('[data-field="traceNo"]').textContent(), /^\d{6}$/);
  assert.match(await row.locator('[data-field="batchNo"]').textContent(), /^\d{6}$/);
  assert.match(await row.locator('[data-field="rrn"]').textContent(), /^[0-9A-Za-z]{12}$/);
  assert.match(await row.locator('[data-field="authCode"]').textContent(), /^[0-9A-Za-z]{6}$/);
  assert.equal(await row.locator('[data-field="maskedPan"]').textContent(), MASKED_PAN);
  assert.equal(await page.isVisible("#error"), false, "no error is shown after an approved sale");
  const text = await pageText(page);
  assert.ok(!text.includes(FULL_PAN), "the full PAN must not appear in the page text");
}

/** Every control a finger has to hit is at least 44 px high and wide. */
async function assertTouchTargets(page) {
  for (const selector of ["#amount", "#card", "#sale-button"]) {
    const box = await page.locator(selector).boundingBox();
    assert.ok(box, `${selector} is visible`);
    assert.ok(box.height >= 44 && box.width >= 44, `${selector} is ${box.width}×${box.height}, below 44 px`);
  }
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px`);
}

test("a sale at 1280×800 shows one approved record with a masked PAN", async () => {
  await withDemo({ width: 1280, height: 800 }, async (page) => {
    assert.equal(await page.inputValue("#amount"), "100.00", "the amount field starts at 100.00");
    await sale(page, "88.80");
    await assertApprovedSale(page, "88.80");
    assert.equal(await page.locator("#records tr").count(), 1);
    await assertTouchTargets(page);
    await page.screenshot({ path: path.join(shotDir, "demo-sale-1280x800.png"), fullPage: true });
  });
});

test("a sale at 720×1280 (portrait terminal) fits the screen", async () => {
  await withDemo({ width: 720, height: 1280 }, async (page) => {
    await sale(page, "88.80");
    await assertApprovedSale(page, "88.80");
    await assertTouchTargets(page);
    await page.screenshot({ path: path.join(shotDir, "demo-sale-720x1280.png"), fullPage: true });
  });
});

test("an amount with too many decimals shows INVALID_AMOUNT and adds no record", async () => {
  await withDemo({ width: 1280, height: 800 }, async (page) => {
    await sale(page, "10.001");
    await page.waitForSelector("#error", { state: "visible" });
    assert.equal(await page.getAttribute("#error", "data-code"), "INVALID_AMOUNT");
    assert.match(await page.textContent("#error"), /INVALID_AMOUNT/);
    assert.equal(await page.locator("#records tr").count(), 0, "a refused amount adds no record");
    assert.equal(await page.isEnabled("#sale-button"), true, "the button is usable again");

    // The next good sale clears the error and is the first record.
    await sale(page, "88.80");
    await assertApprovedSale(page, "88.80");
    assert.equal(await page.locator("#records tr").count(), 1);
  });
});
