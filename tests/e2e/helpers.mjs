// Shared by the Playwright tests of the POS demo (www/): one server and one
// headless Chromium per test file, a fresh browser context (a fresh terminal)
// per test, and the steps a cashier takes, written as the cashier would.
// Needs the release package in pkg/ (`make build`) and /usr/bin/chromium.
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../../scripts/chromium.mjs";
import { startServer } from "../../scripts/serve.mjs";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const shotDir = path.join(repoRoot, "target", "e2e");

export const DEBIT = "6222020200112233445";
export const PREPAID = "6210990000001234";
export const MASKED_DEBIT = "622202*********3445";

export const COUNTER = { width: 1280, height: 800 };
export const KIOSK = { width: 1080, height: 1920 };
export const PHONE = { width: 720, height: 1280 };
export const LAYOUTS = { counter: COUNTER, kiosk: KIOSK, phone: PHONE };

let server;
let browser;
let baseUrl;

before(async () => {
  assert.ok(existsSync(path.join(repoRoot, "pkg", "posflow.js")), "pkg/posflow.js is missing: build it first (make build)");
  await mkdir(shotDir, { recursive: true });
  server = await startServer({ port: 0, host: "127.0.0.1" });
  baseUrl = `http://127.0.0.1:${server.address().port}/`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

let dbCount = 0;

/** A journal of its own for each test: `?db=` names the IndexedDB database. */
export function uniqueDb() {
  dbCount += 1;
  return `e2e-${process.pid}-${Date.now().toString(36)}-${dbCount}`;
}

/**
 * Watches a page: console errors, uncaught exceptions, failed requests and
 * a full PAN anywhere in the console end up in `problems`.
 */
export function watch(page, problems) {
  page.setDefaultTimeout(15_000);
  page.on("console", (msg) => {
    if (msg.text().includes(DEBIT)) problems.push(`the full PAN was logged: console.${msg.type()}`);
    if (msg.type() === "error") problems.push(`console.error: ${msg.text()} (${msg.location()?.url ?? ""})`);
  });
  page.on("pageerror", (err) => problems.push(`uncaught: ${err.stack ?? err.message}`));
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`));
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
}

/** Waits until the page's terminal has started (sign-in screen). */
export async function started(page) {
  await page.waitForSelector('body[data-status="signin"], body[data-status="failed"]');
  const status = await page.getAttribute("body", "data-status");
  assert.equal(status, "signin", `the terminal did not start: ${await page.textContent("#error")}`);
}

/**
 * Opens the demo in a fresh context, on a journal (IndexedDB database) of
 * its own, and runs `body(page, { context, url })`. Console errors, uncaught
 * exceptions, failed requests and a full PAN anywhere in the console fail
 * the test. `query` is the page's query string (latency, timeout, lang,
 * clock); `db` is added unless it names one.
 */
export async function withDemo({ viewport = COUNTER, query = "latency=30", init } = {}, body) {
  const context = await browser.newContext({ viewport });
  // `init`: a script run before the page's own (e.g. a native bridge).
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  const url = `${baseUrl}?${/(^|&)db=/.test(query) ? query : `${query}&db=${uniqueDb()}`}`;
  try {
    await page.goto(url);
    await started(page);
    await body(page, { context, url, problems });
  } catch (err) {
    if (problems.length > 0) err.message += `\n\nbrowser problems:\n  ${problems.join("\n  ")}`;
    throw err;
  } finally {
    await context.close();
  }
  assert.deepEqual(problems, [], `browser problems:\n  ${problems.join("\n  ")}`);
}

export async function signIn(page, operatorId = "01", pin = "1234") {
  await page.selectOption("#signin-operator", operatorId);
  await page.fill("#signin-pin", pin);
  await page.click("#signin-button");
}

export async function signedIn(page, operatorId = "01", pin = "1234") {
  await signIn(page, operatorId, pin);
  await page.waitForSelector('body[data-status="ready"][data-screen="sale"]');
}

export async function nav(page, screen) {
  await page.click(`[data-nav="${screen}"]`);
  await page.waitForSelector(`body[data-screen="${screen}"]`);
}

/** Waits until the command started by the last click has finished. */
export async function idle(page) {
  await page.waitForSelector('body[data-status="ready"]');
}

/** A sale through the keypad screen; resolves with the result box's data. */
export async function sale(page, amount, pan = DEBIT) {
  if ((await page.getAttribute("body", "data-screen")) !== "sale") await nav(page, "sale");
  await page.fill("#amount", amount);
  await page.selectOption("#card", pan);
  const before = await page.getAttribute("#sale-result", "data-id");
  await page.click("#sale-button");
  await idle(page);
  await page.waitForFunction((prev) => document.querySelector("#sale-result").dataset.id !== prev, before);
  return resultOf(page, "#sale-result");
}

export async function resultOf(page, selector) {
  return page.$eval(selector, (box) => {
    const f = (name) => box.querySelector(`[data-field="${name}"] dd`)?.textContent;
    return { id: box.dataset.id, state: box.dataset.state, traceNo: f("traceNo"), rrn: f("rrn"), authCode: f("authCode"), maskedPan: f("maskedPan") };
  });
}

/** Opens the refund screen, finds the original by trace number or RRN, and asks the planner. */
export async function planRefund(page, { by = "traceNo", ref, amount = "", reason = "customer return" }) {
  await nav(page, "refund");
  await page.check('input[name="refund-by"][value="journal"]');
  await page.selectOption("#refund-ref-kind", by);
  await page.fill("#refund-ref", ref);
  await page.fill("#refund-amount", amount);
  await page.fill("#refund-reason", reason);
  await page.click("#plan-button");
  await page.waitForSelector("#plan-box:not([hidden]) #plan[data-action]");
  return planOf(page);
}

export async function planOf(page) {
  return page.$eval("#plan", (plan) => ({
    action: plan.dataset.action,
    route: plan.dataset.route,
    error: plan.dataset.error,
    approvals: Number(plan.querySelector('[data-field="approvals"]').dataset.count),
    arrival: plan.querySelector('[data-field="expectedArrival"] dd').textContent,
    reasons: [...plan.querySelectorAll("#plan-reasons li")].map((li) => li.dataset.code),
  }));
}

/** Clicks "approve and send", enters the approvers' PINs in the dialog. */
export async function approve(page, approvers) {
  await page.waitForSelector("#approval-dialog[open]");
  for (const [i, [id, pin]] of approvers.entries()) {
    await page.selectOption(`#approver-${i}`, id);
    await page.fill(`#approver-pin-${i}`, pin);
  }
  await page.click("#approval-ok");
}

export async function submitRefund(page, approvers) {
  const before = await page.getAttribute("#refund-result", "data-id");
  await page.click("#refund-submit");
  await approve(page, approvers);
  await idle(page);
  await page.waitForFunction(
    (prev) => document.querySelector("#refund-result").dataset.id !== prev || document.querySelector("#approval-dialog").open,
    before,
  );
}

/** The state of transaction `id` as the transaction list shows it. */
export async function listedState(page, id) {
  await nav(page, "transactions");
  return page.getAttribute(`#records tr[data-id="${id}"]`, "data-state");
}

/** Every control a finger has to hit is at least 44 px high and wide; nothing scrolls sideways. */
export async function assertTouchTargets(page) {
  const small = await page.evaluate(() => {
    const selector = 'button, select, input:not([type="radio"]):not([type="checkbox"]):not([type="file"]), label.check, .segmented label, label.button, #records tr';
    return [...document.querySelectorAll(selector)]
      .filter((n) => n.offsetParent !== null || n.closest("dialog[open]"))
      .map((n) => ({ n, r: n.getBoundingClientRect() }))
      .filter(({ r }) => r.width > 0 && r.height > 0 && (r.width < 44 || r.height < 44))
      .map(({ n, r }) => `${n.tagName.toLowerCase()}#${n.id || ""}.${n.className || ""}[${n.textContent.trim().slice(0, 20)}] ${Math.round(r.width)}×${Math.round(r.height)}`);
  });
  assert.deepEqual(small, [], `touch targets below 44 px:\n  ${small.join("\n  ")}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px`);
}

/**
 * Screenshots of the current screen at the counter, kiosk and phone layouts
 * (target/e2e/<name>-<layout>.png), checking touch targets at each.
 */
export async function shots(page, name) {
  const original = page.viewportSize();
  for (const [layout, size] of Object.entries(LAYOUTS)) {
    await page.setViewportSize(size);
    await assertTouchTargets(page);
    await page.screenshot({ path: path.join(shotDir, `${name}-${layout}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
}

/** The page's visible and full text, for PAN checks. */
export async function pageText(page) {
  return page.evaluate(() => `${document.body.innerText}\n${document.body.textContent}`);
}
