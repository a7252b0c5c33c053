// A typed use of the whole API, checked with `tsc --noEmit` (scripts/test.sh
// types). It is never run: it fails to compile when the .d.ts drifts from
// what a POS screen writes.
import init, {
  Terminal,
  SimulatedAcquirer,
  type HostReply,
  type HostRequest,
  type JournalEntry,
  type NextStepText,
  type PosError,
  type PosEvent,
  type ReconCategory,
  type ReconItem,
  type ReconReport,
  type RefundOut,
  type SettlementReport,
  type SnapshotWritten,
  type TerminalConfig,
  type TxnRecord,
} from "posflow";

export async function shift(): Promise<string> {
  await init();
  const host = new SimulatedAcquirer({ seed: 7 });
  host.inject({ next: "timeout" });
  const config: TerminalConfig = {
    merchantId: "898440350480001",
    terminalId: "10000001",
    currency: "CNY",
    storage: { kind: "indexeddb", name: "pos" },
    host,
    operators: [
      { id: "01", role: "cashier", pin: "1234" },
      { id: "90", role: "supervisor", pin: "246810" },
    ],
    policy: { hostTimeoutMs: 60000, dualControlThreshold: "5000.00", holidays: ["2026-10-01"], cardClosedCodes: ["14", "62"] },
    locale: "zh-CN",
    now: () => Date.now(),
  };
  const term = await Terminal.open(config);
  const readOnly: boolean = term.readOnly;
  const onEvent = (e: PosEvent): void => {
    const state: string | undefined = e.transaction?.state;
    console.log(e.type, e.seq, state);
  };
  term.on("event", onEvent);
  await term.signIn({ operatorId: "01", pin: "1234" });
  const sale: TxnRecord = await term.sale({
    amount: "100.00",
    card: { pan: "6222020200112233445" },
    key: "k1",
  });
  const amount: string = sale.amount; // decimals are strings
  const rrn: string | null = sale.rrn;
  await term.void({
    original: { traceNo: sale.traceNo },
    approval: { operatorId: "90", pin: "246810" },
    key: "k2",
  });
  await term.refund({
    original: { rrn: rrn ?? "" },
    amount: "30.00",
    reason: "customer return",
    approval: [
      { operatorId: "90", pin: "246810" },
      { operatorId: "91", pin: "135790" },
    ],
    key: "k3",
  });
  const pre = await term.preAuth({ amount: "200.00", card: { qr: "2812345678901234" }, key: "k4" });
  await term.completePreAuth({ original: { id: pre.id }, amount: "210.00", advice: false, key: "k5" });
  await term.cancelPreAuth({ original: { id: pre.id }, key: "k6" });
  const plan = term.planRefund({ original: { id: pre.id }, amount: "10.00" });
  const action: string = plan.action;
  const latest: string | undefined = plan.expectedArrival?.latest;
  await term.refund({
    original: { voucher: { date: "2026-11-20", amount: "88.00", rrn: "000000000001", traceNo: "000001",
                           batchNo: "000001", card: { pan: "6222020200112233445" } } },
    reason: "no auth code", approval: { operatorId: "90", pin: "246810" }, key: "k8",
    destination: { route: "settlement_account", holderName: "张三", bank: "中国银行", account: "6217000010001234567" },
  });
  const tracked: RefundOut[] = term.refunds({ status: "accepted" });
  const lines = term.receipt(pre.id, { copy: "merchant", width: 32 });
  console.log(action, latest, tracked.length, lines);
  const report: SettlementReport = await term.settle();
  const rec: ReconReport = await term.reconcile(host.statement("10000001"));
  const open: ReconItem[] = rec.items.filter((i) => i.category !== "matched");
  for (const item of open) {
    const category: ReconCategory = item.category;
    const step: NextStepText = rec.nextSteps[item.finding];
    const amount: string = item.terminalAmount ?? item.acquirerAmount ?? "—";
    console.log(category, item.txn ?? item.line, `${amount} ${rec.currency}`, step.zh, step.en);
  }
  const net: string = rec.summary.terminalNet;
  console.log(rec.summary.balanced, net, rec.credited.length);
  const approved: TxnRecord[] = term.transactions({ state: "approved", kind: "sale" });
  term.off("event", onEvent);
  const written: SnapshotWritten | null = await term.writeSnapshot();
  console.log(written?.records, written?.serializeMs);
  const trail: JournalEntry[] = term.journalEntries({ transaction: approved[0].id });
  const newest: JournalEntry[] = term.journalEntries({ last: 300 });
  console.log(trail[0]?.record.type, newest.map((e) => e.seq));
  await term.historyLoaded;
  const backup: string = term.exportJournal();
  await term.close();
  try {
    await term.sale({ amount: "1.00", card: { pan: "6222020200112233445" }, key: "k7" });
  } catch (e) {
    const err = e as PosError;
    console.log(err.code, err.details);
  }
  // A host of one's own: anything with send(request) → Promise<reply>.
  const bridge = {
    async send(request: HostRequest): Promise<HostReply> {
      return { message: request.message, traceNo: request.traceNo, code: "00", hostTime: Date.now() };
    },
  };
  await Terminal.open({ ...config, host: bridge, storage: { kind: "memory" }, journal: backup });
  return `${readOnly} ${amount} ${report.balanced} ${approved.length}`;
}
