// Screen text in both languages. The module's own messages (errors, plan
// reasons, next steps) come from posflow in the terminal's locale; this file
// holds only what the page itself says.

/** key → [zh-CN, en] */
const text = {
  title: ["收银台", "POS terminal"],
  merchant: ["商户号", "Merchant"],
  terminal: ["终端号", "Terminal"],
  operator: ["操作员", "Operator"],
  clock: ["时钟", "Clock"],
  clockReal: ["实时", "real time"],
  language: ["English", "中文"],
  signOut: ["签退", "Sign out"],
  starting: ["正在启动…", "Starting…"],
  startFailed: ["启动失败", "Terminal failed to start"],
  signInPrompt: ["请操作员签到", "Operator sign-in"],
  ready: ["就绪", "Ready"],
  nav_sale: ["消费", "Sale"],
  nav_preauth: ["预授权", "Pre-auth"],
  nav_transactions: ["交易记录", "Transactions"],
  nav_refund: ["退货/撤销", "Refund / void"],
  nav_tracker: ["退款跟踪", "Refund tracker"],
  nav_settlement: ["结算", "Settlement"],
  nav_reconcile: ["对账", "Reconciliation"],
  nav_receipts: ["签购单", "Receipts"],
  nav_tools: ["模拟器与备份", "Simulator & backup"],
  signin_title: ["操作员签到", "Operator sign-in"],
  signin_operator: ["操作员", "Operator"],
  pin: ["密码", "PIN"],
  signin_button: ["签到", "Sign in"],
  signin_demo: ["演示操作员", "Demo operators"],
  role_cashier: ["收银员", "cashier"],
  role_supervisor: ["主管", "supervisor"],
  role_admin: ["管理员", "admin"],
  amount: ["金额", "Amount"],
  card_reader: ["模拟读卡器", "Simulated card reader"],
  test_card: ["测试卡", "Test card"],
  qr_code: ["付款码", "Payment code"],
  qr_option: ["扫码支付（输入付款码）", "QR wallet (enter payment code)"],
  sale_button: ["消费", "Charge"],
  preauth_button: ["预授权冻结", "Freeze (pre-auth)"],
  last_result: ["本笔结果", "Last result"],
  in_doubt_note: [
    "结果未知：该笔交易待确认。下一笔交易前，终端会先发送冲正。",
    "Outcome unknown: the transaction is in doubt. The terminal sends a reversal before the next transaction.",
  ],
  waiting_host: ["等待主机应答", "Waiting for the host"],
  waiting_timeout: [
    "{s} 秒内无应答：交易记为“待确认”，并在下一笔交易前自动冲正。",
    "No answer within {s} s: the transaction becomes “in doubt” and is reversed automatically before the next one.",
  ],
  sending: ["正在发送", "Sending"],
  elapsed: ["已等待", "elapsed"],
  seconds: ["秒", "s"],
  kind: ["类型", "Kind"],
  state: ["状态", "State"],
  trace: ["凭证号", "Trace"],
  batch: ["批次号", "Batch"],
  rrn: ["参考号", "RRN"],
  auth_code: ["授权码", "Auth code"],
  card: ["卡号", "Card"],
  time: ["时间", "Time"],
  refundable: ["可退金额", "Refundable"],
  response_code: ["应答码", "Response code"],
  method: ["支付方式", "Method"],
  approved_by: ["授权人", "Approved by"],
  reason: ["原因", "Reason"],
  original: ["原交易", "Original"],
  all: ["全部", "All"],
  filter_from: ["从", "From"],
  filter_to: ["到", "To"],
  search: ["搜索（凭证号 / 参考号 / 金额）", "Search (trace / RRN / amount)"],
  no_records: ["暂无交易", "No transactions"],
  refresh: ["刷新", "Refresh"],
  detail_title: ["交易详情", "Transaction detail"],
  history: ["处理记录", "History"],
  related: ["关联交易", "Related transactions"],
  back: ["返回", "Back"],
  refund_this: ["退货 / 撤销…", "Refund / void…"],
  complete_this: ["预授权完成…", "Complete…"],
  cancel_this: ["预授权撤销", "Cancel pre-auth"],
  refund_title: ["退货 / 撤销", "Refund / void"],
  refund_step_original: ["1 原交易", "1 Original"],
  refund_by_journal: ["本机交易", "In this journal"],
  refund_by_voucher: ["按签购单录入", "From the voucher"],
  refund_ref_kind: ["查找方式", "Find by"],
  by_trace: ["凭证号", "Trace number"],
  by_rrn: ["参考号", "RRN"],
  by_id: ["交易编号", "Transaction id"],
  refund_ref: ["原交易号码", "Original's number"],
  voucher_date: ["交易日期", "Date"],
  voucher_amount: ["原交易金额", "Original amount"],
  voucher_auth: ["授权码（无则留空）", "Auth code (blank if missing)"],
  voucher_pan: ["卡号", "Card number"],
  refund_step_amount: ["2 金额与原因", "2 Amount and reason"],
  refund_amount: ["退款金额（留空为全额）", "Amount (blank = all that is left)"],
  refund_reason: ["退货原因", "Reason"],
  reason_wrong_amount: ["金额输错", "wrong amount"],
  reason_return: ["顾客退货", "customer return"],
  reason_cancel: ["取消订单", "order cancelled"],
  plan_button: ["查看处理方案", "Check what will happen"],
  refund_step_plan: ["3 处理方案（尚未发送）", "3 Decision (nothing sent yet)"],
  plan_action: ["处理方式", "Action"],
  action_void: ["撤销（当批、全额，资金不动）", "Void (open batch, full amount; money never moves)"],
  action_refund: ["原路退货", "Refund to the original route"],
  action_fallback: ["原路不可退：改用其他途径", "Original route closed: another route"],
  action_pre_auth_cancel: ["预授权撤销", "Pre-auth cancel"],
  action_reject: ["不能退款", "Refused"],
  plan_route: ["退款途径", "Route"],
  plan_approvals: ["需要授权", "Approvals needed"],
  plan_arrival: ["预计到账", "Expected arrival"],
  plan_reasons: ["依据", "Why"],
  plan_none: ["无需授权", "none"],
  fallback_routes: ["可选途径", "Routes offered"],
  dest_holder: ["收款人姓名", "Holder name"],
  dest_bank: ["开户银行", "Bank"],
  dest_account: ["收款账号", "Account"],
  submit_plan: ["提交并授权…", "Approve and send…"],
  route_original: ["原路退回", "original route"],
  route_settlement_account: ["入账账户转账", "settlement account transfer"],
  route_other_card: ["退至他行卡", "another bank card"],
  route_wallet_transfer: ["钱包转账", "wallet transfer"],
  route_cash: ["现金", "cash"],
  route_none: ["无", "none"],
  approval_title: ["主管授权", "Supervisor approval"],
  approval_second: ["第二授权人（不同人员）", "Second approver (another person)"],
  approver: ["授权人", "Approver"],
  approve: ["确认授权", "Approve"],
  cancel: ["取消", "Cancel"],
  attempts_left: ["剩余尝试次数", "attempts left"],
  locked_until: ["锁定至", "locked until"],
  preauth_title: ["预授权（冻结资金）", "Pre-authorisation (freeze funds)"],
  preauth_open: ["未完成的预授权", "Open pre-authorisations"],
  preauth_none: ["没有未完成的预授权", "No open pre-authorisation"],
  complete_amount: ["完成金额", "Completion amount"],
  complete_max: ["最多", "up to"],
  complete_advice: ["离线通知", "offline advice"],
  complete_button: ["完成", "Complete"],
  tracker_title: ["退款跟踪", "Refund tracker"],
  status: ["状态", "Status"],
  overdue: ["已逾期", "overdue"],
  next_step: ["下一步", "Next step"],
  destination: ["收款账户", "Destination"],
  reference: ["转账凭证号", "Reference"],
  confirm_fallback: ["确认已转账…", "Confirm transfer…"],
  confirm_title: ["确认线下退款已完成", "Confirm the fallback refund was paid"],
  confirm_ok: ["确认", "Confirm"],
  no_refunds: ["暂无退款", "No refunds"],
  settlement_title: ["批结算", "Batch settlement"],
  settle_button: ["结算", "Settle"],
  balanced: ["对平", "Balanced"],
  unbalanced: ["不平", "Unbalanced"],
  debit: ["借记（消费/完成）", "Debits (sales, completions)"],
  credit: ["贷记（退货）", "Credits (refunds)"],
  count: ["笔数", "Count"],
  total: ["金额", "Amount"],
  settled_batches: ["本次已结算批次", "Batches settled this session"],
  reconcile_title: ["对账", "Reconciliation"],
  receipts_title: ["签购单预览", "Receipt preview"],
  api_missing: [
    "此版本的 posflow 尚未提供该功能（{api}）。合并后此页面自动启用。",
    "This build of posflow does not have this yet ({api}). The screen turns on when it lands.",
  ],
  tools_title: ["模拟收单主机", "Simulated acquirer"],
  fault_next: ["下一笔请求", "Next request"],
  fault_none: ["正常", "normal"],
  fault_inject: ["注入故障", "Inject fault"],
  fault_timeout: ["超时（主机已处理，无应答）", "timeout (host processed it, no reply)"],
  fault_lost_reply: ["应答丢失", "lost reply"],
  fault_duplicate_reply: ["重复应答", "duplicate reply"],
  fault_late_reply: ["迟到应答", "late reply"],
  fault_transport_error: ["网络错误（未到达主机）", "transport error (never reached the host)"],
  fault_decline: ["拒绝（应答码）", "decline (response code)"],
  fault_hang: ["主机无响应（等到终端超时）", "host hangs (until the terminal's timeout)"],
  injected: ["已排队的故障", "Queued faults"],
  latency: ["网络延迟（毫秒）", "Network latency (ms)"],
  clock_title: ["模拟时钟", "Simulated clock"],
  clock_advance: ["时钟前进（天）", "Advance clock (days)"],
  clock_apply: ["前进", "Advance"],
  journal_title: ["流水备份", "Journal backup"],
  export: ["导出流水", "Export journal"],
  import: ["导入流水", "Import journal"],
  imported: ["已导入流水，共 {n} 条记录。请重新签到。", "Journal imported: {n} records. Sign in again."],
  relocale: ["语言已切换，请重新签到。", "Language changed. Sign in again."],
  storage_memory: [
    "流水仅保存在内存中：刷新页面会丢失当天记录（此版本尚无 IndexedDB 存储）。",
    "The journal is kept in memory only: a reload loses the day (this build has no IndexedDB storage yet).",
  ],
  storage_idb: ["流水保存在本机 IndexedDB。", "The journal is kept in this browser's IndexedDB."],
  events_title: ["终端事件（流水）", "Terminal events (journal)"],
  reversal_pending: ["有待发送的冲正，将在下一笔交易前发送。", "A reversal is pending; it is sent before the next transaction."],
};

/** Values the module returns, shown as [zh, en]; unknown values show as they are. */
export const kindLabels = {
  sale: ["消费", "Sale"],
  void: ["消费撤销", "Void"],
  refund: ["退货", "Refund"],
  pre_auth: ["预授权", "Pre-auth"],
  pre_auth_cancel: ["预授权撤销", "Pre-auth cancel"],
  completion: ["预授权完成", "Completion"],
  completion_advice: ["预授权完成（通知）", "Completion advice"],
  completion_void: ["完成撤销", "Completion void"],
};
export const stateLabels = {
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
export const refundStatusLabels = {
  draft: ["草稿", "Draft"],
  awaiting_approval: ["待授权", "Awaiting approval"],
  submitted: ["已提交", "Submitted"],
  accepted: ["已受理", "Accepted"],
  credited: ["已到账", "Credited"],
  in_doubt: ["待确认", "In doubt"],
  failed: ["失败", "Failed"],
  returned: ["被退回", "Returned"],
};
export const methodLabels = {
  bank_card: ["银行卡", "bank card"],
  qr_wallet: ["扫码钱包", "QR wallet"],
  prepaid: ["预付卡", "prepaid card"],
};
/** Journal record types, for the history and the event log. */
export const recordLabels = {
  opened: ["开机", "opened"],
  signed_in: ["签到", "signed in"],
  pin_rejected: ["密码错误", "wrong PIN"],
  operator_locked: ["操作员锁定", "operator locked"],
  requested: ["发起请求（已存冲正）", "requested (reversal armed)"],
  sent: ["发送", "sent"],
  settlement_sent: ["结算上送", "settlement sent"],
  answered: ["主机应答", "host answered"],
  unanswered: ["无应答", "no answer"],
  late_reply: ["迟到应答（已忽略）", "late reply (ignored)"],
  manual_review: ["转人工处理", "manual review"],
  refund_outcome: ["退款结果", "refund outcome"],
  review_resolved: ["人工处理完毕", "review resolved"],
};
export const purposeLabels = {
  request: ["请求", "request"],
  reversal: ["冲正", "reversal"],
  query: ["查询", "query"],
  advice: ["通知", "advice"],
  settlement: ["结算", "settlement"],
};

let locale = "zh-CN";

export function setLocale(next) {
  locale = next === "en" ? "en" : "zh-CN";
  document.documentElement.lang = locale;
  document.body.dataset.locale = locale;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of document.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
}

export const getLocale = () => locale;

/** The page's text for `key`, with `{name}` placeholders filled. */
export function t(key, vars = {}) {
  const pair = text[key];
  if (!pair) return key;
  const s = pair[locale === "en" ? 1 : 0];
  return s.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** A module value (kind, state, …) in the current language. */
export function label(table, value) {
  const pair = table[value];
  if (!pair) return String(value);
  return pair[locale === "en" ? 1 : 0];
}
