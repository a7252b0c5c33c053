//! The scenario table (STYLE.md, Tests): each row is a named sequence of
//! steps in a small DSL, with the expected states and error codes inline, so
//! a row reads as one sentence (`rows()` is `#[rustfmt::skip]` to keep it so).
//!
//! After every step that acts (expectations only read) the runner checks that
//! - `check_invariants(now)` holds,
//! - everything the terminal appended is durable (the stored entries are
//!   the journal: nothing lost), and
//! - replaying the journal with `Terminal::open` on a fresh config gives the
//!   same `State` and journal (see `common::check_replay` for how `open`'s
//!   restart recovery and forgotten sign-in are accounted for).
//!
//! A step that fails must be followed by `ExpectErr(code)`; any other error
//! fails the row. `every_error_code_is_reached` then checks that every code
//! of `PosError::ALL_CODES` was expected (and seen) by at least one row.
//!
//! Trace numbers (凭证号) are handed out 000001, 000002, … per financial
//! request, so `Expect(3, ..)` names the third request of the row.

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use common::{compare_replay, fast_config, pin_of, replay, Recorder};
use posflow_core::acquirer::Fault;
use posflow_core::host::MessageType::{self, *};
use posflow_core::journal::{Entry, Journal};
use posflow_core::prelude::*;
use posflow_core::record::{Request, Resolution};
use posflow_core::terminal::{ReplyEffect, Submitted};
use posflow_core::time::DAY_MS;
use Status::*;
use Step::*;

/// 2026-11-22 16:30 UTC: a Monday afternoon in Beijing.
const T0: Timestamp = Timestamp(1_795_365_000_000);
const PAN: &str = "6222020200112233445";
const SUP: &[(&str, &str)] = &[("90", "246810")];
const SUP91: &[(&str, &str)] = &[("91", "135790")];
const DUAL: &[(&str, &str)] = &[("90", "246810"), ("91", "135790")];
const SAME_TWICE: &[(&str, &str)] = &[("90", "246810"), ("90", "246810")];
const CASHIER: &[(&str, &str)] = &[("01", "1234")];
const NONE: &[(&str, &str)] = &[];

/// A terminal configuration a row can ask for.
#[derive(Debug, Clone, Copy)]
enum Cfg {
    Cny,
    Jpy,
    /// The same merchant, another terminal id.
    OtherTerminal,
}

impl Cfg {
    fn config(self) -> TerminalConfig {
        match self {
            Cfg::Cny => fast_config(Currency::Cny),
            Cfg::Jpy => fast_config(Currency::Jpy),
            Cfg::OtherTerminal => TerminalConfig {
                terminal_id: "10000002".into(),
                ..fast_config(Currency::Cny)
            },
        }
    }
}

/// A financial command as a row writes it. Amounts are strings parsed in
/// the terminal's currency (or `currency`), as the binding would.
#[derive(Debug, Clone)]
enum Cmd {
    Sale {
        amount: &'static str,
        currency: Option<&'static str>,
        pan: &'static str,
        key: &'static str,
    },
    PreAuth {
        amount: &'static str,
        key: &'static str,
    },
    Void {
        trace: u32,
        approvals: &'static [(&'static str, &'static str)],
        key: &'static str,
    },
    Refund {
        trace: u32,
        amount: &'static str,
        reason: &'static str,
        approvals: &'static [(&'static str, &'static str)],
        key: String,
    },
    Complete {
        trace: u32,
        amount: &'static str,
        advice: bool,
        key: &'static str,
    },
    Cancel {
        trace: u32,
        key: &'static str,
    },
}

fn sale(amount: &'static str, key: &'static str) -> Cmd {
    Cmd::Sale {
        amount,
        currency: None,
        pan: PAN,
        key,
    }
}
fn sale_in(amount: &'static str, currency: &'static str, key: &'static str) -> Cmd {
    Cmd::Sale {
        amount,
        currency: Some(currency),
        pan: PAN,
        key,
    }
}
fn sale_card(amount: &'static str, pan: &'static str, key: &'static str) -> Cmd {
    Cmd::Sale {
        amount,
        currency: None,
        pan,
        key,
    }
}
fn pre_auth(amount: &'static str, key: &'static str) -> Cmd {
    Cmd::PreAuth { amount, key }
}
fn void(trace: u32, key: &'static str) -> Cmd {
    void_by(trace, SUP, key)
}
fn void_by(
    trace: u32,
    approvals: &'static [(&'static str, &'static str)],
    key: &'static str,
) -> Cmd {
    Cmd::Void {
        trace,
        approvals,
        key,
    }
}
fn refund(trace: u32, amount: &'static str, key: &'static str) -> Cmd {
    refund_by(trace, amount, SUP, key)
}
fn refund_by(
    trace: u32,
    amount: &'static str,
    approvals: &'static [(&'static str, &'static str)],
    key: &'static str,
) -> Cmd {
    Cmd::Refund {
        trace,
        amount,
        reason: "customer return",
        approvals,
        key: key.into(),
    }
}
fn refund_why(trace: u32, amount: &'static str, reason: &'static str, key: &'static str) -> Cmd {
    Cmd::Refund {
        trace,
        amount,
        reason,
        approvals: SUP,
        key: key.into(),
    }
}
fn complete(trace: u32, amount: &'static str, key: &'static str) -> Cmd {
    Cmd::Complete {
        trace,
        amount,
        advice: false,
        key,
    }
}
fn advice(trace: u32, amount: &'static str, key: &'static str) -> Cmd {
    Cmd::Complete {
        trace,
        amount,
        advice: true,
        key,
    }
}
fn cancel(trace: u32, key: &'static str) -> Cmd {
    Cmd::Cancel { trace, key }
}

/// How a supervisor resolves a manual review.
#[derive(Debug, Clone, Copy)]
enum Res {
    /// As the acquirer's ledger says (approved with its RRN, or reversed).
    AsHostSays,
}

/// One line of a row.
#[derive(Debug, Clone)]
enum Step {
    // --- world -----------------------------------------------------------
    /// A new terminal and host with this config, cashier 01 signed in.
    Fresh(Cfg),
    SignIn(&'static str, &'static str),
    Days(i64),
    Minutes(i64),
    Secs(i64),
    // --- commands --------------------------------------------------------
    /// Through the Driver: flush reversals and advices, persist, send.
    Run(Cmd),
    /// Straight into `Terminal::execute`: persisted, the request held back.
    Exec(Cmd),
    /// `RefundEach(trace, amount, n)`: n refunds through the Driver, each
    /// of which must succeed.
    RefundEach(u32, &'static str, usize),
    /// Sends the held request through the host and hands back its answer.
    SendHeld,
    /// Hands in a made-up reply to the held request: code, amount.
    ReplyHeld(&'static str, &'static str),
    /// `handle_no_reply(Timeout)`.
    NoReplyNow,
    /// Hands the host's last reply to the terminal again.
    Redeliver,
    /// The Driver's flush on its own.
    Flush,
    /// `Driver::settle` (flushes first).
    Settle,
    /// `Terminal::settle` with no flush.
    SettleDirect,
    /// `Driver::query` of a trace number.
    QueryHost(u32),
    /// `resolve_review` of a trace, approved by the given supervisor.
    Resolve(u32, Res, &'static str),
    // --- the host --------------------------------------------------------
    Inject(Fault),
    /// Late replies wait at the host until `DeliverLate`.
    HoldLate,
    DeliverLate,
    // --- restarts and journals -------------------------------------------
    /// Reopens from the stored entries and signs cashier 01 in.
    Restart,
    /// Reopens from the stored entries; nobody is signed in.
    Reopen,
    /// The process dies with the held request unsent, then `Restart`.
    Crash,
    /// Opens the stored entries under another config.
    OpenAs(Cfg),
    /// Opens the stored entries with one amount changed.
    OpenTampered,
    /// Imports the exported journal cut in the middle.
    ImportCut,
    /// `Terminal::halt`, as the binding does after a panic.
    Halt,
    /// Reopens on a journal where every trace number is held by an offline
    /// completion advice still waiting to be sent.
    FillPendingAdvices,
    // --- expectations ----------------------------------------------------
    ExpectErr(&'static str),
    /// The status of the latest transaction with this trace number.
    Expect(u32, Status),
    ExpectRefundable(u32, &'static str),
    /// The last command returned trace N's transaction again, without a
    /// request (replayed by key).
    ExpectSameTxn(u32),
    /// The message types the host was sent since the row (or `Fresh`) began.
    ExpectHost(&'static [MessageType]),
    /// How many journal records of a type.
    ExpectRecords(&'static str, usize),
    ExpectEffect(ReplyEffect),
    /// The host's posting for a trace: response code and reversed flag.
    ExpectPosting(u32, &'static str, bool),
    /// The host has no posting for this trace.
    ExpectNoPosting(u32),
    /// Trace N's reversal was answered with this code.
    ExpectReversalAnswer(u32, &'static str),
    /// The last settlement closed the batch, balanced on both sides.
    ExpectBalanced,
}

struct Row {
    name: &'static str,
    steps: Vec<Step>,
}

fn row(name: &'static str, steps: Vec<Step>) -> Row {
    Row { name, steps }
}

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    let timeout = || Inject(Fault::Timeout);
    vec![
        // --- the scenarios -------------------------------------
        row("a wrong-amount sale is voided in the same batch", vec![
            Run(sale("1000.00", "k1")), Expect(1, Approved), Run(void(1, "v1")), Expect(1, Voided),
            Expect(2, Approved), ExpectRefundable(1, "0.00"), Run(sale("100.00", "k2")), Expect(3, Approved),
            Settle, ExpectBalanced, ExpectHost(&[Sale, Void, Sale, Settlement]),
        ]),
        row("the same void after settlement is refused; a refund works instead", vec![
            Run(sale("1000.00", "k1")), Settle, ExpectBalanced, Run(void(1, "v1")), ExpectErr("VOID_BATCH_SETTLED"),
            Run(refund(1, "1000.00", "r1")), Expect(1, Refunded), Expect(2, Approved), Settle, ExpectBalanced,
        ]),
        row("three partial refunds; the third exceeds what is left", vec![
            Run(sale("100.00", "k1")), Run(refund(1, "40.00", "r1")), Run(refund(1, "40.00", "r2")),
            Expect(1, PartiallyRefunded), Run(refund(1, "30.00", "r3")), ExpectErr("REFUND_EXCEEDS_REFUNDABLE"),
            ExpectRefundable(1, "20.00"), Run(refund(1, "20.00", "r3")), Expect(1, Refunded), ExpectRefundable(1, "0.00"),
        ]),
        row("a refund while an earlier refund of the same sale is in doubt", vec![
            Run(sale("100.00", "k1")), timeout(), Run(refund(1, "60.00", "r1")), Expect(2, InDoubt),
            ExpectRefundable(1, "40.00"), Exec(refund(1, "50.00", "r2")), ExpectErr("REFUND_EXCEEDS_REFUNDABLE"),
            Exec(refund(1, "30.00", "r2")), ExpectErr("REVERSAL_PENDING"), Run(refund(1, "30.00", "r2")),
            Expect(2, Reversed), Expect(3, Approved), Expect(1, PartiallyRefunded), ExpectRefundable(1, "70.00"),
            ExpectHost(&[Sale, Refund, Reversal, Refund]),
        ]),
        row("a completion at exactly 115 % is approved, at 115.01 % refused", vec![
            Run(pre_auth("100.00", "p1")), Run(complete(1, "115.01", "c1")), ExpectErr("COMPLETION_EXCEEDS_TOLERANCE"),
            Run(complete(1, "115.00", "c2")), Expect(2, Approved), Expect(1, Completed), ExpectRefundable(2, "115.00"),
        ]),
        row("a completion on day 31 is refused", vec![
            Run(pre_auth("100.00", "p1")), Days(31), Run(complete(1, "100.00", "c1")), ExpectErr("PRE_AUTH_EXPIRED"),
            Expect(1, Expired), Run(cancel(1, "x1")), ExpectErr("PRE_AUTH_EXPIRED"),
        ]),
        row("a completion 30 days to the millisecond later is still allowed; one more is not", vec![
            Run(pre_auth("100.00", "p1")), Run(pre_auth("100.00", "p2")), Days(30), Run(complete(1, "100.00", "c1")),
            Expect(1, Completed), Secs(1), Expect(2, Expired), Run(complete(2, "1.00", "c2")), ExpectErr("PRE_AUTH_EXPIRED"),
        ]),
        row("a pre-auth cancelled twice: the second is refused", vec![
            Run(pre_auth("500.00", "p1")), Run(cancel(1, "x1")), Expect(1, Cancelled), Expect(2, Approved),
            Run(cancel(1, "x2")), ExpectErr("TRANSITION_NOT_ALLOWED"), Run(complete(1, "10.00", "c1")),
            ExpectErr("TRANSITION_NOT_ALLOWED"), ExpectHost(&[PreAuth, PreAuthCancel]),
        ]),
        row("a timeout on a sale, then a new sale: sale, reversal, sale", vec![
            timeout(), Run(sale("100.00", "k1")), Expect(1, InDoubt), ExpectPosting(1, "00", false),
            Run(sale("100.00", "k2")), Expect(1, Reversed), Expect(2, Approved), ExpectHost(&[Sale, Reversal, Sale]),
            ExpectPosting(1, "00", true), Settle, ExpectBalanced,
        ]),
        row("three failed reversals: manual review blocks new work until a supervisor resolves it", vec![
            timeout(), Run(sale("100.00", "k1")), Inject(Fault::TransportError), Inject(Fault::Timeout),
            Inject(Fault::Decline("96".into())), Run(sale("20.00", "k2")), ExpectErr("MANUAL_REVIEW_PENDING"),
            Expect(1, ManualReview), ExpectHost(&[Sale, Reversal, Reversal, Reversal]), ExpectRecords("manual_review", 1),
            Settle, ExpectErr("SETTLEMENT_BLOCKED"), Run(void(1, "v1")), ExpectErr("ORIGINAL_IN_DOUBT"),
            Resolve(1, Res::AsHostSays, "01"), ExpectErr("APPROVER_NOT_AUTHORIZED"),
            Resolve(1, Res::AsHostSays, "91"), Expect(1, Reversed), Run(sale("20.00", "k2")), Expect(2, Approved),
            Resolve(1, Res::AsHostSays, "91"), ExpectErr("TRANSITION_NOT_ALLOWED"), Settle, ExpectBalanced,
        ]),
        row("a late approval after the reversal is logged and changes nothing", vec![
            HoldLate, Inject(Fault::LateReply), Run(sale("100.00", "k1")), Expect(1, InDoubt), Flush, Expect(1, Reversed),
            DeliverLate, ExpectEffect(ReplyEffect::Late), Expect(1, Reversed), ExpectRecords("late_reply", 1),
            ExpectPosting(1, "00", true), ExpectHost(&[Sale, Reversal]), Settle, ExpectBalanced,
        ]),
        row("a late approval before the reversal does not approve either", vec![
            Inject(Fault::LateReply), Run(sale("100.00", "k1")), Expect(1, InDoubt), Run(sale("50.00", "k2")),
            ExpectRecords("late_reply", 1), Expect(1, Reversed), Expect(2, Approved), ExpectHost(&[Sale, Reversal, Sale]),
        ]),
        row("a duplicated reply is a no-op", vec![
            Inject(Fault::DuplicateReply), Run(sale("100.00", "k1")), Expect(1, Approved), ExpectRecords("answered", 1),
            ExpectRecords("late_reply", 0), Redeliver, ExpectEffect(ReplyEffect::Duplicate), ExpectRecords("answered", 1),
            Inject(Fault::DuplicateReply), Run(refund(1, "10.00", "r1")), Expect(1, PartiallyRefunded),
            ExpectRefundable(1, "90.00"), ExpectRecords("answered", 2), ExpectRecords("late_reply", 0),
        ]),
        row("amounts are refused, never rounded: 10.001 CNY, 10.5 JPY", vec![
            Run(sale("10.001", "k1")), ExpectErr("INVALID_AMOUNT"), Run(sale("1000000.01", "k1")), ExpectErr("INVALID_AMOUNT"),
            Fresh(Cfg::Jpy), Run(sale("10.5", "k1")), ExpectErr("INVALID_AMOUNT"), Run(sale("10", "k1")),
            Expect(1, Approved), ExpectHost(&[Sale]),
        ]),
        row("a reused idempotency key: another amount is refused, the same one replays", vec![
            Run(sale("100.00", "k1")), Run(sale("90.00", "k1")), ExpectErr("IDEMPOTENCY_KEY_REUSED"),
            Exec(sale("100.00", "k1")), ExpectSameTxn(1), Run(sale("100.00", "k1")), ExpectSameTxn(1),
            ExpectHost(&[Sale]), Expect(1, Approved), ExpectRecords("requested", 1),
        ]),
        row("a restart after the append, before the send: in doubt, reversed (25), nothing lost", vec![
            Exec(sale("100.00", "k1")), Crash, Expect(1, InDoubt), ExpectRecords("unanswered", 1), ExpectNoPosting(1),
            Run(sale("100.00", "k2")), ExpectHost(&[Reversal, Sale]), ExpectReversalAnswer(1, "25"), Expect(1, Reversed),
            Expect(2, Approved), Exec(sale("100.00", "k1")), ExpectSameTxn(1), ExpectRecords("requested", 2),
            Settle, ExpectBalanced,
        ]),
        // --- the rest of the codes and paths ---------------------------
        row("a query settles an in-doubt sale without a reversal", vec![
            timeout(), Run(sale("100.00", "k1")), QueryHost(1), Expect(1, Approved), Run(sale("5.00", "k2")),
            ExpectHost(&[Sale, Query, Sale]), QueryHost(1), ExpectErr("TRANSITION_NOT_ALLOWED"), Settle, ExpectBalanced,
        ]),
        row("declined cards are declined definitively; 96 is in doubt", vec![
            Run(sale_card("100.00", "6222020200000051", "k1")), Expect(1, Declined), Exec(sale_card("100.00", "6222020200000051", "k1")),
            ExpectSameTxn(1), Run(sale_card("100.00", "6222020200000096", "k2")), Expect(2, InDoubt), Flush,
            Expect(2, Reversed), ExpectPosting(2, "96", true), Run(refund(1, "1.00", "r1")), ExpectErr("TRANSITION_NOT_ALLOWED"),
        ]),
        row("an offline completion advice goes out before the next request; a completion void restores the pre-auth", vec![
            Run(pre_auth("100.00", "p1")), Run(advice(1, "80.00", "c1")), Expect(2, Approved), Expect(1, Completed),
            ExpectHost(&[PreAuth]), SettleDirect, ExpectErr("SETTLEMENT_BLOCKED"), Run(sale("5.00", "k1")),
            ExpectHost(&[PreAuth, CompletionAdvice, Sale]), Run(void(2, "v1")), Expect(2, Voided), Expect(4, Approved),
            Expect(1, Approved), Settle, ExpectBalanced,
        ]),
        row("a host that stays down: the flush gives up on an advice after one attempt", vec![
            Run(pre_auth("100.00", "p1")), Run(advice(1, "80.00", "c1")), Inject(Fault::TransportError),
            Inject(Fault::TransportError), Flush, ExpectHost(&[PreAuth, CompletionAdvice]), SettleDirect,
            ExpectErr("SETTLEMENT_BLOCKED"), Run(sale("5.00", "k1")), Expect(3, Approved),
            ExpectHost(&[PreAuth, CompletionAdvice, CompletionAdvice, Sale]), Flush,
            ExpectHost(&[PreAuth, CompletionAdvice, CompletionAdvice, Sale, CompletionAdvice]), Settle, ExpectBalanced,
        ]),
        row("operators: unknown, wrong PIN, locked for 30 minutes", vec![
            SignIn("77", "1234"), ExpectErr("UNKNOWN_OPERATOR"), Run(sale("100.00", "k1")),
            SignIn("90", "000000"), ExpectErr("WRONG_PIN"), SignIn("90", "000001"), ExpectErr("WRONG_PIN"),
            Run(void_by(1, &[("90", "000002")], "v1")), ExpectErr("WRONG_PIN"), SignIn("90", "000003"), ExpectErr("WRONG_PIN"),
            SignIn("90", "000004"), ExpectErr("OPERATOR_LOCKED"), Run(void(1, "v1")), ExpectErr("OPERATOR_LOCKED"),
            Minutes(29), Run(void(1, "v1")), ExpectErr("OPERATOR_LOCKED"), Run(void_by(1, SUP91, "v1")), Expect(1, Voided),
            Minutes(1), Run(sale("5.00", "k2")), Run(void(3, "v2")), Expect(3, Voided), ExpectRecords("operator_locked", 1),
        ]),
        row("approvals: required, by a supervisor, two different people from 5000.00", vec![
            Run(sale("100.00", "k1")), Run(void_by(1, NONE, "v1")), ExpectErr("APPROVAL_REQUIRED"),
            Run(void_by(1, CASHIER, "v1")), ExpectErr("APPROVER_NOT_AUTHORIZED"), Run(sale("6000.00", "k2")),
            Run(refund_by(2, "5000.00", SAME_TWICE, "r1")), ExpectErr("SAME_PERSON_APPROVAL"),
            Run(refund_by(2, "5000.00", SUP, "r1")), ExpectErr("APPROVAL_REQUIRED"), Run(refund_by(2, "5000.00", DUAL, "r1")),
            Expect(2, PartiallyRefunded), Run(refund(2, "999.99", "r2")), ExpectRefundable(2, "0.01"),
        ]),
        row("originals: not found, refund reason, void after a refund, pre-auth refund", vec![
            Run(void(9, "v1")), ExpectErr("ORIGINAL_NOT_FOUND"), Run(sale("100.00", "k1")),
            Run(refund_why(1, "10.00", "  ", "r1")), ExpectErr("REFUND_REASON_REQUIRED"), Run(refund(1, "10.00", "r1")),
            Run(void(1, "v1")), ExpectErr("VOID_HAS_REFUNDS"), Run(pre_auth("50.00", "p1")), Run(refund(3, "10.00", "r2")),
            ExpectErr("PRE_AUTH_NOT_REFUNDABLE"), Run(void(3, "v2")), ExpectErr("TRANSITION_NOT_ALLOWED"),
        ]),
        row("fifty refunds per original, then no more", vec![
            Run(sale("100.00", "k1")), RefundEach(1, "0.01", 50), Run(refund(1, "0.01", "r51")),
            ExpectErr("REFUND_LIMIT_REACHED"), ExpectRefundable(1, "99.50"), Expect(1, PartiallyRefunded),
        ]),
        row("nothing acts on an original in doubt; nothing new goes out before its reversal", vec![
            timeout(), Run(sale("100.00", "k1")), Exec(void(1, "v1")), ExpectErr("ORIGINAL_IN_DOUBT"),
            Exec(refund(1, "1.00", "r1")), ExpectErr("ORIGINAL_IN_DOUBT"), Exec(sale("5.00", "k2")), ExpectErr("REVERSAL_PENDING"),
            SettleDirect, ExpectErr("SETTLEMENT_BLOCKED"), Flush, Expect(1, Reversed), ExpectHost(&[Sale, Reversal]),
        ]),
        row("one request at a time; a reply must match it", vec![
            Exec(sale("100.00", "k1")), Exec(sale("5.00", "k2")), ExpectErr("REQUEST_IN_FLIGHT"), SettleDirect,
            ExpectErr("REQUEST_IN_FLIGHT"), ReplyHeld("00", "99.00"), ExpectErr("REPLY_UNMATCHED"), Expect(1, Sent),
            SendHeld, Expect(1, Approved), NoReplyNow, ExpectErr("REPLY_UNMATCHED"), ExpectRecords("answered", 1),
        ]),
        row("currencies: another one, an unknown one", vec![
            Run(sale_in("5", "JPY", "k1")), ExpectErr("CURRENCY_MISMATCH"), Run(sale_in("5.00", "XXX", "k1")),
            ExpectErr("UNSUPPORTED_CURRENCY"), Run(sale_in("5.00", "CNY", "k1")), Expect(1, Approved),
        ]),
        row("bad input: an empty key", vec![Run(sale("100.00", "")), ExpectErr("INVALID_INPUT")]),
        row("a restart forgets who was signed in; the journal remembers the rest", vec![
            Run(sale("100.00", "k1")), Reopen, Run(sale("5.00", "k2")), ExpectErr("NOT_SIGNED_IN"), Settle,
            ExpectErr("NOT_SIGNED_IN"), SignIn("01", "1234"), Run(sale("5.00", "k2")), Expect(2, Approved), Expect(1, Approved),
        ]),
        row("journals: another terminal's is refused, a changed or cut one is damaged", vec![
            Run(sale("100.00", "k1")), OpenAs(Cfg::OtherTerminal), ExpectErr("JOURNAL_MISMATCH"), OpenTampered,
            ExpectErr("JOURNAL_DAMAGED"), ImportCut, ExpectErr("JOURNAL_DAMAGED"), Restart, Expect(1, Approved),
        ]),
        row("a halted terminal refuses work until it is reopened", vec![
            Run(sale("100.00", "k1")), Halt, Run(sale("5.00", "k2")), ExpectErr("INTERNAL"), SignIn("01", "1234"),
            ExpectErr("INTERNAL"), Restart, Run(sale("5.00", "k2")), Expect(2, Approved),
        ]),
        row("trace numbers held by unresolved records are never reused: all held, none free", vec![
            FillPendingAdvices, Exec(sale("5.00", "k1")), ExpectErr("TRACE_NUMBERS_EXHAUSTED"),
        ]),
    ]
}

/// What the last step returned.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Outcome {
    Unit,
    Txn(TxnId),
    Submitted(Submitted),
    Effect(ReplyEffect),
}

struct World {
    cfg: Cfg,
    term: Terminal,
    host: Recorder,
    stored: Vec<Entry<Record>>,
    now: Timestamp,
    /// A request from `Exec`, persisted but not yet sent.
    held: Option<posflow_core::host::HostRequest>,
    last: Option<Result<Outcome, PosError>>,
    /// The last replay, keyed by what it is a function of: journal length
    /// and head hash, `now`, and who was signed in.
    replayed: Option<(ReplayKey, Terminal)>,
}

type ReplayKey = (usize, String, Timestamp, Option<String>);

impl World {
    fn new(cfg: Cfg, now: Timestamp) -> World {
        let mut term = Terminal::open(cfg.config(), Vec::new(), now).expect("new terminal");
        term.sign_in("01", "1234", now).expect("cashier signs in");
        let stored = term.take_unpersisted();
        World {
            cfg,
            term,
            host: Recorder::new(7),
            stored,
            now,
            held: None,
            last: None,
            replayed: None,
        }
    }

    fn persist(&mut self) {
        let entries = self.term.take_unpersisted();
        self.stored.extend(entries);
    }

    fn with_driver<R>(&mut self, f: impl FnOnce(&mut Driver<'_>, Timestamp) -> R) -> R {
        self.persist();
        let now = self.now;
        let mut driver = Driver::new(&mut self.term, &mut self.host);
        let result = f(&mut driver, now);
        let stored = std::mem::take(&mut driver.stored);
        self.stored = stored;
        result
    }

    fn trace(&self, n: u32) -> OriginalSelector {
        OriginalSelector::TraceNo(TraceNo::new(n).expect("trace 1..=999999"))
    }

    fn id_of(&self, n: u32) -> TxnId {
        self.term
            .find(&self.trace(n))
            .unwrap_or_else(|e| panic!("trace {n}: {e}"))
            .id
    }

    fn approvals(list: &[(&str, &str)]) -> Vec<ApprovalInput> {
        list.iter()
            .map(|(id, pin)| ApprovalInput {
                operator_id: (*id).into(),
                pin: (*pin).into(),
            })
            .collect()
    }

    /// Builds the core command as the binding would: amounts parsed first.
    fn command(&self, cmd: &Cmd) -> Result<(Command, String), PosError> {
        let currency = self.term.config().currency;
        let money = |amount: &str| Money::parse(amount, currency);
        Ok(match cmd {
            Cmd::Sale {
                amount,
                currency: ccy,
                pan,
                key,
            } => {
                let currency = match ccy {
                    Some(code) => Currency::parse(code)?,
                    None => currency,
                };
                let amount = Money::parse(amount, currency)?;
                let card = Card::from_pan(pan)?;
                (Command::Sale { amount, card }, (*key).into())
            }
            Cmd::PreAuth { amount, key } => (
                Command::PreAuth {
                    amount: money(amount)?,
                    card: Card::from_pan(PAN)?,
                },
                (*key).into(),
            ),
            Cmd::Void {
                trace,
                approvals,
                key,
            } => (
                Command::Void {
                    original: self.trace(*trace),
                    approvals: Self::approvals(approvals),
                },
                (*key).into(),
            ),
            Cmd::Refund {
                trace,
                amount,
                reason,
                approvals,
                key,
            } => (
                self.term.refund_command(
                    &RefundOriginal::Journal(self.trace(*trace)),
                    Some(money(amount)?),
                    reason,
                    Self::approvals(approvals),
                    None,
                    self.now,
                )?,
                key.clone(),
            ),
            Cmd::Complete {
                trace,
                amount,
                advice,
                key,
            } => (
                Command::Complete {
                    original: self.trace(*trace),
                    amount: money(amount)?,
                    advice: *advice,
                },
                (*key).into(),
            ),
            Cmd::Cancel { trace, key } => (
                Command::CancelPreAuth {
                    original: self.trace(*trace),
                },
                (*key).into(),
            ),
        })
    }

    fn posting(&self, n: u32) -> Option<&posflow_core::acquirer::Posting> {
        self.host.inner.ledger().find(|p| p.trace_no.get() == n)
    }

    fn reopen(&mut self, cfg: Cfg, sign_in: bool) -> Result<Outcome, PosError> {
        let mut term = Terminal::open(cfg.config(), self.stored.clone(), self.now)?;
        if sign_in {
            term.sign_in("01", "1234", self.now)?;
        }
        self.term = term;
        self.held = None;
        self.persist();
        Ok(Outcome::Unit)
    }

    fn deliver(
        &mut self,
        replies: Vec<posflow_core::host::HostReply>,
    ) -> Result<Outcome, PosError> {
        let mut effect = None;
        for reply in replies {
            effect = Some(self.term.handle_reply(&reply, self.now)?);
        }
        Ok(effect.map_or(Outcome::Unit, Outcome::Effect))
    }

    /// Runs a step that acts; `None` for those that return nothing.
    fn act(&mut self, step: &Step) -> Option<Result<Outcome, PosError>> {
        let now = self.now;
        let result = match step {
            Fresh(cfg) => {
                *self = World::new(*cfg, now);
                Ok(Outcome::Unit)
            }
            SignIn(id, pin) => self.term.sign_in(id, pin, now).map(|()| Outcome::Unit),
            Days(n) => {
                self.now = Timestamp(now.0 + n * DAY_MS);
                return None;
            }
            Minutes(n) => {
                self.now = Timestamp(now.0 + n * 60_000);
                return None;
            }
            Secs(n) => {
                self.now = Timestamp(now.0 + n * 1000);
                return None;
            }
            Run(cmd) => match self.command(cmd) {
                Err(e) => Err(e),
                Ok((command, key)) => self
                    .with_driver(|d, now| d.run(command, &key, now))
                    .map(Outcome::Txn),
            },
            Exec(cmd) => match self.command(cmd) {
                Err(e) => Err(e),
                Ok((command, key)) => {
                    let result = self.term.execute(command, &key, now);
                    // The caller's contract: durable before anything is sent.
                    self.persist();
                    result.map(|submitted| {
                        if let Some(request) = &submitted.request {
                            self.held = Some(request.clone());
                        }
                        Outcome::Submitted(submitted)
                    })
                }
            },
            RefundEach(trace, amount, n) => {
                for i in 0..*n {
                    let cmd = Cmd::Refund {
                        trace: *trace,
                        amount,
                        reason: "customer return",
                        approvals: SUP,
                        key: format!("each-{i}"),
                    };
                    let (command, key) = self.command(&cmd).expect("refund parses");
                    self.with_driver(|d, now| d.run(command, &key, now))
                        .unwrap_or_else(|e| panic!("refund {i} of {n}: {e}"));
                }
                Ok(Outcome::Unit)
            }
            SendHeld => {
                let request = self.held.take().expect("a held request");
                match self.host.send(&request, now) {
                    Ok(replies) => self.deliver(replies),
                    Err(cause) => self
                        .term
                        .handle_no_reply(cause, now)
                        .map(|()| Outcome::Unit),
                }
            }
            ReplyHeld(code, amount) => {
                let request = self.held.as_ref().expect("a held request");
                let reply = posflow_core::host::HostReply {
                    message: request.message,
                    trace_no: request.trace_no,
                    amount: Some(Money::parse(amount, self.term.config().currency).unwrap()),
                    code: (*code).into(),
                    rrn: Some("000000009999".into()),
                    auth_code: Some("123456".into()),
                    balanced: None,
                    host_time: now,
                };
                self.term.handle_reply(&reply, now).map(Outcome::Effect)
            }
            NoReplyNow => self
                .term
                .handle_no_reply(posflow_core::host::NoReply::Timeout, now)
                .map(|()| Outcome::Unit),
            Redeliver => {
                let reply = self.host.last_reply().expect("a reply").clone();
                self.term.handle_reply(&reply, now).map(Outcome::Effect)
            }
            Flush => {
                self.with_driver(|d, now| d.flush(now));
                Ok(Outcome::Unit)
            }
            Settle => self
                .with_driver(|d, now| d.settle(now))
                .map(|()| Outcome::Unit),
            SettleDirect => self.term.settle(now).map(|request| {
                self.held = Some(request);
                Outcome::Unit
            }),
            QueryHost(n) => {
                let selector = self.trace(*n);
                self.with_driver(|d, now| d.query(&selector, now))
                    .map(|()| Outcome::Unit)
            }
            Resolve(n, Res::AsHostSays, approver) => {
                let resolution = match self.posting(*n) {
                    Some(p) if p.code == "00" && !p.reversed => Resolution::Approved {
                        rrn: p.rrn.clone(),
                        auth_code: p.auth_code.clone(),
                    },
                    Some(_) | None => Resolution::Reversed,
                };
                let approval = [ApprovalInput {
                    operator_id: (*approver).into(),
                    pin: pin_of(approver).into(),
                }];
                let selector = self.trace(*n);
                self.term
                    .resolve_review(&selector, resolution, &approval, now)
                    .map(|()| Outcome::Unit)
            }
            Inject(fault) => {
                self.host.inject(fault.clone());
                return None;
            }
            HoldLate => {
                self.host.hold_late = true;
                return None;
            }
            DeliverLate => {
                let late = self.host.release_late(now);
                assert!(!late.is_empty(), "the host holds no late reply");
                self.deliver(late)
            }
            Restart => self.reopen(self.cfg, true),
            Reopen => self.reopen(self.cfg, false),
            Crash => {
                assert!(self.held.is_some(), "a crash needs a held request");
                self.reopen(self.cfg, true)
            }
            OpenAs(cfg) => {
                Terminal::open(cfg.config(), self.stored.clone(), now).map(|_| Outcome::Unit)
            }
            OpenTampered => {
                let mut entries = self.stored.clone();
                let entry = entries
                    .iter_mut()
                    .find(|e| matches!(e.record, Record::Requested(_)))
                    .expect("a request to tamper with");
                if let Record::Requested(r) = &mut entry.record {
                    r.amount = Money::parse("1.00", r.amount.currency()).unwrap();
                }
                Terminal::open(self.cfg.config(), entries, now).map(|_| Outcome::Unit)
            }
            ImportCut => {
                let text = self.term.journal().export_json();
                Journal::<Record>::import_json(&text[..text.len() / 2]).map(|_| Outcome::Unit)
            }
            Halt => {
                assert!(self.term.outstanding().is_none(), "halt only when idle");
                self.term.halt("simulated panic in the binding");
                return None;
            }
            FillPendingAdvices => {
                self.stored = pending_advices(&self.term, now);
                self.reopen(self.cfg, true)
            }
            ExpectErr(_)
            | Expect(..)
            | ExpectRefundable(..)
            | ExpectSameTxn(_)
            | ExpectHost(_)
            | ExpectRecords(..)
            | ExpectEffect(_)
            | ExpectPosting(..)
            | ExpectNoPosting(_)
            | ExpectReversalAnswer(..)
            | ExpectBalanced => unreachable!("an expectation: {step:?}"),
        };
        Some(result)
    }

    /// Checks an expectation; returns the error code it matched, if any.
    fn expect(&self, step: &Step) -> Option<&'static str> {
        let now = self.now;
        match step {
            ExpectErr(code) => match &self.last {
                Some(Err(e)) => {
                    assert_eq!(e.code(), *code, "expected {code}, got {e}");
                    return Some(code);
                }
                other => panic!("expected {code}, the step before gave {other:?}"),
            },
            Expect(n, status) => {
                let t = self.term.find(&self.trace(*n)).expect("trace exists");
                assert_eq!(
                    self.term.status(t, now),
                    *status,
                    "trace {n}: {:?}",
                    t.state
                );
            }
            ExpectRefundable(n, amount) => {
                let view = self.term.view(self.id_of(*n), now).unwrap();
                assert_eq!(
                    view.refundable.to_string(),
                    *amount,
                    "refundable of trace {n}"
                );
            }
            ExpectSameTxn(n) => match &self.last {
                Some(Ok(Outcome::Txn(id))) => assert_eq!(*id, self.id_of(*n)),
                Some(Ok(Outcome::Submitted(s))) => {
                    assert_eq!(s.txn, self.id_of(*n));
                    assert!(s.replayed, "replayed by key");
                    assert_eq!(s.request, None, "nothing to send again");
                }
                other => panic!("expected trace {n} again, got {other:?}"),
            },
            ExpectHost(messages) => assert_eq!(self.host.messages(), *messages),
            ExpectRecords(kind, n) => {
                let count = self
                    .term
                    .journal()
                    .entries()
                    .iter()
                    .filter(|e| e.record.type_name() == *kind)
                    .count();
                assert_eq!(count, *n, "{kind} records");
            }
            ExpectEffect(effect) => match &self.last {
                Some(Ok(Outcome::Effect(e))) => assert_eq!(e, effect),
                other => panic!("expected {effect:?}, got {other:?}"),
            },
            ExpectPosting(n, code, reversed) => {
                let p = self
                    .posting(*n)
                    .unwrap_or_else(|| panic!("no posting for {n}"));
                assert_eq!(
                    (p.code.as_str(), p.reversed),
                    (*code, *reversed),
                    "posting {n}"
                );
            }
            ExpectNoPosting(n) => assert!(self.posting(*n).is_none(), "posting for {n}"),
            ExpectReversalAnswer(n, code) => {
                let id = self.id_of(*n);
                let found = self.term.journal().entries().iter().any(|e| {
                    matches!(&e.record, Record::Answered { purpose: posflow_core::record::Purpose::Reversal { txn, .. }, code: c, .. }
                        if *txn == id && c == code)
                });
                assert!(found, "no reversal of trace {n} answered {code}");
            }
            ExpectBalanced => {
                let closed = self.term.closed_batches().last().expect("a closed batch");
                assert!(closed.balanced, "terminal: unbalanced {closed:?}");
                let (_, batch, balanced) = self.host.inner.settled.last().expect("host settled");
                assert_eq!((*batch, *balanced), (closed.batch_no, true), "host's view");
            }
            _ => unreachable!("not an expectation: {step:?}"),
        }
        None
    }

    /// The checks after every step.
    fn check(&mut self) -> Result<(), String> {
        self.term.check_invariants(self.now)?;
        if self.stored != self.term.journal().entries() {
            return Err(format!(
                "stored {} entries, the journal has {}",
                self.stored.len(),
                self.term.journal().len()
            ));
        }
        let journal = self.term.journal();
        let key = (
            journal.len(),
            journal.head().to_owned(),
            self.now,
            self.term.signed_in().map(str::to_owned),
        );
        // Replaying is the expensive half (seconds on the million-record row);
        // its result only depends on the key, so an unchanged key reuses it.
        // The live terminal is compared afresh every time.
        if self.replayed.as_ref().is_none_or(|(k, _)| *k != key) {
            let replayed = replay(&self.term, self.cfg.config(), self.now)?;
            self.replayed = Some((key, replayed));
        }
        let (_, replayed) = self.replayed.as_ref().expect("just set");
        compare_replay(&self.term, replayed, self.now)
    }
}

/// The terminal's journal, plus one offline completion advice for every
/// trace number, none of them sent yet. Built with the public journal API
/// because driving the engine there takes two million commands, each of
/// which scans every transaction.
fn pending_advices(term: &Terminal, now: Timestamp) -> Vec<Entry<Record>> {
    let mut journal = Journal::from_entries(term.journal().entries().to_vec()).unwrap();
    let currency = term.config().currency;
    let card = Card::from_pan(PAN).unwrap();
    let mut trace = TraceNo::FIRST;
    for i in 0..999_999u32 {
        journal.append(Record::Requested(Box::new(Request {
            kind: Kind::CompletionAdvice,
            key: format!("a{i}"),
            fingerprint: String::new(),
            amount: Money::parse("1", currency).unwrap(),
            card: card.clone(),
            trace_no: trace,
            batch_no: term.batch_no(),
            original: None,
            operator_id: "01".into(),
            approvals: Vec::new(),
            reason: None,
            fallback: None,
            voucher: None,
            at: now,
        })));
        trace = trace.next();
    }
    journal.entries().to_vec()
}

fn is_expectation(step: &Step) -> bool {
    matches!(
        step,
        ExpectErr(_)
            | Expect(..)
            | ExpectRefundable(..)
            | ExpectSameTxn(_)
            | ExpectHost(_)
            | ExpectRecords(..)
            | ExpectEffect(_)
            | ExpectPosting(..)
            | ExpectNoPosting(_)
            | ExpectReversalAnswer(..)
            | ExpectBalanced
    )
}

/// Runs one row; returns the codes its `ExpectErr` steps matched.
fn run_row(row: &Row) -> BTreeSet<&'static str> {
    let mut world = World::new(Cfg::Cny, T0);
    let mut seen = BTreeSet::new();
    let fail = |i: usize, step: &Step, why: String| -> ! {
        panic!("row {:?}, step {i} ({step:?}): {why}", row.name)
    };
    for (i, step) in row.steps.iter().enumerate() {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if is_expectation(step) {
                world.expect(step)
            } else {
                if let Some(result) = world.act(step) {
                    world.last = Some(result);
                }
                // The caller's contract: drain and store after every call.
                world.persist();
                None
            }
        }));
        match outcome {
            Ok(Some(code)) => {
                seen.insert(code);
            }
            Ok(None) => {}
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                fail(i, step, why)
            }
        }
        if let Some(Err(e)) = &world.last {
            if !matches!(row.steps.get(i + 1), Some(ExpectErr(_))) && !matches!(step, ExpectErr(_))
            {
                fail(i, step, format!("unexpected error {}: {e}", e.code()));
            }
        }
        if matches!(step, ExpectErr(_)) {
            world.last = None;
        }
        // An expectation only reads the world (`expect` takes `&self`), so
        // the checks after it would repeat the ones after the step before.
        if !is_expectation(step) {
            if let Err(why) = world.check() {
                fail(i, step, why);
            }
        }
    }
    assert!(
        world.host.faults.is_empty(),
        "row {:?}: faults left unused: {:?}",
        row.name,
        world.host.faults
    );
    seen
}

/// Runs the whole table once for both tests.
fn table() -> &'static BTreeSet<&'static str> {
    static SEEN: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    SEEN.get_or_init(|| {
        let mut seen = BTreeSet::new();
        for row in rows() {
            let started = std::time::Instant::now();
            seen.extend(run_row(&row));
            eprintln!("{:>8.1?}  {}", started.elapsed(), row.name);
        }
        seen
    })
}

/// A host that never answers: `Driver::flush` must come back. Reversals are
/// bounded by the policy's attempts (then manual review); an offline advice
/// is not, so the flush tries it once and leaves it for the next one.
#[test]
fn flush_comes_back_when_the_host_never_answers() {
    struct Down(Vec<MessageType>);
    impl Host for Down {
        fn send(
            &mut self,
            request: &posflow_core::host::HostRequest,
            _now: Timestamp,
        ) -> Result<Vec<posflow_core::host::HostReply>, posflow_core::host::NoReply> {
            self.0.push(request.message);
            assert!(
                self.0.len() <= 20,
                "the flush keeps sending to a host that never answers: {:?}",
                self.0
            );
            Err(posflow_core::host::NoReply::Timeout)
        }
    }
    let mut world = World::new(Cfg::Cny, T0);
    // An advice waiting to go out, and a sale whose reply never came.
    for step in [
        Run(pre_auth("100.00", "p1")),
        Exec(advice(1, "80.00", "c1")),
        Exec(sale("5.00", "k1")),
        Inject(Fault::Timeout),
        SendHeld,
    ] {
        if let Some(Err(e)) = world.act(&step) {
            panic!("{step:?}: {e}");
        }
        world.persist();
    }
    assert_eq!(world.host.messages(), [PreAuth, Sale]);
    assert_eq!(
        world
            .term
            .status(world.term.find(&world.trace(3)).unwrap(), T0),
        InDoubt
    );
    let mut down = Down(Vec::new());
    let mut driver = Driver::new(&mut world.term, &mut down);
    driver.flush(T0);
    driver.flush(T0);
    assert_eq!(
        down.0,
        [
            Reversal,
            Reversal,
            Reversal,
            CompletionAdvice,
            CompletionAdvice
        ]
    );
    let sale = world.term.find(&world.trace(3)).unwrap();
    assert_eq!(world.term.status(sale, T0), ManualReview);
    assert!(world.term.has_pending_transmit(), "the advice waits");
}

#[test]
fn scenario_table() {
    assert!(!table().is_empty());
}

#[test]
fn every_error_code_is_reached() {
    let seen = table();
    let missing: Vec<&str> = PosError::ALL_CODES
        .iter()
        .copied()
        .filter(|c| !seen.contains(c))
        .collect();
    assert!(missing.is_empty(), "codes no row reaches: {missing:?}");
    let unknown: Vec<&&str> = seen
        .iter()
        .filter(|c| !PosError::ALL_CODES.contains(c))
        .collect();
    assert!(unknown.is_empty(), "codes not in ALL_CODES: {unknown:?}");
}
