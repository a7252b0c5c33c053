// The POS screen: it draws and collects input; posflow decides and remembers.
// Amounts stay strings from the input field to the module and back.
import init, { Terminal, SimulatedAcquirer } from "/pkg/posflow.js";

const config = {
  merchantId: "898440350480001",
  terminalId: "10000001",
  currency: "CNY",
  operator: { operatorId: "01", pin: "1234" },
};

/** [中文, English] labels for values the module returns; unknown values show as they are. */
const kindLabels = {
  sale: ["消费", "Sale"],
  void: ["撤销", "Void"],
  refund: ["退货", "Refund"],
  pre_auth: ["预授权", "Pre-auth"],
  pre_auth_cancel: ["预授权撤销", "Pre-auth cancel"],
  completion: ["预授权完成", "Completion"],
  completion_void: ["完成撤销", "Completion void"],
};
const stateLabels = {
  pending: ["处理中", "Pending"],
  sent: ["已发送", "Sent"],
  approved: ["已批准", "Approved"],
  declined: ["已拒绝", "Declined"],
  in_doubt: ["待确认", "In doubt"],
  reversed: ["已冲正", "Reversed"],
  manual_review: ["人工处理", "Manual review"],
  voided: ["已撤销", "Voided"],
  partially_refunded: ["部分退货", "Partly refunded"],
  refunded: ["已退货", "Refunded"],
  completed: ["已完成", "Completed"],
  cancelled: ["已取消", "Cancelled"],
  expired: ["已过期", "Expired"],
};
const labelOf = (labels, value) => labels[value] ?? [value, ""];
const bilingual = ([zh, en]) => (en ? `${zh} ${en}` : zh);

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("sale-form"),
  amount: $("amount"),
  card: $("card"),
  button: $("sale-button"),
  status: $("status"),
  error: $("error"),
  records: $("records"),
  noRecords: $("no-records"),
};

/** loading → ready ⇄ busy, or failed; tests wait on body[data-status]. */
function setStatus(status, zh, en) {
  document.body.dataset.status = status;
  ui.status.replaceChildren(zh + " ", el("span", { className: "en" }, en));
  ui.button.disabled = status !== "ready";
}

function el(tag, { dataset = {}, ...props } = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
}

function showError(err) {
  const isPosError = err?.name === "PosError";
  const code = isPosError ? err.code : "UNEXPECTED";
  if (!isPosError) console.error(err); // a bug in this page or the binding, not an outcome
  ui.error.dataset.code = code;
  ui.error.replaceChildren(
    el("strong", { className: "code" }, code),
    " ",
    el("span", { className: "message" }, err?.message ?? String(err)),
  );
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.error.replaceChildren();
  delete ui.error.dataset.code;
}

function cell(field, label, ...content) {
  return el("td", { dataset: { field, label } }, ...content);
}

function recordRow(rec) {
  const row = el(
    "tr",
    {},
    cell("kind", "类型 Kind", bilingual(labelOf(kindLabels, rec.kind))),
    cell("state", "状态 State", el("span", { className: "badge" }, bilingual(labelOf(stateLabels, rec.state)))),
    cell(
      "amount",
      "金额 Amount",
      el("span", { className: "money" }, rec.amount),
      " ",
      el("span", { className: "currency" }, rec.currency),
    ),
    cell("traceNo", "凭证号 Trace", rec.traceNo ?? "—"),
    cell("batchNo", "批次号 Batch", rec.batchNo ?? "—"),
    cell("rrn", "参考号 RRN", rec.rrn ?? "—"),
    cell("authCode", "授权码 Auth code", rec.authCode ?? "—"),
    cell("maskedPan", "卡号 Card", rec.maskedPan ?? "—"),
  );
  row.dataset.id = rec.id;
  row.dataset.state = rec.state;
  return row;
}

function addRecord(rec) {
  ui.records.prepend(recordRow(rec));
  ui.noRecords.hidden = true;
}

async function openTerminal() {
  await init();
  const host = new SimulatedAcquirer({ seed: 7 });
  const term = await Terminal.open({
    merchantId: config.merchantId,
    terminalId: config.terminalId,
    currency: config.currency,
    storage: { kind: "memory" },
    host,
    operators: [
      { id: "01", role: "cashier", pin: "1234" },
      { id: "90", role: "supervisor", pin: "246810" },
    ],
    locale: "zh-CN",
  });
  await term.signIn(config.operator);
  return term;
}

async function main() {
  $("merchant-id").textContent = config.merchantId;
  $("terminal-id").textContent = config.terminalId;
  $("currency").textContent = config.currency;

  let term;
  try {
    term = await openTerminal();
  } catch (err) {
    showError(err);
    setStatus("failed", "启动失败", "Terminal failed to start");
    return;
  }
  $("operator-id").textContent = config.operator.operatorId;
  setStatus("ready", "就绪，操作员已签到", "Ready, operator signed in");

  ui.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (document.body.dataset.status !== "ready") return;
    clearError();
    setStatus("busy", "交易处理中…", "Processing…");
    try {
      const rec = await term.sale({
        amount: ui.amount.value.trim(),
        card: { pan: ui.card.value },
        key: crypto.randomUUID(),
      });
      addRecord(rec);
      const [zh, en] = labelOf(stateLabels, rec.state);
      setStatus("ready", `${zh} · 凭证号 ${rec.traceNo}`, `${en || rec.state} · trace ${rec.traceNo}`);
    } catch (err) {
      showError(err);
      setStatus("ready", "交易未完成", "Not completed");
    }
  });
}

main();
