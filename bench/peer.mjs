// The peer: sale / void / refund / partial refund written the way a careful
// POS team would without posflow — plain JavaScript, decimal.js for money,
// an in-memory journal array, idempotency keys. The bench page runs it on
// the same operations as posflow and checks it reaches the same outcomes on
// a small script (bench/page.mjs `checkPeer`).
//
// Rules held (DESIGN.md 1, 2, 9, 12, 13): amounts are decimal strings with at
// most the currency's minor units, > 0 and ≤ the per-transaction maximum; a
// void only of an approved sale in the open batch, for the full amount, not
// voided, with nothing refunded; a refund only of an approved, unvoided sale,
// cumulative approved + pending refunds ≤ the original; a key replays its
// outcome with the same parameters and is refused with other ones; a card
// number is kept masked only.
import Decimal from "/node_modules/decimal.js/decimal.mjs";

const MINOR_UNITS = { CNY: 2, USD: 2, JPY: 0, KWD: 3 };
const AMOUNT = /^(0|[1-9]\d{0,11})(\.\d{1,3})?$/;

export class PeerError extends Error {
  constructor(code, message) {
    super(message ?? code);
    this.name = "PosError";
    this.code = code;
  }
}

function mask(pan) {
  if (!/^\d{13,19}$/.test(pan)) throw new PeerError("INVALID_CARD");
  return pan.slice(0, 6) + "*".repeat(pan.length - 10) + pan.slice(-4);
}

export class PeerTerminal {
  /** `host.send(request) → Promise<{ approved, rrn, authCode, code }>`. */
  constructor({ currency = "CNY", host, maxAmount = "1000000.00", supervisors = { "90": "246810" } }) {
    this.currency = currency;
    this.minor = MINOR_UNITS[currency];
    this.host = host;
    this.max = new Decimal(maxAmount);
    this.supervisors = new Map(Object.entries(supervisors));
    this.journal = [];            // append-only records
    this.txns = new Map();        // id → transaction
    this.byTrace = new Map();     // batchNo + traceNo → id
    this.byRrn = new Map();
    this.keys = new Map();        // key → { params, outcome }
    this.trace = 0;
    this.batchNo = 1;
  }

  amount(text) {
    if (typeof text !== "string" || !AMOUNT.test(text)) throw new PeerError("INVALID_AMOUNT");
    const d = new Decimal(text);
    if (d.decimalPlaces() > this.minor) throw new PeerError("INVALID_AMOUNT");
    if (d.lte(0) || d.gt(this.max)) throw new PeerError("INVALID_AMOUNT");
    return d;
  }

  nextTrace() {
    this.trace = this.trace === 999999 ? 1 : this.trace + 1;
    return String(this.trace).padStart(6, "0");
  }

  append(type, data) {
    const rec = { seq: this.journal.length, at: Date.now(), type, ...data };
    this.journal.push(rec);
    return rec;
  }

  /** Runs `fn` once per key; the same key with other parameters is refused. */
  async once(key, params, fn) {
    if (typeof key !== "string" || key.length === 0 || key.length > 64) throw new PeerError("INVALID_INPUT");
    const p = JSON.stringify(params);
    const seen = this.keys.get(key);
    if (seen) {
      if (seen.params !== p) throw new PeerError("IDEMPOTENCY_KEY_REUSED");
      if (seen.error) throw seen.error;
      return seen.outcome;
    }
    const entry = { params: p };
    this.keys.set(key, entry);
    try {
      entry.outcome = await fn();
      return entry.outcome;
    } catch (e) {
      if (e instanceof PeerError) entry.error = e; else this.keys.delete(key);
      throw e;
    }
  }

  view(t) {
    return {
      id: t.id, kind: t.kind, state: t.state, amount: t.amount.toFixed(this.minor), currency: this.currency,
      traceNo: t.traceNo, batchNo: String(t.batchNo).padStart(6, "0"), rrn: t.rrn, authCode: t.authCode,
      maskedPan: t.maskedPan,
      refundable: t.kind === "sale" && t.state !== "voided" && t.state !== "declined"
        ? t.amount.minus(t.refunded).toFixed(this.minor) : "0.00",
    };
  }

  async financial(kind, amount, maskedPan, extra) {
    const traceNo = this.nextTrace();
    const id = String(this.journal.length);
    const t = { id, kind, state: "sent", amount, traceNo, batchNo: this.batchNo, maskedPan,
      refunded: new Decimal(0), refunds: [], ...extra };
    this.append("requested", { id, kind, amount: amount.toFixed(this.minor), traceNo, maskedPan });
    this.txns.set(id, t);
    this.byTrace.set(`${this.batchNo}:${traceNo}`, id);
    const reply = await this.host.send({ kind, amount: t.amount.toFixed(this.minor), traceNo, maskedPan });
    t.state = reply.approved ? "approved" : "declined";
    t.rrn = reply.rrn;
    t.authCode = reply.authCode;
    if (t.rrn) this.byRrn.set(t.rrn, id);
    this.append("answered", { id, state: t.state, rrn: t.rrn, authCode: t.authCode, code: reply.code });
    return t;
  }

  sale({ amount, card, key }) {
    const a = this.amount(amount);
    const maskedPan = mask(card?.pan);
    return this.once(key, { op: "sale", amount, maskedPan }, async () =>
      this.view(await this.financial("sale", a, maskedPan, {})));
  }

  find(original) {
    const id = original?.id ?? (original?.traceNo && this.byTrace.get(`${this.batchNo}:${original.traceNo}`))
      ?? (original?.rrn && this.byRrn.get(original.rrn));
    const t = id && this.txns.get(id);
    if (!t || t.kind !== "sale") throw new PeerError("ORIGINAL_NOT_FOUND");
    return t;
  }

  approve(approval) {
    const pin = approval && this.supervisors.get(approval.operatorId);
    if (pin === undefined) throw new PeerError("APPROVAL_REQUIRED");
    if (pin !== approval.pin) throw new PeerError("WRONG_PIN");
  }

  /** What posflow's planRefund decides for these rules: void, refund or reject. */
  planRefund({ original, amount }) {
    const t = this.find(original);
    const a = amount === undefined ? t.amount.minus(t.refunded) : this.amount(amount);
    const out = (action, code) => ({ action, code, amount: a.toFixed(this.minor), refundable: t.amount.minus(t.refunded).toFixed(this.minor) });
    if (t.state !== "approved" && t.state !== "partially_refunded") return out("reject", "TRANSITION_NOT_ALLOWED");
    if (t.batchNo === this.batchNo && t.refunded.isZero() && a.eq(t.amount)) return out("void");
    if (a.gt(t.amount.minus(t.refunded))) return out("reject", "REFUND_EXCEEDS_REFUNDABLE");
    return out("refund");
  }

  void({ original, approval, key }) {
    return this.once(key, { op: "void", original }, async () => {
      const t = this.find(original);
      this.approve(approval);
      if (t.batchNo !== this.batchNo) throw new PeerError("VOID_BATCH_SETTLED");
      if (t.state === "voided") throw new PeerError("ALREADY_VOIDED");
      if (!t.refunded.isZero()) throw new PeerError("VOID_HAS_REFUNDS");
      if (t.state !== "approved") throw new PeerError("TRANSITION_NOT_ALLOWED");
      const v = await this.financial("void", t.amount, t.maskedPan, { original: t.id });
      if (v.state === "approved") t.state = "voided";
      return this.view(v);
    });
  }

  refund({ original, amount, reason, approval, key }) {
    return this.once(key, { op: "refund", original, amount, reason }, async () => {
      const t = this.find(original);
      if (!reason) throw new PeerError("INVALID_INPUT");
      this.approve(approval);
      const a = amount === undefined ? t.amount.minus(t.refunded) : this.amount(amount);
      if (t.state === "voided" || t.state === "declined" || t.state === "refunded") throw new PeerError("TRANSITION_NOT_ALLOWED");
      if (a.gt(t.amount.minus(t.refunded))) throw new PeerError("REFUND_EXCEEDS_REFUNDABLE");
      if (t.refunds.length >= 50) throw new PeerError("TOO_MANY_REFUNDS");
      // Headroom is taken before the request leaves: a pending refund counts.
      t.refunded = t.refunded.plus(a);
      const r = await this.financial("refund", a, t.maskedPan, { original: t.id, reason });
      if (r.state === "approved") {
        t.refunds.push(r.id);
        t.state = t.refunded.eq(t.amount) ? "refunded" : "partially_refunded";
      } else {
        t.refunded = t.refunded.minus(a);
      }
      return this.view(r);
    });
  }

  transactions() {
    return [...this.txns.values()].map((t) => this.view(t));
  }
}

/** A host that approves everything at once, with made-up RRNs and codes. */
export class PeerHost {
  constructor() { this.n = 0; }
  send() {
    this.n += 1;
    const rrn = String(this.n).padStart(12, "0");
    return Promise.resolve({ approved: true, code: "00", rrn, authCode: rrn.slice(-6) });
  }
}
