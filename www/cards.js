// The simulated acquirer's test cards (core/src/acquirer.rs): what the card
// reader can "read". The last four digits (or the BIN) decide what the
// acquirer does; the labels say so.
export const testCards = [
  { pan: "6222020200112233445", label: ["银联借记卡 · 批准", "UnionPay debit · approved"] },
  { pan: "6228480000000051", label: ["余额不足 · 拒绝 51", "insufficient funds · declined 51"] },
  { pan: "6228480000000054", label: ["过期卡 · 拒绝 54", "expired card · declined 54"] },
  { pan: "6228480000000014", label: ["无效卡 · 拒绝 14", "invalid card · declined 14"] },
  { pan: "6228480000000062", label: ["受限卡 · 拒绝 62", "restricted card · declined 62"] },
  { pan: "6228480000000096", label: ["主机故障 96 · 结果未知", "system malfunction 96 · outcome unknown"] },
  { pan: "6210990000001234", label: ["预付卡 · 不能原路退回", "prepaid · cannot refund to the card"] },
  { pan: "4761340000000019", label: ["境外卡 · 批准", "foreign card · approved"] },
];
