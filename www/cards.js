// The simulated acquirer's test cards (the table in core/src/acquirer.rs):
// what the card reader can "read". The last four digits (or the BIN)
// decide what the acquirer does; the labels say so. A QR wallet payment is
// the reader's other choice (a payment code, not a card).
export const testCards = [
  { pan: "6222020200112233445", label: ["银联借记卡 · 批准", "UnionPay debit · approved"] },
  { pan: "6228480000000005", label: ["不予承兑 · 拒绝 05", "do not honour · declined 05"] },
  { pan: "6228480000000014", label: ["无效卡 · 拒绝 14", "invalid card · declined 14"] },
  { pan: "6228480000000051", label: ["余额不足 · 消费/预授权拒绝 51", "insufficient funds · debits declined 51"] },
  { pan: "6228480000000054", label: ["过期卡 · 拒绝 54", "expired card · declined 54"] },
  { pan: "6228480000000061", label: ["超限额 · 1,000.00 以上拒绝 61", "over limit · debits above 1,000.00 declined 61"] },
  { pan: "6228480000000062", label: ["受限卡 · 拒绝 62", "restricted card · declined 62"] },
  { pan: "6228480000000071", label: ["卡已冻结 · 可消费，原路退款被拒 62（改走其他途径）", "frozen card · sales approved, refunds to the card refused 62 (fallback)"] },
  { pan: "6228480000000072", label: ["消费后销卡 · 退款受理后被退回", "cancelled after the sale · refund accepted, later returned"] },
  { pan: "6228480000000073", label: ["终端显示成功 · 结算时资金被发卡行退回", "approved here · money returned at settlement"] },
  { pan: "6228480000000096", label: ["主机故障 96 · 结果未知", "system malfunction 96 · outcome unknown"] },
  { pan: "6228480000000098", label: ["发卡行已批准，终端收到 98 · 结果未知", "issuer approved, terminal hears 98 · outcome unknown"] },
  { pan: "6210990000001234", label: ["预付卡 · 不能原路退回 12", "prepaid · cannot refund to the card 12"] },
  { pan: "4761340000000019", label: ["境外卡 · 批准", "foreign card · approved"] },
];
