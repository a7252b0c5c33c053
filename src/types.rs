//! TypeScript for what tsify cannot derive: the core's types (the core
//! has no wasm dependencies, so no derives), the live objects of the open
//! config (`host`, `now`), and the event and error shapes. Everything in
//! `convert.rs` and the open config is derived by tsify.
//!
//! The unions of states and kinds are checked against the core's lists by
//! the tests at the bottom, so a new state cannot be left out.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS: &str = TYPES;

#[allow(dead_code)] // read by the wasm-bindgen macro, which the lint does not see
pub(crate) const TYPES: &str = r#"
/** A transaction's state (DESIGN.md, Transaction states). */
export type TxnState = "sent" | "in_doubt" | "manual_review" | "approved" | "partially_refunded" | "refunded" | "declined" | "reversed" | "voided" | "completed" | "cancelled" | "expired";

/** A transaction's kind. */
export type TxnKind = "sale" | "void" | "refund" | "pre_auth" | "pre_auth_cancel" | "completion" | "completion_advice" | "completion_void";

/** Where `reconcile` put a terminal record or a statement line. */
export type ReconCategory = "matched" | "terminal_only" | "acquirer_only" | "amount_mismatch" | "returned_or_reversed" | "refund_credited" | "refund_returned" | "refund_pending" | "unresolved";

/** Why an item is in its category; the report's `nextSteps[finding]` says what to do. */
export type ReconFinding = "agreed" | "nothing_moved" | "not_on_statement" | "advice_not_sent" | "not_on_terminal" | "not_approved_on_terminal" | "amount_differs" | "returned" | "reversed" | "declined" | "refund_credited" | "refund_returned" | "refund_pending" | "in_doubt_acquirer_has_it" | "in_doubt_acquirer_has_not";

/** What the acquirer's statement says became of a line (清算状态). */
export type LineStatus = "settled" | "pending" | "reversed" | "returned" | "declined";

/** How `reconcile` found a record's statement line. */
export type MatchedBy = "batch_and_trace" | "trace_and_date" | "rrn";

/** The language of messages and receipts. */
export type Locale = "zh-CN" | "en";

/** Overrides of the policy defaults; decimals are strings. */
export interface PolicyOverrides {
  voidNeedsSupervisor?: boolean;
  refundNeedsSupervisor?: boolean;
  maxRefundsPerOriginal?: number;
  cardRefundWindowDays?: number;
  walletRefundWindowDays?: number;
  completionTolerancePercent?: string;
  preAuthValidityDays?: number;
  reversalAttempts?: number;
  hostTimeoutMs?: number;
  maxPinAttempts?: number;
  pinLockMinutes?: number;
  pinHashIterations?: number;
  dualControlThreshold?: string;
  maxTransactionAmount?: string;
  utcOffsetMinutes?: number;
  cardClosedCodes?: string[];
  routeRefusedCodes?: string[];
  fallbackRoutes?: ("settlement_account" | "other_card" | "wallet_transfer" | "cash")[];
  originalRouteForbidden?: ("bank_card" | "qr_wallet" | "foreign_card")[];
  /** Days that are not business days besides weekends, `YYYY-MM-DD`. */
  holidays?: string[];
  /** Expected arrival per route, `[earliest, latest]` business days. */
  arrival?: Partial<Record<"void" | "cardRefund" | "walletRefund" | "bankTransfer" | "otherCard" | "walletTransfer" | "cash", [number, number]>>;
}

/** An amount with its currency, as the host messages carry it. */
export interface Money { amount: string; currency: string; }

/** What the terminal asks of the acquirer host. */
export interface HostRequest {
  message: "sale" | "void" | "refund" | "pre_auth" | "pre_auth_cancel" | "completion" | "completion_advice" | "completion_void" | "reversal" | "query" | "settlement" | "batch_upload" | "batch_upload_end";
  merchantId: string;
  terminalId: string;
  traceNo: string;
  batchNo: string;
  amount: Money | null;
  card: { maskedPan: string; method: "bank_card" | "qr_wallet" | "prepaid"; foreign: boolean } | null;
  original: { message: string; traceNo: string; batchNo: string; amount: Money; rrn: string | null; authCode: string | null; at: number } | null;
  summary: { debitCount: number; debitAmount: Money; creditCount: number; creditAmount: Money } | null;
  /** Batch upload only: the records of this chunk. */
  upload?: { message: string; traceNo: string; amount: Money; rrn: string | null; authCode: string | null; original: [string, string] | null }[];
  sentAt: number;
}

/**
 * The acquirer's answer. A reply that cannot be read is no reply: its
 * request stays in doubt and is reversed, never declined.
 */
export interface HostReply {
  message: HostRequest["message"];
  traceNo: string;
  amount?: Money | null;
  /** The response code: two digits or capital letters (`"00"`, `"51"`, `"A0"`). */
  code: string;
  /** 12 letters or digits; required on an approval of a financial request or a query. */
  rrn?: string | null;
  /** 1 to 6 letters, digits or spaces. */
  authCode?: string | null;
  /** For a settlement: whether the host's totals agree; required on an approval. */
  balanced?: boolean | null;
  hostTime: number;
}

/**
 * The host transport: any object whose `send` resolves with the reply. A
 * rejection, or no answer within `policy.hostTimeoutMs`, leaves the request
 * in doubt (never declined); reject with `{ kind: "timeout" | "lost_reply" }`
 * to say which.
 */
export interface Host { send(request: HostRequest): Promise<HostReply>; }

/** `Terminal.open`'s argument. */
export interface TerminalConfig extends OpenConfig {
  host: Host;
  /** Milliseconds since the epoch; `Date.now` when absent. */
  now?: () => number;
  /**
   * An `exportJournal()` text to restore (memory, or empty storage): checked,
   * replayed and written to storage in slices, all or none.
   */
  journal?: string;
  /** Told where a long open stands: a restore, or a replay of every stored row. */
  onProgress?: (progress: OpenProgress) => void;
}

/**
 * Where a long open stands, in records: `"replay"` (checked against the
 * chain and replayed), then for a restore `"save"` (written to storage).
 * Told about once a slice of the page's thread, and when a stage is done
 * (`done === total`).
 */
export interface OpenProgress {
  stage: "replay" | "save";
  done: number;
  total: number;
}

/** A journal record as `on("event")` delivers it. */
export interface PosEvent {
  type: "opened" | "signed_in" | "pin_rejected" | "operator_locked" | "requested" | "sent" | "settlement_sent" | "answered" | "unanswered" | "late_reply" | "manual_review" | "review_resolved" | "refund_outcome";
  seq: number;
  /** The transaction the record is about, as it stands now. */
  transaction?: TxnRecord;
  [field: string]: unknown;
}

/** A journal entry, as `exportJournal()` holds it and `journalEntries` returns it. */
export interface JournalEntry {
  seq: number;
  /** The hash of the entry before it (hex). */
  prev: string;
  /** This entry's hash over `seq`, `prev` and the record's text (hex). */
  hash: string;
  record: { type: PosEvent["type"]; at: number; [field: string]: unknown };
}

/** What every method throws: an `Error` with `name === "PosError"`. */
export interface PosError extends Error {
  name: "PosError";
  /**
   * Stable: `INVALID_INPUT`, `INVALID_AMOUNT`, `STORAGE_FAILED`, `READ_ONLY`, …;
   * `JOURNAL_LOADING` from `exportJournal()` while the journal before a
   * snapshot is still being read (retry after `await term.historyLoaded`;
   * `details.loaded`, `details.total`, `details.retryable === "true"`).
   */
  code: string;
  details: Record<string, string>;
}

/** What `writeSnapshot()` resolves with: the records covered, the size, and the time to take and to store it. */
export interface SnapshotWritten { records: number; bytes: number; serializeMs: number; writeMs: number; }
"#;

#[cfg(test)]
mod tests {
    use posflow_core::record::Kind;
    use posflow_core::terminal::Status;

    fn union(name: &str) -> Vec<&'static str> {
        let start = super::TYPES
            .find(&format!("export type {name} = "))
            .unwrap();
        let line = super::TYPES[start..].lines().next().unwrap();
        line.split('"').skip(1).step_by(2).collect()
    }

    #[test]
    fn the_reconciliation_unions_list_every_value() {
        use posflow_core::reconcile::{Category, Finding, LineStatus, MatchedBy};
        let categories: Vec<_> = Category::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(union("ReconCategory"), categories);
        let findings: Vec<_> = Finding::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(union("ReconFinding"), findings);
        let statuses: Vec<_> = LineStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(union("LineStatus"), statuses);
        let ways: Vec<_> = MatchedBy::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(union("MatchedBy"), ways);
    }

    #[test]
    fn the_unions_list_every_state_and_kind() {
        let states: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(union("TxnState"), states);
        let kinds: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(union("TxnKind"), kinds);
    }
}
