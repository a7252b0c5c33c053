// The POS screen: it draws and collects input; posflow decides and remembers.
// Amounts stay strings from the input field to the module and back. Every
// outcome shown here is what the module returned; every error is shown with
// its code and message.
import { $, el, newKey, formatTime, formatDate, parseLocalDateTime, buildKeypad, download } from "./util.js";
import { t, label, setLocale, getLocale, kindLabels, stateLabels, refundStatusLabels, methodLabels, recordLabels, purposeLabels,
  categoryLabels, lineStatusLabels, copyLabels } from "./i18n.js";
import { bridgeHost } from "./bridge.js";
import { config, clock, makeTransport, openTerminal, persistentAcquirer, checkBackup, deleteJournal, load } from "./terminal.js";
import { testCards } from "./cards.js";

const app = {
  term: null,
  acquirer: null,
  transport: null,
  storage: "memory",
  operator: null,
  screen: "signin",
  plan: null,
  planInput: null,
  settled: [],
  busyCount: 0,
  reconciliation: null,
  receiptId: null,
};

// ---------------------------------------------------------------- status

/** loading → signin → ready ⇄ busy, or failed; tests wait on body[data-status]. */
function setStatus(status, message) {
  document.body.dataset.status = status;
  $("status").textContent = message ?? "";
  for (const button of document.querySelectorAll("[data-needs-idle]")) {
    button.disabled = status !== "ready";
  }
  const plan = app.plan;
  $("refund-submit").disabled = status !== "ready" || !plan || plan.action === "reject";
}

function showError(err, target = $("error")) {
  const isPosError = err?.name === "PosError";
  const code = isPosError ? err.code : "UNEXPECTED";
  if (!isPosError) console.error(err); // a bug in this page or the binding, not an outcome
  target.dataset.code = code;
  const details = isPosError ? err.details ?? {} : {};
  const extra = [];
  if (details.attemptsLeft !== undefined) {
    extra.push(el("span", { className: "detail", dataset: { attemptsLeft: details.attemptsLeft } },
      `${t("attempts_left")}: ${details.attemptsLeft}`));
  }
  if (details.lockedUntil !== undefined) {
    extra.push(el("span", { className: "detail", dataset: { lockedUntil: details.lockedUntil } },
      `${t("locked_until")} ${formatTime(Number(details.lockedUntil))}`));
  }
  target.replaceChildren(
    el("strong", { className: "code" }, code),
    " ",
    el("span", { className: "message" }, err?.message ?? String(err)),
    ...extra.flatMap((x) => [" · ", x]),
  );
  target.hidden = false;
}

function clearError(target = $("error")) {
  target.hidden = true;
  target.replaceChildren();
  delete target.dataset.code;
}

// ---------------------------------------------------------------- progress

/** What the screen shows while the host is being waited for; never modal. */
const progress = {
  started: 0,
  timer: 0,
  what: "",
  start(what) {
    this.what = what;
    this.started = performance.now();
    $("progress").hidden = false;
    $("progress-what").textContent = what;
    $("progress-timeout").textContent = t("waiting_timeout", { s: Math.round(config.policy.hostTimeoutMs / 1000) });
    this.tick();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), 250);
  },
  onSend(request) {
    const purpose = request.message in purposeLabels
      ? label(purposeLabels, request.message)
      : label(kindLabels, request.message);
    const trace = request.original?.traceNo ?? request.traceNo;
    $("progress").dataset.message = request.message;
    $("progress-what").textContent = `${t("sending")}: ${purpose}${trace ? ` · ${t("trace")} ${trace}` : ""}`;
    if ($("progress").hidden) this.start($("progress-what").textContent);
  },
  tick() {
    const seconds = (performance.now() - this.started) / 1000;
    $("progress").dataset.elapsed = seconds.toFixed(1);
    $("progress-elapsed").textContent = `${t("elapsed")} ${seconds.toFixed(1)} ${t("seconds")}`;
  },
  stop() {
    clearInterval(this.timer);
    $("progress").hidden = true;
    delete $("progress").dataset.message;
  },
};

/**
 * Runs a command that may talk to the host. The screen stays usable (lists,
 * navigation, the simulator); only other commands wait, since the terminal
 * sends one request at a time.
 */
async function run(what, command, show) {
  clearError();
  app.busyCount += 1;
  setStatus("busy", what);
  progress.start(what);
  try {
    const result = await command();
    show?.(result); // drawn before the screen says "ready" again
    return result;
  } finally {
    app.busyCount -= 1;
    if (app.busyCount === 0) {
      progress.stop();
      setStatus("ready", t("ready"));
    }
    refreshAll();
  }
}

// ---------------------------------------------------------------- labels

function badge(table, value, extra = {}) {
  return el("span", { className: "badge", dataset: { value, ...extra } }, label(table, value));
}

function money(amount, currency = config.currency) {
  return el("span", { className: "amount-text" }, el("span", { className: "money" }, amount), " ",
    el("span", { className: "currency" }, currency));
}

function routeName(route) {
  return t(`route_${route}`);
}

function arrivalText(a) {
  if (!a) return "—";
  return a.earliest === a.latest ? a.earliest : `${a.earliest} – ${a.latest}`;
}

function field(name, labelText, value, dataset = {}) {
  return el("div", { className: "field", dataset: { field: name, ...dataset } },
    el("dt", {}, labelText), el("dd", {}, value ?? "—"));
}

// ---------------------------------------------------------------- navigation

const screens = ["signin", "sale", "preauth", "transactions", "detail", "refund", "tracker", "settlement", "reconcile", "receipts", "tools"];

function show(name) {
  if (!app.operator && name !== "signin") name = "signin";
  app.screen = name;
  document.body.dataset.screen = name;
  for (const s of screens) $(`screen-${s}`).hidden = s !== name;
  for (const b of document.querySelectorAll("[data-nav]")) {
    if (b.dataset.nav === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  refreshAll();
}

function refreshAll() {
  if (!app.term) return;
  renderClock();
  renderPendingReversal();
  if (app.screen === "transactions") renderRecords();
  if (app.screen === "preauth") renderPreAuths();
  if (app.screen === "tracker") renderTracker();
  if (app.screen === "detail" && app.detailId) renderDetail(app.detailId);
  if (app.screen === "receipts") renderReceiptChoices();
}

function renderClock() {
  const offsetDays = clock.offsetMs() / 86_400_000;
  $("clock").textContent = formatTime(clock.now()).slice(0, 16) +
    (Math.abs(offsetDays) >= 0.01 ? ` (${offsetDays > 0 ? "+" : ""}${offsetDays.toFixed(1)} d)` : "");
  $("clock").dataset.offsetMs = String(clock.offsetMs());
}

function renderPendingReversal() {
  const inDoubt = app.term.transactions({ state: "in_doubt" });
  let note = $("reversal-note");
  if (!note) {
    note = el("p", { id: "reversal-note", className: "note warn", hidden: true });
    $("storage-note").before(note);
  }
  note.hidden = inDoubt.length === 0;
  note.dataset.count = String(inDoubt.length);
  note.textContent = inDoubt.length ? `${t("reversal_pending")} (${inDoubt.map((r) => r.traceNo).join(", ")})` : "";
}

// ---------------------------------------------------------------- sign-in

function renderOperators() {
  const select = $("signin-operator");
  const current = select.value;
  select.replaceChildren(...config.operators.map((o) =>
    el("option", { value: o.id, textContent: `${o.id} · ${t(`role_${o.role}`)}` })));
  if (current) select.value = current;
  $("demo-operators").replaceChildren(...config.operators.map((o) =>
    el("li", {}, `${o.id} · ${t(`role_${o.role}`)} · ${t("pin")} ${o.pin}`)));
}

async function signIn(event) {
  event.preventDefault();
  clearError();
  const operatorId = $("signin-operator").value;
  const pin = $("signin-pin").value;
  $("signin-pin").value = "";
  let viewOnly = false;
  try {
    await app.term.signIn({ operatorId, pin });
  } catch (err) {
    showError(err);
    // Another tab is the writer: this one may still show the day.
    if (err?.code !== "READ_ONLY") return;
    viewOnly = true;
  }
  app.operator = operatorId;
  $("operator-id").textContent = viewOnly ? `${operatorId} · ${t("view_only")}` : operatorId;
  $("nav").hidden = false;
  $("signout").hidden = false;
  setStatus("ready", viewOnly ? t("view_only") : t("ready"));
  show(viewOnly ? "transactions" : "sale");
}

function signOut() {
  app.operator = null;
  $("operator-id").textContent = "—";
  $("nav").hidden = true;
  $("signout").hidden = true;
  setStatus("signin", t("signInPrompt"));
  show("signin");
}

// ---------------------------------------------------------------- card reader

function fillCardSelect(select) {
  const current = select.value;
  select.replaceChildren(
    ...testCards.map((c) => el("option", { value: c.pan, textContent: `${label({ x: c.label }, "x")} · …${c.pan.slice(-4)}` })),
    el("option", { value: "qr", textContent: t("qr_option") }),
  );
  if (current) select.value = current;
}

/** 18 digits like a WeChat Pay / Alipay payment code: what the scanner would read. */
function newPaymentCode() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return "13" + Array.from(bytes, (b) => String(b % 10)).join("");
}

function wireCardReader(select) {
  const qrField = select.parentElement.querySelector(".qr-field");
  const qrInput = qrField.querySelector("input");
  select.addEventListener("change", () => {
    qrField.hidden = select.value !== "qr";
    if (select.value === "qr" && !qrInput.value) qrInput.value = newPaymentCode();
  });
  return () => (select.value === "qr" ? { qr: qrInput.value.trim() } : { pan: select.value });
}

function resultBox(box, rec) {
  box.hidden = false;
  box.dataset.state = rec.state;
  box.dataset.id = rec.id;
  box.replaceChildren(...[
    el("div", { className: "result-head" }, badge(stateLabels, rec.state, { state: rec.state }), " ",
      label(kindLabels, rec.kind), " ", money(rec.amount, rec.currency)),
    el("dl", { className: "fields" },
      field("traceNo", t("trace"), rec.traceNo),
      field("rrn", t("rrn"), rec.rrn),
      field("authCode", t("auth_code"), rec.authCode),
      field("responseCode", t("response_code"), rec.responseCode),
      field("maskedPan", t("card"), rec.maskedPan)),
    rec.state === "in_doubt" ? el("p", { className: "note warn in-doubt-note" }, t("in_doubt_note")) : null,
  ].filter(Boolean));
}

// ---------------------------------------------------------------- sale and pre-auth

function wireSale() {
  const readCard = wireCardReader($("card"));
  $("sale-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (document.body.dataset.status !== "ready") return;
    const input = { amount: $("amount").value.trim(), card: readCard(), key: newKey("sale") };
    try {
      const rec = await run(t("nav_sale"), () => app.term.sale(input), (r) => resultBox($("sale-result"), r));
      $("status").textContent = `${label(stateLabels, rec.state)} · ${t("trace")} ${rec.traceNo}`;
    } catch (err) {
      showError(err);
    }
  });
  const readPreAuthCard = wireCardReader($("preauth-card"));
  $("preauth-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (document.body.dataset.status !== "ready") return;
    const input = { amount: $("preauth-amount").value.trim(), card: readPreAuthCard(), key: newKey("preauth") };
    try {
      await run(t("nav_preauth"), () => app.term.preAuth(input), (r) => resultBox($("preauth-result"), r));
    } catch (err) {
      showError(err);
    }
  });
}

function renderPreAuths() {
  const open = app.term.transactions({ kind: "pre_auth", state: "approved" });
  $("no-preauths").hidden = open.length > 0;
  $("preauths").replaceChildren(...open.map((rec) => {
    const max = rec.completable; // the module's Rule 3 maximum, not recomputed here
    const amountInput = el("input", { type: "text", inputMode: "decimal", value: rec.amount, dataset: { completeAmount: rec.id } });
    amountInput.setAttribute("aria-label", t("complete_amount"));
    const advice = el("input", { type: "checkbox", dataset: { advice: rec.id } });
    const complete = el("button", { type: "button", className: "primary", textContent: t("complete_button"), dataset: { complete: rec.id, needsIdle: "" } });
    const cancel = el("button", { type: "button", textContent: t("cancel_this"), dataset: { cancelPreauth: rec.id, needsIdle: "" } });
    complete.disabled = cancel.disabled = document.body.dataset.status !== "ready";
    complete.addEventListener("click", async () => {
      const input = { original: { id: rec.id }, amount: amountInput.value.trim(), advice: advice.checked, key: newKey("complete") };
      try {
        await run(t("complete_button"), () => app.term.completePreAuth(input), (r) => resultBox($("preauth-result"), r));
      } catch (err) {
        showError(err);
      }
    });
    cancel.addEventListener("click", async () => {
      try {
        await run(t("cancel_this"), () => app.term.cancelPreAuth({ original: { id: rec.id }, key: newKey("cancel") }),
          (r) => resultBox($("preauth-result"), r));
      } catch (err) {
        showError(err);
      }
    });
    return el("div", { className: "card-item", dataset: { id: rec.id, traceNo: rec.traceNo } },
      el("div", { className: "result-head" }, badge(stateLabels, rec.state, { state: rec.state }), " ",
        money(rec.amount), ` · ${t("trace")} ${rec.traceNo} · ${rec.maskedPan}`),
      el("p", { className: "hint" }, `${t("complete_max")} `,
        el("span", { className: "max", dataset: { max } }, max)),
      el("div", { className: "inline" },
        el("label", {}, el("span", {}, t("complete_amount")), amountInput),
        el("label", { className: "check" }, advice, el("span", {}, t("complete_advice"))),
        complete, cancel));
  }));
}

// ---------------------------------------------------------------- transactions

function fillFilterSelects() {
  const opts = (table, select) => {
    const current = select.value;
    select.replaceChildren(el("option", { value: "", textContent: t("all") }),
      ...Object.keys(table).map((k) => el("option", { value: k, textContent: label(table, k) })));
    select.value = current;
  };
  opts(stateLabels, $("filter-state"));
  opts(kindLabels, $("filter-kind"));
  opts(refundStatusLabels, $("tracker-status"));
  const op = $("filter-operator");
  const current = op.value;
  op.replaceChildren(el("option", { value: "", textContent: t("all") }),
    ...config.operators.map((o) => el("option", { value: o.id, textContent: o.id })));
  op.value = current;
}

/** The list shows at most this many, the newest: fetching and drawing
 *  every transaction of a year's journal would stall the screen. */
const PAGE = 200;

/** The records the filters ask for, newest first, at most a page: state,
 *  kind, operator, time and the search are all filtered by the terminal,
 *  so a search costs the same on a year's journal as on a day's (it used
 *  to build every record in JS on each keystroke). */
function currentRecords() {
  const filter = {};
  if ($("filter-state").value) filter.state = $("filter-state").value;
  if ($("filter-kind").value) filter.kind = $("filter-kind").value;
  if ($("filter-operator").value) filter.operatorId = $("filter-operator").value;
  const from = parseLocalDateTime($("filter-from").value);
  const to = parseLocalDateTime($("filter-to").value);
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  const q = $("search").value.trim();
  if (!q) return app.term.transactions({ ...filter, limit: PAGE });
  if (/^T\d{8}$/.test(q)) return app.term.transactions({ ...filter, id: q });
  // A search hits a trace number (leading zeros optional), an RRN or an
  // amount ("100" is "100.00"); what the text can be is asked for.
  const asks = [];
  if (/^\d{1,6}$/.test(q)) asks.push({ traceNo: q.padStart(6, "0") });
  if (/^[0-9A-Za-z]{12}$/.test(q)) asks.push({ rrn: q });
  if (/^\d{1,12}(\.\d{1,6})?$/.test(q)) asks.push({ amount: q });
  const found = new Map();
  for (const ask of asks) {
    let page = [];
    try {
      page = app.term.transactions({ ...filter, ...ask, limit: PAGE });
    } catch (e) {
      // An amount with more decimals than the currency has matches nothing.
      if (e?.code !== "INVALID_AMOUNT") throw e;
    }
    for (const rec of page) found.set(rec.id, rec);
  }
  return [...found.values()].sort((a, b) => idNumber(b) - idNumber(a)).slice(0, PAGE);
}

/** `T00000042` → 42: ids grow with time, so this orders newest first. */
function idNumber(rec) {
  return Number(rec.id.slice(1));
}

function cell(name, labelText, ...content) {
  return el("td", { dataset: { field: name, label: labelText } }, ...content);
}

function recordRow(rec) {
  const row = el("tr", { tabIndex: 0, dataset: { id: rec.id, state: rec.state, kind: rec.kind } },
    cell("createdAt", t("time"), formatTime(rec.createdAt)),
    cell("kind", t("kind"), label(kindLabels, rec.kind)),
    cell("state", t("state"), badge(stateLabels, rec.state, { state: rec.state })),
    cell("amount", t("amount"), el("span", { className: "money" }, rec.amount), " ", el("span", { className: "currency" }, rec.currency)),
    cell("traceNo", t("trace"), rec.traceNo),
    cell("batchNo", t("batch"), rec.batchNo),
    cell("rrn", t("rrn"), rec.rrn ?? "—"),
    cell("authCode", t("auth_code"), rec.authCode ?? "—"),
    cell("maskedPan", t("card"), rec.maskedPan ?? "—"),
    cell("operatorId", t("operator"), rec.operatorId));
  const open = () => openDetail(rec.id);
  row.addEventListener("click", open);
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
  return row;
}

function renderRecords() {
  let rows;
  try {
    rows = currentRecords();
  } catch (err) {
    showError(err);
    return;
  }
  $("records").replaceChildren(...rows.map(recordRow));
  $("no-records").hidden = rows.length > 0;
  $("more-records").hidden = rows.length < PAGE;
}

// ---------------------------------------------------------------- detail

function openDetail(id) {
  app.detailId = id;
  show("detail");
}

/** The journal records about transaction `id`, oldest first (what
 *  `journalEntries` finds costs those records, not the journal). None yet
 *  while the journal before a snapshot is still being read
 *  (JOURNAL_LOADING): the detail is drawn again once it is. */
function historyOf(id) {
  const term = app.term;
  try {
    return term.journalEntries({ transaction: id });
  } catch (err) {
    if (err.code !== "JOURNAL_LOADING") throw err;
    if (app.historyAwaited !== term) {
      app.historyAwaited = term;
      term.historyLoaded.then(() => {
        if (app.term === term && app.screen === "detail") refreshAll();
      }, () => {});
    }
    return [];
  }
}

function historyItem(entry) {
  const r = entry.record;
  const bits = [label(recordLabels, r.type)];
  if (r.purpose) bits.push(label(purposeLabels, r.purpose.for) + (r.purpose.attempt ? ` #${r.purpose.attempt}` : ""));
  if (r.kind) bits.push(label(kindLabels, r.kind), `${r.amount?.amount ?? ""} ${r.amount?.currency ?? ""}`, `${t("trace")} ${r.traceNo}`);
  if (r.code) bits.push(`${t("response_code")} ${r.code}`);
  if (r.cause) bits.push(r.cause);
  if (r.outcome) bits.push(r.outcome);
  if (r.reference) bits.push(`${t("reference")} ${r.reference}`);
  if (r.approvals?.length) bits.push(`${t("approved_by")} ${r.approvals.map((a) => a.operatorId ?? a.operator_id).join(", ")}`);
  return el("li", { dataset: { type: r.type, purpose: r.purpose?.for ?? "", seq: String(entry.seq) } },
    el("time", {}, formatTime(r.at)), " ", bits.join(" · "));
}

function renderDetail(id) {
  const [rec] = app.term.transactions({ id });
  if (!rec) return;
  $("detail").dataset.id = id;
  $("detail").dataset.state = rec.state;
  $("detail").replaceChildren(
    el("div", { className: "result-head" }, badge(stateLabels, rec.state, { state: rec.state }), " ",
      label(kindLabels, rec.kind), " ", money(rec.amount, rec.currency), ` · ${rec.id}`),
    el("dl", { className: "fields" },
      field("traceNo", t("trace"), rec.traceNo),
      field("batchNo", t("batch"), rec.batchNo),
      field("rrn", t("rrn"), rec.rrn),
      field("authCode", t("auth_code"), rec.authCode),
      field("responseCode", t("response_code"), rec.responseCode),
      field("maskedPan", t("card"), rec.maskedPan),
      field("method", t("method"), label(methodLabels, rec.paymentMethod)),
      field("refundable", t("refundable"), rec.refundable),
      field("operatorId", t("operator"), rec.operatorId),
      field("approvedBy", t("approved_by"), rec.approvedBy?.join(", ") || "—"),
      field("reason", t("reason"), rec.reason),
      field("originalId", t("original"), rec.originalId),
      field("createdAt", t("time"), formatTime(rec.createdAt))),
  );
  const related = [
    ...(rec.originalId ? app.term.transactions({ id: rec.originalId }) : []),
    ...app.term.transactions({ original: id }),
  ];
  $("detail-related").replaceChildren(...related.map((r) => {
    const b = el("button", { type: "button", className: "link", dataset: { open: r.id } },
      `${label(kindLabels, r.kind)} ${r.amount} · ${t("trace")} ${r.traceNo} · `, badge(stateLabels, r.state, { state: r.state }));
    b.addEventListener("click", () => openDetail(r.id));
    return el("li", {}, b);
  }));
  $("history").replaceChildren(...historyOf(id).map(historyItem));
  const isPreAuth = rec.kind === "pre_auth";
  $("detail-complete").hidden = !(isPreAuth && rec.state === "approved");
}

// ---------------------------------------------------------------- refund

function refundOriginal() {
  const by = document.querySelector('input[name="refund-by"]:checked').value;
  if (by === "journal") {
    return { [$("refund-ref-kind").value]: $("refund-ref").value.trim() };
  }
  const voucher = {
    date: $("v-date").value,
    amount: $("v-amount").value.trim(),
    rrn: $("v-rrn").value.trim(),
    traceNo: $("v-trace").value.trim(),
    batchNo: $("v-batch").value.trim(),
    card: { pan: $("v-pan").value.replace(/\s+/g, "") },
  };
  const auth = $("v-auth").value.trim();
  if (auth) voucher.authCode = auth;
  return { voucher };
}

function startRefund(rec) {
  document.querySelector('input[name="refund-by"][value="journal"]').checked = true;
  syncRefundMode();
  $("refund-ref-kind").value = "id";
  $("refund-ref").value = rec.id;
  $("refund-amount").value = "";
  invalidatePlan();
  show("refund");
}

function syncRefundMode() {
  const by = document.querySelector('input[name="refund-by"]:checked').value;
  $("refund-journal").hidden = by !== "journal";
  $("refund-voucher").hidden = by !== "voucher";
  if (by === "voucher" && !$("v-date").value) $("v-date").value = formatDate(clock.now());
}

/** Any change after the decision makes it stale: check again before sending. */
function invalidatePlan() {
  app.plan = null;
  app.planInput = null;
  $("plan-box").hidden = true;
  $("refund-submit").disabled = true;
}

function planNow(event) {
  event.preventDefault();
  clearError();
  $("refund-result").hidden = true;
  const input = { original: refundOriginal() };
  const amount = $("refund-amount").value.trim();
  if (amount) input.amount = amount;
  let plan;
  try {
    plan = app.term.planRefund(input);
  } catch (err) {
    invalidatePlan();
    showError(err);
    return;
  }
  app.plan = plan;
  app.planInput = input;
  renderPlan(plan);
}

function renderPlan(plan) {
  $("plan-box").hidden = false;
  const box = $("plan");
  box.dataset.action = plan.action;
  box.dataset.route = plan.route;
  if (plan.error) box.dataset.error = plan.error;
  else delete box.dataset.error;
  const fallbackList = plan.fallbacks.length
    ? el("fieldset", { className: "fallbacks" }, el("legend", {}, t("fallback_routes")),
      ...plan.fallbacks.map((f, i) => {
        const radio = el("input", { type: "radio", name: "fallback-route", value: f.route, checked: i === 0 });
        radio.addEventListener("change", syncDestination);
        return el("label", { className: "check", dataset: { route: f.route } }, radio,
          el("span", {}, `${routeName(f.route)} · ${t("plan_arrival")} ${arrivalText(f.expectedArrival)}`));
      }))
    : null;
  box.replaceChildren(
    el("p", { className: "plan-action" }, el("strong", {}, t(`action_${plan.action}`))),
    el("dl", { className: "fields" },
      field("amount", t("amount"), money(plan.amount)),
      field("refundable", t("refundable"), money(plan.refundable)),
      field("route", t("plan_route"), routeName(plan.route)),
      field("approvals", t("plan_approvals"),
        plan.approvals.length ? plan.approvals.map((r) => t(`role_${r}`)).join(" + ") : t("plan_none"),
        { count: String(plan.approvals.length) }),
      field("expectedArrival", t("plan_arrival"), arrivalText(plan.expectedArrival)),
      plan.error ? field("error", "code", el("strong", { className: "code" }, plan.error)) : null),
    el("p", {}, t("plan_reasons")),
    el("ul", { id: "plan-reasons", className: "reasons" },
      ...plan.reasons.map((r) => el("li", { dataset: { code: r.code } }, el("code", {}, r.code), " ", r.message))),
    fallbackList ?? "",
  );
  syncDestination();
  $("refund-submit").disabled = plan.action === "reject" || document.body.dataset.status !== "ready";
}

function chosenRoute() {
  return document.querySelector('input[name="fallback-route"]:checked')?.value;
}

function syncDestination() {
  const plan = app.plan;
  const fallback = plan?.action === "fallback" ? plan.fallbacks.find((f) => f.route === chosenRoute()) : null;
  $("destination").hidden = !fallback || fallback.needs.length === 0;
  for (const label of $("destination").querySelectorAll("[data-need]")) {
    label.hidden = !fallback?.needs.includes(label.dataset.need);
  }
}

async function submitPlan() {
  const plan = app.plan;
  if (!plan || plan.action === "reject") return;
  const reason = $("refund-reason").value.trim();
  const base = { original: app.planInput.original, reason };
  if (app.planInput.amount) base.amount = app.planInput.amount;
  if (plan.action === "fallback") {
    const route = chosenRoute();
    const needs = plan.fallbacks.find((f) => f.route === route)?.needs ?? [];
    base.destination = { route };
    if (needs.includes("holderName")) base.destination.holderName = $("dest-holder").value.trim();
    if (needs.includes("bank")) base.destination.bank = $("dest-bank").value.trim();
    if (needs.includes("account")) base.destination.account = $("dest-account").value.replace(/\s+/g, "");
  }
  const what = `${t(`action_${plan.action}`)} · ${plan.amount} ${config.currency}`;
  const send = async (approval) => {
    const input = { ...base, key: newKey("refund") };
    if (approval) input.approval = approval;
    return run(what, () => app.term.refund(input), (rec) => {
      resultBox($("refund-result"), rec);
      app.plan = null; // the decision is spent; check again for another
      $("refund-submit").disabled = true;
    });
  };
  if (plan.approvals.length === 0) {
    try {
      await send(undefined);
    } catch (err) {
      showError(err);
    }
    return;
  }
  approvalDialog.open({ count: plan.approvals.length, what, action: send });
}

// ---------------------------------------------------------------- approval dialog

const approvalErrors = new Set(["WRONG_PIN", "OPERATOR_LOCKED", "UNKNOWN_OPERATOR", "APPROVAL_REQUIRED",
  "APPROVER_NOT_AUTHORIZED", "SAME_PERSON_APPROVAL"]);

/**
 * Collects one or two supervisor PINs. The dialog closes as soon as the
 * request is handed over (the host is never waited for behind a modal); a
 * wrong PIN or a lockout reopens it with the reason.
 */
const approvalDialog = {
  open({ count, what, action, error }) {
    this.action = action;
    this.count = count;
    this.what = what;
    const dialog = $("approval-dialog");
    dialog.dataset.count = String(count);
    $("approval-what").textContent = what;
    const supervisors = config.operators.filter((o) => o.role !== "cashier");
    const previous = [...$("approvers").querySelectorAll("select")].map((s) => s.value);
    $("approvers").replaceChildren(...Array.from({ length: count }, (_, i) => {
      const select = el("select", { id: `approver-${i}`, name: "approver" },
        ...supervisors.map((o) => el("option", { value: o.id, textContent: `${o.id} · ${t(`role_${o.role}`)}` })));
      select.value = previous[i] ?? supervisors[Math.min(i, supervisors.length - 1)].id;
      const pin = el("input", { id: `approver-pin-${i}`, type: "password", inputMode: "numeric", autocomplete: "off", maxLength: 12 });
      return el("div", { className: "approver" },
        el("p", { className: "hint" }, i === 0 ? t("approver") : t("approval_second")),
        el("label", { htmlFor: `approver-${i}` }, t("approver")), select,
        el("label", { htmlFor: `approver-pin-${i}` }, t("pin")), pin);
    }));
    if (error) showError(error, $("approval-error"));
    else clearError($("approval-error"));
    if (!dialog.open) dialog.showModal();
    $("approver-pin-0").focus();
  },
  async submit(event) {
    event.preventDefault();
    const approvals = Array.from({ length: this.count }, (_, i) => ({
      operatorId: $(`approver-${i}`).value,
      pin: $(`approver-pin-${i}`).value,
    }));
    $("approval-dialog").close();
    try {
      await this.action(approvals.length === 1 ? approvals[0] : approvals);
    } catch (err) {
      if (err?.name === "PosError" && approvalErrors.has(err.code)) {
        this.open({ count: this.count, what: this.what, action: this.action, error: err });
      } else {
        showError(err);
      }
    }
  },
};

// ---------------------------------------------------------------- tracker

function renderTracker() {
  const filter = {};
  if ($("tracker-status").value) filter.status = $("tracker-status").value;
  let rows;
  try {
    rows = app.term.refunds(filter);
  } catch (err) {
    showError(err);
    return;
  }
  $("no-refunds").hidden = rows.length > 0;
  $("tracker").replaceChildren(...rows.map((r) => {
    const confirm = r.nextStep.code === "TRANSFER_AND_CONFIRM"
      ? el("button", { type: "button", className: "primary", textContent: t("confirm_fallback"), dataset: { confirm: r.id } })
      : null;
    confirm?.addEventListener("click", () => confirmDialog.open(r));
    return el("tr", { dataset: { id: r.id, status: r.status, overdue: String(r.overdue), route: r.route, kind: r.kind } },
      cell("createdAt", t("time"), formatTime(r.createdAt)),
      cell("kind", t("kind"), label(kindLabels, r.kind)),
      cell("status", t("status"), badge(refundStatusLabels, r.status, { status: r.status }),
        r.overdue ? el("span", { className: "badge overdue" }, t("overdue")) : null),
      cell("amount", t("amount"), el("span", { className: "money" }, r.amount), " ", el("span", { className: "currency" }, r.currency)),
      cell("route", t("plan_route"), r.routeName),
      cell("expectedArrival", t("plan_arrival"), arrivalText(r.expectedArrival)),
      cell("nextStep", t("next_step"), el("span", { dataset: { code: r.nextStep.code } }, r.nextStep.message), confirm ? " " : null, confirm),
      cell("destination", t("destination"), [r.destinationHolder, r.destinationAccount].filter(Boolean).join(" ") || "—"),
      cell("reference", t("reference"), r.reference ?? "—"));
  }));
}

const confirmDialog = {
  open(row) {
    this.row = row;
    $("confirm-what").textContent = `${row.routeName} · ${row.amount} ${row.currency} · ${row.destinationAccount ?? ""}`;
    $("confirm-reference").value = "";
    clearError($("confirm-error"));
    $("confirm-dialog").showModal();
  },
  submit(event) {
    event.preventDefault();
    try {
      app.term.confirmFallback({ refund: { id: this.row.id }, reference: $("confirm-reference").value.trim() });
    } catch (err) {
      showError(err, $("confirm-error"));
      return;
    }
    $("confirm-dialog").close();
    refreshAll();
  },
};

// ---------------------------------------------------------------- settlement

async function settle() {
  try {
    await run(t("settle_button"), () => app.term.settle(), (r) => {
      app.settled.unshift(r);
      renderSettlement(r);
    });
  } catch (err) {
    showError(err);
  }
}

function renderSettlement(report) {
  const box = $("settlement-result");
  box.hidden = false;
  box.dataset.balanced = String(report.balanced);
  box.dataset.uploaded = String(Boolean(report.uploaded));
  box.dataset.batchNo = report.batchNo;
  const known = new Set(["batchNo", "balanced", "uploaded", "debitCount", "debitAmount", "creditCount", "creditAmount"]);
  const other = Object.entries(report).filter(([k]) => !known.has(k));
  box.replaceChildren(
    el("div", { className: "result-head" },
      el("span", { className: "badge", dataset: { value: report.balanced ? "balanced" : "unbalanced" } },
        report.balanced ? t("balanced") : t("unbalanced")),
      report.uploaded ? el("span", { className: "badge", dataset: { value: "uploaded" } }, t("uploaded")) : null,
      ` ${t("batch")} ${report.batchNo}`),
    report.uploaded ? el("p", { className: "note warn uploaded-note" }, t("uploaded_note")) : "",
    el("table", { className: "totals" },
      el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, t("count")), el("th", {}, t("total")))),
      el("tbody", {},
        el("tr", { dataset: { total: "debit" } }, el("th", {}, t("debit")), el("td", {}, String(report.debitCount)), el("td", {}, report.debitAmount)),
        el("tr", { dataset: { total: "credit" } }, el("th", {}, t("credit")), el("td", {}, String(report.creditCount)), el("td", {}, report.creditAmount)))),
    other.length ? el("pre", { className: "raw" }, JSON.stringify(Object.fromEntries(other), null, 2)) : "",
  );
  $("settled").replaceChildren(...app.settled.map((r) =>
    el("li", { dataset: { batchNo: r.batchNo, balanced: String(r.balanced) } },
      `${t("batch")} ${r.batchNo} · ${r.balanced ? t("balanced") : t("unbalanced")}${r.uploaded ? ` · ${t("uploaded")}` : ""}`)));
}

// ---------------------------------------------------------------- reconciliation

/** A decimal string of the report, in its currency, shown as it came (never parsed). */
function moneyOf(amount, currency) {
  return amount == null ? "—" : money(amount, currency);
}

/** The ids of `credited` / `returned` (older builds give journal numbers). */
function txnId(x) {
  return typeof x === "number" ? `T${String(x).padStart(8, "0")}` : x;
}

async function reconcileWith(statement, source) {
  try {
    await run(t("reconcile_running"), () => app.term.reconcile(statement), (report) => {
      app.reconciliation = { report, source, at: clock.now() };
      renderReconciliation(app.reconciliation);
    });
  } catch (err) {
    showError(err);
  }
}

function wireReconcile() {
  $("fetch-statement").addEventListener("click", () => {
    if (document.body.dataset.status !== "ready") return;
    let statement;
    try {
      statement = app.acquirer.statement(config.terminalId);
    } catch (err) {
      showError(err);
      return;
    }
    return reconcileWith(statement, t("source_simulated"));
  });
  $("statement-file").addEventListener("change", async () => {
    const file = $("statement-file").files[0];
    $("statement-file").value = "";
    if (!file) return;
    const text = await file.text(); // CSV or JSON: the module tells them apart
    await reconcileWith(text, file.name);
  });
}

function renderReconciliation({ report, source, at }) {
  const box = $("reconcile");
  const { summary } = report;
  box.hidden = false;
  box.dataset.balanced = String(summary.balanced);
  box.dataset.unexplained = String(summary.unexplained);
  const zh = getLocale() !== "en";
  const nextStep = (finding) => (zh ? report.nextSteps[finding].zh : report.nextSteps[finding].en);
  const amount = (a) => moneyOf(a, report.currency);
  const byCategory = new Map(summary.perCategory.map((c) => [c.category, []]));
  for (const item of report.items) {
    if (!byCategory.has(item.category)) byCategory.set(item.category, []);
    byCategory.get(item.category).push(item);
  }
  const categoryRow = (c) => el("tr", { dataset: { category: c.category, count: String(c.count), unexplained: String(isUnexplained(c.category)) } },
    cell("category", t("recon_category"), label(categoryLabels, c.category),
      isUnexplained(c.category) && c.count > 0 ? el("span", { className: "badge", dataset: { value: "unexplained" } }, t("recon_unexplained_badge")) : null),
    cell("count", t("count"), String(c.count)),
    cell("terminalAmount", t("recon_terminal_amount"), amount(c.terminalAmount)),
    cell("acquirerAmount", t("recon_acquirer_amount"), amount(c.acquirerAmount)));
  const itemRow = (item) => {
    const open = item.txn
      ? el("button", { type: "button", className: "link", textContent: item.txn, dataset: { open: item.txn } })
      : null;
    open?.addEventListener("click", () => openDetail(item.txn));
    return el("tr", { dataset: { category: item.category, finding: item.finding, txn: item.txn ?? "", traceNo: item.traceNo } },
      cell("txn", t("recon_record"), open ?? t("recon_no_record")),
      cell("kind", t("kind"), label(kindLabels, item.kind)),
      cell("traceNo", t("trace"), `${item.batchNo}/${item.traceNo}`),
      cell("rrn", t("rrn"), item.rrn ?? "—"),
      cell("terminalAmount", t("recon_terminal_amount"), amount(item.terminalAmount)),
      cell("acquirerAmount", t("recon_acquirer_amount"), amount(item.acquirerAmount)),
      cell("acquirerStatus", t("recon_acquirer_status"), item.acquirerStatus ? label(lineStatusLabels, item.acquirerStatus) : "—"),
      cell("nextStep", t("next_step"), el("span", { className: "next-step" }, nextStep(item.finding))));
  };
  const itemHead = () => el("thead", {}, el("tr", {}, ...["recon_record", "kind", "trace", "rrn", "recon_terminal_amount",
    "recon_acquirer_amount", "recon_acquirer_status", "next_step"].map((k) => el("th", { scope: "col" }, t(k)))));
  const sections = [...byCategory].filter(([, items]) => items.length).map(([category, items]) =>
    el("section", { className: "recon-category", dataset: { category } },
      el("h3", {}, `${label(categoryLabels, category)} (${items.length})`),
      el("div", { className: "table-scroll" },
        el("table", { className: "records recon-items" }, itemHead(), el("tbody", {}, ...items.map(itemRow))))));
  box.replaceChildren(
    el("div", { className: "result-head" },
      el("span", { className: "badge", dataset: { value: summary.balanced ? "balanced" : "unbalanced" } },
        summary.balanced ? t("recon_balanced") : t("recon_unbalanced")),
      ` ${t("recon_source")}: ${source} · ${report.dates.join(", ") || "—"}`),
    el("dl", { className: "fields" },
      field("unexplained", t("recon_unexplained"), String(summary.unexplained)),
      field("terminalNet", t("recon_terminal_net"), amount(summary.terminalNet)),
      field("acquirerNet", t("recon_acquirer_net"), amount(summary.acquirerNet)),
      field("fees", t("recon_fees"), amount(summary.fees)),
      field("credited", t("recon_credited"), String(report.credited.length), { ids: report.credited.map(txnId).join(" ") }),
      field("returned", t("recon_returned"), String(report.returned.length), { ids: report.returned.map(txnId).join(" ") }),
      field("otherTerminalLines", t("recon_other_lines"), String(summary.otherTerminalLines)),
      field("linesWithoutEffect", t("recon_no_effect"), String(summary.linesWithoutEffect)),
      field("at", t("time"), formatTime(at))),
    el("div", { className: "table-scroll" },
      el("table", { className: "recon-summary" },
        el("thead", {}, el("tr", {}, ...["recon_category", "count", "recon_terminal_amount", "recon_acquirer_amount"]
          .map((k) => el("th", { scope: "col" }, t(k))))),
        el("tbody", {}, ...summary.perCategory.map(categoryRow)))),
    ...sections,
  );
}

/** The categories the day cannot balance with (the module's rule, mirrored for the badge only). */
function isUnexplained(category) {
  return ["terminal_only", "acquirer_only", "amount_mismatch", "returned_or_reversed", "unresolved"].includes(category);
}

// ---------------------------------------------------------------- receipts

const slipLayouts = [
  { copy: "merchant", width: 32 },
  { copy: "cardholder", width: 32 },
  { copy: "merchant", width: 48 },
  { copy: "cardholder", width: 48 },
];

function openReceipts(id) {
  app.receiptId = id;
  show("receipts");
}

function receiptOptions(copy, width, format) {
  const options = { copy, width, merchantName: config.merchantName };
  if ($("receipt-reprint").checked) options.reprint = true;
  if ($("receipt-negative").checked) options.negative = true;
  if (format) options.format = format;
  return options;
}

function renderReceiptChoices() {
  if (typeof app.term.receipt !== "function") return;
  const all = app.term.transactions({ limit: PAGE }); // newest first
  // One chosen from an older transaction's detail stays in the list.
  const chosen = app.receiptId && !all.some((r) => r.id === app.receiptId)
    ? app.term.transactions({ id: app.receiptId }) : [];
  all.push(...chosen);
  if (!app.receiptId || !all.some((r) => r.id === app.receiptId)) app.receiptId = all[0]?.id ?? null;
  $("receipt-txn").replaceChildren(...all.map((r) => el("option", { value: r.id,
    textContent: `${label(kindLabels, r.kind)} ${r.amount} ${r.currency} · ${t("trace")} ${r.traceNo} · ${label(stateLabels, r.state)}` })));
  if (app.receiptId) $("receipt-txn").value = app.receiptId;
  $("no-receipts").hidden = all.length > 0;
  renderReceipts();
}

function renderReceipts() {
  const id = app.receiptId;
  const box = $("receipts");
  box.hidden = !id;
  clearError($("receipt-error"));
  if (!id) return;
  box.dataset.id = id;
  try {
    box.replaceChildren(...slipLayouts.map(({ copy, width }) => {
      const lines = app.term.receipt(id, receiptOptions(copy, width));
      const print = el("button", { type: "button", textContent: t("print"), dataset: { print: `${copy}-${width}` } });
      print.addEventListener("click", () => printReceipt(id, copy, width));
      return el("figure", { className: "slip-box", dataset: { copy, width: String(width) } },
        el("figcaption", {}, `${label(copyLabels, copy)} · ${width === 32 ? "58 mm" : "80 mm"} · ${width} ${t("columns")}`, " ", print),
        el("pre", { className: `slip w${width}`, textContent: lines.join("\n") }));
    }));
  } catch (err) {
    box.replaceChildren();
    showError(err, $("receipt-error"));
  }
}

/**
 * Prints through the module's HTML (print CSS sized to the paper): loaded
 * into an iframe, which then opens the browser's print dialog. On a
 * smart-POS, the WebView's print bridge or the vendor's printer SDK takes
 * the same HTML, or the lines above.
 */
function printReceipt(id, copy, width) {
  let html;
  try {
    html = app.term.receipt(id, receiptOptions(copy, width, "html"));
  } catch (err) {
    showError(err, $("receipt-error"));
    return;
  }
  const frame = $("print-frame");
  frame.hidden = false;
  frame.dataset.copy = copy;
  frame.dataset.width = String(width);
  frame.style.width = width === 32 ? "62mm" : "84mm";
  frame.onload = () => {
    frame.onload = null;
    frame.dataset.loaded = `${copy}-${width}`;
    frame.contentWindow.focus();
    frame.contentWindow.print();
  };
  delete frame.dataset.loaded;
  frame.srcdoc = html;
}

function wireReceipts() {
  $("receipt-txn").addEventListener("change", () => {
    app.receiptId = $("receipt-txn").value;
    $("print-frame").hidden = true;
    renderReceipts();
  });
  $("receipt-options").addEventListener("change", (e) => {
    if (e.target.type !== "checkbox") return;
    $("print-frame").hidden = true;
    renderReceipts();
  });
  $("receipt-options").addEventListener("submit", (e) => e.preventDefault());
}

// ---------------------------------------------------------------- API not in this build yet

function renderMissingApis() {
  for (const note of document.querySelectorAll("[data-api]")) {
    const api = note.dataset.api;
    const has = app.term && typeof app.term[api] === "function";
    note.hidden = has;
    note.textContent = has ? "" : t("api_missing", { api: `term.${api}()` });
  }
}

// ---------------------------------------------------------------- simulator, clock, journal

function renderFaults() {
  $("faults").textContent = app.transport.queued.length
    ? app.transport.queued.map((f) => t(`fault_${f}`)).join(" → ")
    : t("fault_none");
  $("faults").dataset.count = String(app.transport.queued.length);
}

function wireTools() {
  $("fault-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearError();
    const next = $("fault-next").value;
    const fault = { next };
    if (next === "decline") fault.code = $("fault-code").value.trim();
    try {
      app.transport.inject(fault);
    } catch (err) {
      showError(err);
    }
    renderFaults();
  });
  $("latency").addEventListener("change", () => {
    const ms = Number($("latency").value);
    if (Number.isFinite(ms) && ms >= 0) app.transport.latencyMs = ms;
  });
  $("clock-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const days = Number($("clock-days").value);
    if (Number.isFinite(days) && days > 0) clock.advanceDays(days);
  });
  clock.onChange(() => refreshAll());
  $("export-button").addEventListener("click", async () => {
    // After an open from a snapshot the journal before it is read in the
    // background: wait for it (exportJournal() would throw JOURNAL_LOADING).
    const term = app.term;
    const button = $("export-button");
    button.disabled = true;
    try {
      await term.historyLoaded;
      const text = term.exportJournal();
      download(`posflow-journal-${config.terminalId}-${formatDate(clock.now())}.json`, text);
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  });
  $("import-file").addEventListener("change", async () => {
    const file = $("import-file").files[0];
    $("import-file").value = "";
    if (!file) return;
    const journal = await file.text();
    await reopen({ journal, notice: "imported" });
  });
}

const eventLog = {
  add(entry) {
    const li = historyItem(entry);
    $("events").prepend(li);
    while ($("events").children.length > 300) $("events").lastChild.remove();
  },
  async load() {
    const term = app.term;
    $("events").replaceChildren();
    try {
      await term.historyLoaded;
    } catch (err) {
      showError(err);
      return;
    }
    if (app.term !== term) return;
    $("events").replaceChildren();
    for (const e of term.journalEntries({ last: 300 })) this.add(e);
  },
};

let refreshQueued = false;
function onEvent(record) {
  eventLog.add({ seq: record.seq, record });
  if (!refreshQueued) {
    refreshQueued = true;
    queueMicrotask(() => {
      refreshQueued = false;
      refreshAll();
      renderFaults();
    });
  }
}

// ---------------------------------------------------------------- open, language, import

function storageText() {
  if (app.storage !== "indexeddb") return t("storage_memory");
  const where = t("storage_idb", { name: config.storageName });
  return app.term?.readOnly ? `${where} ${t("storage_read_only")}` : where;
}

function renderStorage() {
  const note = $("storage-note");
  note.hidden = false;
  note.dataset.storage = app.storage;
  note.dataset.readOnly = String(Boolean(app.term?.readOnly));
  note.classList.toggle("warn", Boolean(app.term?.readOnly));
  note.textContent = storageText();
  document.body.dataset.readOnly = String(Boolean(app.term?.readOnly));
  $("storage-name").textContent = app.storage === "indexeddb" ? `IndexedDB · ${config.storageName}` : t("storage_memory_short");
}

async function attach({ term, storage }) {
  app.term = term;
  app.storage = storage;
  term.on("event", onEvent);
  renderStorage();
  eventLog.load();
  renderMissingApis();
}

/** Lets the journal go (its lock and its database connection). */
async function detach() {
  const term = app.term;
  if (!term) return;
  term.off("event", onEvent);
  app.term = null;
  await term.close();
  term.free?.();
}

/**
 * Reopens the terminal from its own journal: in the other language, or from
 * an imported backup. The terminal replays the journal; an operator signs in
 * again. A backup is checked before today's journal is given up for it.
 */
async function reopen({ journal, notice }) {
  if (document.body.dataset.status === "busy") return;
  clearError();
  // A year's journal takes seconds to check and restore: say how far.
  let records;
  const progressAs = (key) => ({ stage, done, total }) => {
    if (stage === "replay") records = total;
    $("status").textContent = t(stage === "save" ? "progress_save" : key, { done, total });
  };
  if (journal !== undefined) {
    const [status, said] = [document.body.dataset.status, $("status").textContent];
    setStatus("loading", t("starting"));
    try {
      await checkBackup(journal, getLocale(), progressAs("progress_check"));
    } catch (err) {
      setStatus(status, said);
      showError(err);
      return;
    }
  }
  // Memory storage keeps nothing: carry the day over as an import.
  const text = journal ?? (app.storage === "memory" ? app.term.exportJournal() : undefined);
  const storage = app.storage;
  setStatus("loading", t("starting"));
  let opened;
  try {
    await detach();
    // An import goes into empty storage only: it replaces this journal.
    if (journal !== undefined && storage === "indexeddb" && (await deleteJournal()) === "blocked") {
      $("status").textContent = t("delete_blocked");
    }
    opened = await openTerminal({
      host: app.transport, locale: getLocale(), journal: text, storage, onProgress: progressAs("progress_replay"),
    });
  } catch (err) {
    showError(err);
    opened = await openTerminal({ host: app.transport, locale: getLocale(), storage }).catch(() => null);
    if (!opened) {
      setStatus("failed", t("startFailed"));
      return;
    }
  }
  await attach(opened);
  signOut();
  if (notice === "imported") {
    $("status").textContent = t("imported", { n: records });
  } else if (notice !== undefined) {
    $("status").textContent = t("relocale");
  }
}

/**
 * A new day for demos: the journal's database and the simulated host's
 * memory are deleted, and the page starts again empty. Two clicks, so a
 * stray tap does not lose the day.
 */
function wireNewDay() {
  $("new-day").addEventListener("click", () => {
    $("new-day-confirm").hidden = false;
    $("new-day-confirm").focus();
  });
  $("new-day-confirm").addEventListener("click", async () => {
    if (document.body.dataset.status === "busy") return;
    setStatus("loading", t("starting"));
    try {
      await detach();
      const deleted = app.storage === "indexeddb" ? await deleteJournal() : "deleted";
      app.acquirer.forget();
      sessionStorage.removeItem("posflow.clockOffsetMs");
      if (deleted === "blocked") {
        $("status").textContent = t("delete_blocked");
        return;
      }
    } catch (err) {
      showError(err);
    }
    location.reload();
  });
}

function wireLanguage() {
  $("lang-switch").addEventListener("click", async () => {
    const next = getLocale() === "en" ? "zh-CN" : "en";
    localStorage.setItem("posflow.locale", next);
    setLocale(next);
    relabel();
    if (app.term) await reopen({ notice: "relocale" });
  });
}

/** Redraws what the page wrote itself in the new language. */
function relabel() {
  renderOperators();
  fillCardSelect($("card"));
  fillCardSelect($("preauth-card"));
  fillFilterSelects();
  fillReasons();
  if (app.transport) renderFaults();
  renderMissingApis();
  if (app.plan) renderPlan(app.plan);
  if (app.term) renderStorage();
  if (app.reconciliation) renderReconciliation(app.reconciliation);
  refreshAll();
}

function fillReasons() {
  $("reasons").replaceChildren(...["reason_wrong_amount", "reason_return", "reason_cancel"].map((k) =>
    el("option", { value: t(k) })));
}

// ---------------------------------------------------------------- main

function wire() {
  for (const pad of document.querySelectorAll(".keypad")) buildKeypad(pad);
  for (const b of document.querySelectorAll("[data-nav]")) b.addEventListener("click", () => show(b.dataset.nav));
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  for (const id of ["sale-button", "preauth-button", "plan-button", "settle-button", "signin-button"]) {
    $(id).dataset.needsIdle = "";
  }
  $("signin-button").removeAttribute("data-needs-idle");
  wireSale();
  $("filters").addEventListener("input", renderRecords);
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  $("tracker-status").addEventListener("change", renderTracker);
  $("detail-back").addEventListener("click", () => show("transactions"));
  $("detail-refund").addEventListener("click", () => {
    const [rec] = app.term.transactions({ id: app.detailId });
    if (rec) startRefund(rec);
  });
  $("detail-complete").addEventListener("click", () => show("preauth"));
  $("detail-receipt").addEventListener("click", () => openReceipts(app.detailId));
  for (const r of document.querySelectorAll('input[name="refund-by"]')) {
    r.addEventListener("change", () => { syncRefundMode(); invalidatePlan(); });
  }
  $("refund-form").addEventListener("submit", planNow);
  $("refund-form").addEventListener("input", invalidatePlan);
  $("refund-submit").addEventListener("click", submitPlan);
  $("approval-form").addEventListener("submit", (e) => approvalDialog.submit(e));
  $("approval-cancel").addEventListener("click", () => $("approval-dialog").close());
  $("confirm-form").addEventListener("submit", (e) => confirmDialog.submit(e));
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close());
  $("settle-button").addEventListener("click", settle);
  wireTools();
  wireNewDay();
  wireReconcile();
  wireReceipts();
  wireLanguage();
}

async function main() {
  const params = new URLSearchParams(location.search);
  const locale = params.get("lang") ?? localStorage.getItem("posflow.locale") ?? "zh-CN";
  setLocale(locale);
  $("merchant-id").textContent = config.merchantId;
  $("terminal-id").textContent = config.terminalId;
  for (const c of document.querySelectorAll(".currency-code")) c.textContent = config.currency;
  wire();
  relabel();
  setStatus("loading", t("starting"));
  window.__posflowClock = clock; // test hook: advance the terminal's clock
  try {
    await load();
    app.acquirer = persistentAcquirer();
    app.transport = window.PosBridge
      ? // A smart-POS shell: the native acquirer link is the host (bridge.js).
        // The simulator panel's faults do not apply to it.
        {
          ...bridgeHost(window.PosBridge, { onSend: (request) => progress.onSend(request) }),
          latencyMs: 0,
          queued: [],
          inject() {},
        }
      : makeTransport(app.acquirer, {
          onSend: (request) => progress.onSend(request),
          onSettled: () => {},
        });
    $("latency").value = String(app.transport.latencyMs);
    renderFaults();
    await attach(await openTerminal({ host: app.transport, locale: getLocale() }));
  } catch (err) {
    showError(err);
    setStatus("failed", t("startFailed"));
    return;
  }
  window.__posflow = app; // for debugging in the console; tests drive the screen
  window.addEventListener("pagehide", () => app.term?.close()); // the next page is the writer at once
  setStatus("signin", t("signInPrompt"));
  $("signin-button").disabled = false;
  show("signin");
}

main();
