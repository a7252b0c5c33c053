//! The model test (STYLE.md, Tests): proptest drives random sequences of
//! commands, host faults, restarts and clock advances through the Driver,
//! and after every step checks the terminal against a small reference model
//! and DESIGN.md's invariants.
//!
//! The model knows nothing of the terminal's insides. It learns what
//! happened only from the wire (every request, reply and missing reply, as
//! the recording host saw them), from its own commands, and from restarts,
//! and from that it keeps, per transaction, the outcome DESIGN.md's state
//! diagram gives: sent, in doubt (with failed reversals), manual review,
//! approved, declined, reversed. From those it derives status, refundable
//! amount (approved refunds per original, plus the pending and in-doubt ones
//! that consume headroom) and predicts every command's result, down to the
//! error code, in the terminal's documented check order.
//!
//! Refunds go through the refund planner (`refund_command`), so the model
//! predicts the planner's documented decision (planner.rs, `plan_journal`
//! and `finish_plan`): original in doubt; a pre-auth is cancelled (open,
//! exact frozen amount) or refused; only an approved or partially refunded
//! sale or completion; the refund count; the headroom; a void when the batch
//! is open, the amount full and no refund stands; a fallback (never sent,
//! approved at once by two supervisors, not in the settlement summary) when
//! the original route is closed — prepaid card, 30-day window, a refund the
//! host declined with a route-closing code, a refund that came back — and
//! not while another refund of that original is unresolved; otherwise the
//! original route. Beside the commands it confirms fallbacks, records
//! statement outcomes (credited, returned: a returned refund frees its
//! headroom and closes the route) and compares `plan_refund`'s decision,
//! approvals, amount and refundable with its own plan.
//!
//! Checked after every step:
//! - each transaction's outcome, failed-reversal count, pending advice,
//!   status and refundable amount equal the model's; keys map to the same
//!   transactions; batch and sign-in agree; nothing else exists;
//! - invariant 1 (refunds ≤ original) through the model's refundable and
//!   `check_invariants`;
//! - invariant 2: an outcome, once definitive, never changes; a key replayed
//!   with the same parameters returns the same transaction and sends nothing,
//!   with other parameters it is refused;
//! - invariant 3: a request with no reply (or an unknown code) is in doubt,
//!   never declined (the model says in doubt; the terminal must agree);
//! - invariant 4: no financial request or settlement goes out while anything
//!   is in doubt or in manual review (checked on the wire, at each request);
//!   the Driver asserts persist-before-send;
//! - invariant 5 and the rest of `check_invariants` (6: a fallback only on
//!   a closed route, never while a refund of the same original is in doubt);
//! - every refund's tracking status and route (`refund_view`) equal the
//!   model's; a fallback is recorded as one and the host never sees it;
//! - the settlement summary on the wire equals the model's totals (fallback
//!   refunds left out, voided debits left out);
//! - invariant 7: replaying the journal gives the same state
//!   (`common::check_replay`), and the export re-imports at the end;
//! - invariant 9: no full PAN (nor its first 12 digits) in the export;
//! - the acquirer's ledger agrees: a transaction the terminal holds approved
//!   is one the host approved and did not reverse, for the same amount, and
//!   one it holds declined or reversed is not (a fallback refund never
//!   reaches it); a settlement that closes balances. Two cases are left out on purpose and counted: a query
//!   answered by a `Decline` fault (the simulator then makes up the
//!   original's outcome, and the terminal rightly believes it), and an
//!   offline advice the host refused (the terminal keeps the completion
//!   approved and that batch settles unbalanced; DESIGN.md does not yet say
//!   what a refused advice should do).
//!
//! Cases: `POSFLOW_MODEL_CASES` (default 10,000), each of 1 to
//! `POSFLOW_MODEL_STEPS` (default 40) steps.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use common::{check_replay, fast_config, Recorder, Wire};
use posflow_core::acquirer::Fault;
use posflow_core::host::{classify, HostRequest, MessageType, ResponseClass};
use posflow_core::journal::{Entry, Journal};
use posflow_core::prelude::*;
use posflow_core::record::{Outcome, Resolution};
use posflow_core::terminal::TxnState;
use posflow_core::time::DAY_MS;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};

/// Test cards; every digit is searchable in the export. The simulated
/// acquirer decides by the last four digits.
const PANS: [&str; 7] = [
    "6222021234567890123", // approves
    "6225887712340987",    // approves
    "5413330089020011",    // foreign, approves
    "6210990001234567",    // prepaid, approves
    "6222020200000051",    // 51 insufficient funds (debits)
    "6222020200000014",    // 14 invalid card
    "6222020200000096",    // 96 system malfunction: outcome unknown
];

const T0: Timestamp = Timestamp(1_795_365_000_000);
const MAX_REFUNDS: usize = 50;
const TOLERANCE_PERCENT: i64 = 115;
const VALIDITY_DAYS: i64 = 30;
const REVERSAL_ATTEMPTS: u32 = 3;
/// Policy defaults the planner reads (DESIGN.md Rules 2 and 7).
const CARD_WINDOW_DAYS: i64 = 30;
const DUAL_CONTROL_CENTS: i64 = 500_000;
const UTC_OFFSET_MS: i64 = 8 * 3_600_000;
/// The prepaid card of `PANS`: its method cannot take a refund back.
const PREPAID: usize = 3;

// ----- operations ---------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Sale {
        cents: i64,
        card: usize,
    },
    PreAuth {
        cents: i64,
        card: usize,
    },
    Void {
        pick: u16,
        any: bool,
        by_trace: bool,
    },
    Refund {
        pick: u16,
        any: bool,
        permille: i64,
    },
    Complete {
        pick: u16,
        any: bool,
        permille: i64,
        advice: bool,
    },
    Cancel {
        pick: u16,
        any: bool,
        by_trace: bool,
    },
    Repeat {
        pick: u16,
        same: bool,
    },
    Settle,
    Fault(Fault),
    Query {
        pick: u16,
    },
    Resolve,
    Restart {
        sign_in: bool,
    },
    SignIn,
    /// A sale appended and stored, then the process dies before sending.
    Crash {
        cents: i64,
        card: usize,
    },
    Advance {
        ms: i64,
    },
    /// `confirm_fallback` of a fallback refund (or, `any`, of anything).
    ConfirmFallback {
        pick: u16,
        any: bool,
    },
    /// `record_refund_outcome` of a refund (or, `any`, of anything that
    /// gives money back).
    RecordOutcome {
        pick: u16,
        any: bool,
        returned: bool,
    },
    /// `plan_refund` of an original, compared with the model's plan.
    PlanCheck {
        pick: u16,
        any: bool,
        permille: i64,
    },
}

fn cents() -> impl Strategy<Value = i64> {
    prop_oneof![3 => 1i64..=20_000, 1 => 1i64..=800_000]
}

fn card() -> impl Strategy<Value = usize> {
    prop_oneof![16 => 0usize..4, 2 => Just(4usize), 1 => Just(5usize), 2 => Just(6usize)]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::Timeout),
        Just(Fault::LostReply),
        Just(Fault::DuplicateReply),
        Just(Fault::LateReply),
        Just(Fault::TransportError),
        prop::sample::select(vec!["05", "51", "12", "96"]).prop_map(|c| Fault::Decline(c.into())),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let pick = any::<u16>();
    let rarely = prop::bool::weighted(0.1);
    prop_oneof![
        6 => (cents(), card()).prop_map(|(cents, card)| Op::Sale { cents, card }),
        2 => (cents(), card()).prop_map(|(cents, card)| Op::PreAuth { cents, card }),
        2 => (pick, rarely, any::<bool>())
            .prop_map(|(pick, any, by_trace)| Op::Void { pick, any, by_trace }),
        5 => (pick, rarely, permille())
            .prop_map(|(pick, any, permille)| Op::Refund { pick, any, permille }),
        2 => (pick, rarely, 500i64..=1200, prop::bool::weighted(0.3)).prop_map(
            |(pick, any, permille, advice)| Op::Complete { pick, any, permille, advice }
        ),
        1 => (pick, rarely, any::<bool>())
            .prop_map(|(pick, any, by_trace)| Op::Cancel { pick, any, by_trace }),
        1 => (pick, any::<bool>()).prop_map(|(pick, same)| Op::Repeat { pick, same }),
        1 => Just(Op::Settle),
        5 => fault().prop_map(Op::Fault),
        1 => pick.prop_map(|pick| Op::Query { pick }),
        1 => Just(Op::Resolve),
        1 => prop::bool::weighted(0.8).prop_map(|sign_in| Op::Restart { sign_in }),
        1 => Just(Op::SignIn),
        1 => (cents(), card()).prop_map(|(cents, card)| Op::Crash { cents, card }),
        1 => prop::sample::select(vec![60_000, 3_600_000, DAY_MS, 10 * DAY_MS, 31 * DAY_MS])
            .prop_map(|ms| Op::Advance { ms }),
        1 => (pick, rarely).prop_map(|(pick, any)| Op::ConfirmFallback { pick, any }),
        2 => (pick, rarely, prop::bool::weighted(0.4))
            .prop_map(|(pick, any, returned)| Op::RecordOutcome { pick, any, returned }),
        2 => (pick, prop::bool::weighted(0.3), permille())
            .prop_map(|(pick, any, permille)| Op::PlanCheck { pick, any, permille }),
    ]
}

/// A refund's share of its original, in permille: a part, sometimes more
/// than is left, often the whole (a void in the open batch, a pre-auth
/// cancel).
fn permille() -> impl Strategy<Value = i64> {
    prop_oneof![3 => 1i64..=600, 1 => 1i64..=1100, 1 => Just(1000i64)]
}

// ----- the model ----------------------------------------------------------

/// A transaction's own outcome, as DESIGN.md's state diagram has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Own {
    Sent,
    InDoubt(u32),
    Review,
    Approved,
    Declined,
    Reversed,
}

impl Own {
    fn unresolved(self) -> bool {
        matches!(self, Own::Sent | Own::InDoubt(_) | Own::Review)
    }

    fn of(state: &TxnState) -> Own {
        match state {
            TxnState::Sent => Own::Sent,
            TxnState::InDoubt {
                failed_reversals, ..
            } => Own::InDoubt(*failed_reversals),
            TxnState::ManualReview { .. } => Own::Review,
            TxnState::Approved { .. } => Own::Approved,
            TxnState::Declined { .. } => Own::Declined,
            TxnState::Reversed { .. } => Own::Reversed,
        }
    }
}

/// A command as the model issues it; equal commands have equal fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MCmd {
    Sale { cents: i64, card: usize },
    PreAuth { cents: i64, card: usize },
    Void { o: usize, by_trace: bool },
    Refund { o: usize, cents: i64 },
    Complete { o: usize, cents: i64, advice: bool },
    Cancel { o: usize, by_trace: bool },
}

#[derive(Debug, Clone)]
struct MTxn {
    id: TxnId,
    kind: Kind,
    cents: i64,
    original: Option<usize>,
    trace: u32,
    batch: u32,
    at: Timestamp,
    own: Own,
    advice_pending: bool,
    key: String,
    /// Its outcome rests on an answer the simulator made up (a `Decline`
    /// fault on a query), so the host's ledger may say otherwise.
    host_lied: bool,
    /// An offline advice the host refused: approved here, unknown there.
    advice_refused: bool,
    /// The host answered an attempt of this advice with 94: it had it from
    /// an attempt whose answer was lost, and what it said then is not on
    /// the wire (the harness reads it from the ledger, see `Sim::learn`).
    advice_duplicate: bool,
    /// The card it was paid with (`PANS`); acts on an original use its card.
    card: usize,
    /// The code it was declined with.
    code: Option<String>,
    /// A refund by a fallback route: approved at once, never sent.
    fallback: bool,
    /// Supervisors who approved it (Rule 7).
    approvals: usize,
    /// What the statement (or a fallback's confirmation) said became of an
    /// accepted refund.
    outcome: Option<Outcome>,
}

/// The model's refund plan: what `plan_refund` must decide.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MPlan {
    action: Action,
    cents: i64,
    refundable: i64,
    approvals: usize,
    route: Route,
    /// Why the original route is closed, in the planner's order.
    closed: Vec<Reason>,
    /// The error a rejected plan gives.
    rejection: Option<&'static str>,
}

impl MPlan {
    fn reject(cents: i64, refundable: i64, code: &'static str) -> MPlan {
        MPlan {
            action: Action::Reject,
            cents,
            refundable,
            approvals: 0,
            route: Route::None,
            closed: Vec::new(),
            rejection: Some(code),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Predicted {
    Accept {
        kind: Kind,
        cents: i64,
        original: Option<usize>,
        fallback: bool,
        /// Approvers recorded with it.
        approvals: usize,
    },
    Replay(usize),
    Refuse(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum Exchange {
    Request(usize),
    Reversal(usize),
    Query(usize),
    Advice(usize),
    Settlement,
    Upload,
    UploadEnd,
}

#[derive(Debug, Default)]
struct Model {
    txns: Vec<MTxn>,
    keys: HashMap<String, (MCmd, usize)>,
    key_order: Vec<String>,
    batch: u32,
    next_trace: u32,
    signed_in: bool,
    current: Option<(Exchange, Option<Fault>)>,
    /// Batches that closed, with whether the model expects them balanced.
    closed: Vec<(u32, bool)>,
    /// A batch upload is under way (the host said unbalanced).
    uploading: bool,
    /// Predict what the documentation says even where the engine is known
    /// to differ (see `KNOWN_BUG_FIXED`).
    strict: bool,
}

fn is_debit_original(kind: Kind) -> bool {
    matches!(kind, Kind::Sale | Kind::Completion | Kind::CompletionAdvice)
}

/// The kinds the refund tracker follows.
fn gives_back(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Refund | Kind::Void | Kind::CompletionVoid | Kind::PreAuthCancel
    )
}

/// The terminal's local calendar day (China Standard Time), as a number.
fn local_day(at: Timestamp) -> i64 {
    (at.0 + UTC_OFFSET_MS).div_euclid(DAY_MS)
}

/// Refund response codes that close the original route: the card is
/// cancelled, expired or restricted, or the acquirer refuses the type.
fn route_closed_by(code: &str) -> Option<Reason> {
    match code {
        "14" | "41" | "43" | "54" | "62" => Some(Reason::CardClosed),
        "12" | "57" | "58" => Some(Reason::HostRefusedRoute),
        _ => None,
    }
}

impl MTxn {
    fn returned(&self) -> bool {
        self.outcome == Some(Outcome::Returned)
    }
}

impl Model {
    fn children(&self, o: usize) -> impl Iterator<Item = &MTxn> + '_ {
        self.txns.iter().filter(move |t| t.original == Some(o))
    }

    fn status(&self, i: usize, now: Timestamp) -> Status {
        let t = &self.txns[i];
        match t.own {
            Own::Sent => Status::Sent,
            Own::InDoubt(_) => Status::InDoubt,
            Own::Review => Status::ManualReview,
            Own::Declined => Status::Declined,
            Own::Reversed => Status::Reversed,
            Own::Approved => {
                let approved_child = |kinds: &[Kind]| {
                    self.txns.iter().enumerate().any(|(c, ct)| {
                        ct.original == Some(i)
                            && kinds.contains(&ct.kind)
                            && ct.own == Own::Approved
                            && self.status(c, now) != Status::Voided
                    })
                };
                match t.kind {
                    Kind::Sale | Kind::Completion | Kind::CompletionAdvice => {
                        if approved_child(&[Kind::Void, Kind::CompletionVoid]) {
                            return Status::Voided;
                        }
                        let refunded: i64 = self
                            .children(i)
                            .filter(|c| {
                                c.kind == Kind::Refund && c.own == Own::Approved && !c.returned()
                            })
                            .map(|c| c.cents)
                            .sum();
                        if refunded == 0 {
                            Status::Approved
                        } else if refunded >= t.cents {
                            Status::Refunded
                        } else {
                            Status::PartiallyRefunded
                        }
                    }
                    Kind::PreAuth => {
                        if approved_child(&[Kind::Completion, Kind::CompletionAdvice]) {
                            Status::Completed
                        } else if approved_child(&[Kind::PreAuthCancel]) {
                            Status::Cancelled
                        } else if now.0 > t.at.0 + VALIDITY_DAYS * DAY_MS {
                            Status::Expired
                        } else {
                            Status::Approved
                        }
                    }
                    Kind::Void | Kind::Refund | Kind::PreAuthCancel | Kind::CompletionVoid => {
                        Status::Approved
                    }
                }
            }
        }
    }

    /// Every refund of `o`, whatever became of it.
    fn refunds_of(&self, o: usize) -> impl Iterator<Item = &MTxn> + '_ {
        self.children(o).filter(|c| c.kind == Kind::Refund)
    }

    /// Refunds that consume headroom (Rule 2): unresolved, or approved and
    /// not returned (a returned refund's money is back).
    fn live_refunds(&self, o: usize) -> impl Iterator<Item = &MTxn> + '_ {
        self.refunds_of(o).filter(|c| match c.own {
            Own::Sent | Own::InDoubt(_) | Own::Review => true,
            Own::Approved => !c.returned(),
            Own::Declined | Own::Reversed => false,
        })
    }

    fn refundable(&self, o: usize, now: Timestamp) -> i64 {
        let t = &self.txns[o];
        let status = self.status(o, now);
        if !(is_debit_original(t.kind)
            && matches!(status, Status::Approved | Status::PartiallyRefunded))
        {
            return 0;
        }
        let used: i64 = self.live_refunds(o).map(|r| r.cents).sum();
        (t.cents - used).max(0)
    }

    fn in_doubt(&self, o: usize, now: Timestamp) -> bool {
        self.status(o, now) == Status::Sent
            || self.txns[o].own.unresolved()
            || self
                .children(o)
                .any(|c| c.own.unresolved() && c.kind != Kind::Refund)
    }

    /// Rule 4: the first thing in doubt or in review blocks new requests.
    fn channel(&self) -> Option<&'static str> {
        let unresolved = self.txns.iter().find_map(|t| match t.own {
            Own::Review => Some("MANUAL_REVIEW_PENDING"),
            Own::InDoubt(_) => Some("REVERSAL_PENDING"),
            Own::Sent | Own::Approved | Own::Declined | Own::Reversed => None,
        });
        unresolved.or(self.uploading.then_some("BATCH_UPLOAD_PENDING"))
    }

    /// `pre_auth_for`: a completion or a cancel acts on an approved pre-auth.
    fn pre_auth_rules(&self, o: usize, now: Timestamp) -> Result<(), &'static str> {
        let t = &self.txns[o];
        let status = self.status(o, now);
        if self.in_doubt(o, now) {
            return Err("ORIGINAL_IN_DOUBT");
        }
        if t.kind == Kind::PreAuth && status == Status::Expired {
            return Err("PRE_AUTH_EXPIRED");
        }
        if !(t.kind == Kind::PreAuth && status == Status::Approved) {
            return Err("TRANSITION_NOT_ALLOWED");
        }
        Ok(())
    }

    /// The planner's decision for a refund of `cents` (`None`: everything
    /// left) of `o` at `now`, in planner.rs's order.
    fn plan(&self, o: usize, cents: Option<i64>, now: Timestamp) -> MPlan {
        let t = &self.txns[o];
        let status = self.status(o, now);
        let refundable = self.refundable(o, now);
        // No amount: everything left (`plan_refund`'s doc).
        let amount = cents.unwrap_or(refundable);
        let reject = |code| MPlan::reject(amount, refundable, code);
        if self.in_doubt(o, now) {
            return reject("ORIGINAL_IN_DOUBT");
        }
        if t.kind == Kind::PreAuth {
            // Rule 3: cancelled while open, for exactly the frozen amount.
            if status != Status::Approved || cents.is_some_and(|c| c != t.cents) {
                return reject("PRE_AUTH_NOT_REFUNDABLE");
            }
            return MPlan {
                action: Action::PreAuthCancel,
                cents: t.cents,
                refundable: t.cents,
                approvals: 0,
                route: Route::Original,
                closed: Vec::new(),
                rejection: None,
            };
        }
        if !(is_debit_original(t.kind)
            && matches!(status, Status::Approved | Status::PartiallyRefunded))
        {
            return reject("TRANSITION_NOT_ALLOWED");
        }
        if self.live_refunds(o).count() >= MAX_REFUNDS {
            return reject("REFUND_LIMIT_REACHED");
        }
        if refundable == 0 || amount > refundable {
            return reject("REFUND_EXCEEDS_REFUNDABLE");
        }
        // Rule 1: open batch, full amount, no refund that stands.
        let voidable = t.batch == self.batch
            && amount == t.cents
            && self
                .refunds_of(o)
                .all(|s| matches!(s.own, Own::Declined | Own::Reversed));
        if voidable {
            return MPlan {
                action: Action::Void,
                cents: t.cents,
                refundable,
                approvals: 1,
                route: Route::Original,
                closed: Vec::new(),
                rejection: None,
            };
        }
        // Rule 5: why the original route is closed, if it is.
        let mut closed = Vec::new();
        if t.card == PREPAID {
            closed.push(Reason::MethodCannotRefund);
        }
        if local_day(now) - local_day(t.at) > CARD_WINDOW_DAYS {
            closed.push(Reason::WindowPassed);
        }
        for s in self.refunds_of(o) {
            let reason = match s.own {
                Own::Declined => s.code.as_deref().and_then(route_closed_by),
                Own::Approved if s.returned() => Some(Reason::CardClosed),
                _ => None,
            };
            if let Some(r) = reason.filter(|r| !closed.contains(r)) {
                closed.push(r);
            }
        }
        if closed.is_empty() {
            // Rule 7: a supervisor; two people from 5000.00.
            return MPlan {
                action: Action::Refund,
                cents: amount,
                refundable,
                approvals: if amount >= DUAL_CONTROL_CENTS { 2 } else { 1 },
                route: Route::Original,
                closed,
                rejection: None,
            };
        }
        // Invariant 6: no fallback while a refund of it is unresolved.
        if self.refunds_of(o).any(|s| s.own.unresolved()) {
            return MPlan {
                closed,
                ..reject("ORIGINAL_IN_DOUBT")
            };
        }
        MPlan {
            action: Action::Fallback,
            cents: amount,
            refundable,
            approvals: 2,
            route: Route::SettlementAccount,
            closed,
            rejection: None,
        }
    }

    /// Rule 8's status of a refund, void or pre-auth cancel.
    fn refund_status(&self, i: usize) -> Option<RefundStatus> {
        let t = &self.txns[i];
        if !gives_back(t.kind) {
            return None;
        }
        Some(match t.own {
            Own::Sent => RefundStatus::Submitted,
            Own::InDoubt(_) | Own::Review => RefundStatus::InDoubt,
            Own::Declined | Own::Reversed => RefundStatus::Failed,
            Own::Approved => match t.outcome {
                Some(Outcome::Returned) => RefundStatus::Returned,
                Some(Outcome::Credited) => RefundStatus::Credited,
                // The money never moved.
                None if t.kind != Kind::Refund => RefundStatus::Credited,
                None => RefundStatus::Accepted,
            },
        })
    }

    /// The settlement summary of `batch`: standing debits, and the refunds
    /// that went through the card network (a fallback is settled outside it).
    fn summary(&self, batch: u32, now: Timestamp) -> (u32, i64, u32, i64) {
        let mut totals = (0, 0, 0, 0);
        for (i, t) in self.txns.iter().enumerate() {
            if t.batch != batch || t.own != Own::Approved {
                continue;
            }
            if is_debit_original(t.kind) && self.status(i, now) != Status::Voided {
                totals.0 += 1;
                totals.1 += t.cents;
            } else if t.kind == Kind::Refund && !t.fallback {
                totals.2 += 1;
                totals.3 += t.cents;
            }
        }
        totals
    }

    /// The result of `execute`, in its documented order: amount, signed in,
    /// key, the original and its rules, the host channel.
    fn predict(&self, cmd: &MCmd, key: &str, now: Timestamp) -> Predicted {
        if !self.signed_in {
            return Predicted::Refuse("NOT_SIGNED_IN");
        }
        if let Some((earlier, i)) = self.keys.get(key) {
            return if earlier == cmd {
                Predicted::Replay(*i)
            } else {
                Predicted::Refuse("IDEMPOTENCY_KEY_REUSED")
            };
        }
        let planned = match cmd {
            MCmd::Sale { cents, .. } => Ok((Kind::Sale, *cents, None, false, 0)),
            MCmd::PreAuth { cents, .. } => Ok((Kind::PreAuth, *cents, None, false, 0)),
            MCmd::Void { o, .. } => {
                let t = &self.txns[*o];
                let status = self.status(*o, now);
                if self.in_doubt(*o, now) {
                    Err("ORIGINAL_IN_DOUBT")
                } else if !(is_debit_original(t.kind) && status == Status::Approved) {
                    Err(match status {
                        Status::PartiallyRefunded | Status::Refunded => "VOID_HAS_REFUNDS",
                        _ => "TRANSITION_NOT_ALLOWED",
                    })
                } else if t.batch != self.batch {
                    Err("VOID_BATCH_SETTLED")
                } else if self.refunds_of(*o).any(|r| {
                    // Rule 1: no refund against it, a returned one included
                    // (as the planner has it). The engine's void command
                    // counts only refunds that hold headroom: a known bug.
                    match r.own {
                        Own::Declined | Own::Reversed => false,
                        Own::Approved if r.returned() => self.strict,
                        _ => true,
                    }
                }) {
                    Err("VOID_HAS_REFUNDS")
                } else if t.kind == Kind::Sale {
                    Ok((Kind::Void, t.cents, Some(*o), false, 1))
                } else {
                    Ok((Kind::CompletionVoid, t.cents, Some(*o), false, 1))
                }
            }
            MCmd::Refund { o, cents } => {
                // The refund command carries out what the planner decides.
                let plan = self.plan(*o, Some(*cents), now);
                let kind = match plan.action {
                    Action::Void if self.txns[*o].kind == Kind::Sale => Kind::Void,
                    Action::Void => Kind::CompletionVoid,
                    Action::PreAuthCancel => Kind::PreAuthCancel,
                    Action::Refund | Action::Fallback | Action::Reject => Kind::Refund,
                };
                match plan.rejection {
                    Some(code) => Err(code),
                    None => Ok((
                        kind,
                        plan.cents,
                        Some(*o),
                        plan.action == Action::Fallback,
                        plan.approvals,
                    )),
                }
            }
            MCmd::Complete { o, cents, advice } => {
                self.pre_auth_rules(*o, now).and_then(|()| {
                    // 115 %, truncated to the fen.
                    let maximum = self.txns[*o].cents * TOLERANCE_PERCENT / 100;
                    if *cents > maximum {
                        Err("COMPLETION_EXCEEDS_TOLERANCE")
                    } else if *advice {
                        Ok((Kind::CompletionAdvice, *cents, Some(*o), false, 0))
                    } else {
                        Ok((Kind::Completion, *cents, Some(*o), false, 0))
                    }
                })
            }
            MCmd::Cancel { o, .. } => self
                .pre_auth_rules(*o, now)
                .map(|()| (Kind::PreAuthCancel, self.txns[*o].cents, Some(*o), false, 0)),
        };
        match planned {
            Err(code) => Predicted::Refuse(code),
            // A fallback is never sent, yet the channel is checked first.
            Ok((kind, cents, original, fallback, approvals)) => match self.channel() {
                Some(code) => Predicted::Refuse(code),
                None => Predicted::Accept {
                    kind,
                    cents,
                    original,
                    fallback,
                    approvals,
                },
            },
        }
    }

    /// Records an accepted command as transaction `id`.
    fn create(&mut self, accepted: &Predicted, id: TxnId, key: &str, cmd: MCmd, now: Timestamp) {
        let Predicted::Accept {
            kind,
            cents,
            original,
            fallback,
            approvals,
        } = *accepted
        else {
            unreachable!("only accepted commands create transactions")
        };
        let advice = kind == Kind::CompletionAdvice;
        let card = match (&cmd, original) {
            (MCmd::Sale { card, .. } | MCmd::PreAuth { card, .. }, _) => *card,
            (_, Some(o)) => self.txns[o].card,
            (_, None) => unreachable!("only sales and pre-auths have no original"),
        };
        let trace = self.next_trace;
        self.next_trace += 1;
        self.txns.push(MTxn {
            id,
            kind,
            cents,
            original,
            trace,
            batch: self.batch,
            at: now,
            // An advice is approved offline; a fallback by its approvers.
            own: if advice || fallback {
                Own::Approved
            } else {
                Own::Sent
            },
            advice_pending: advice,
            key: key.to_owned(),
            host_lied: false,
            advice_refused: false,
            advice_duplicate: false,
            card,
            code: None,
            fallback,
            approvals,
            outcome: None,
        });
        self.keys.insert(key.to_owned(), (cmd, self.txns.len() - 1));
        self.key_order.push(key.to_owned());
    }

    fn by_wire(&self, request: &HostRequest) -> Result<usize, String> {
        self.txns
            .iter()
            .position(|t| t.batch == request.batch_no.get() && t.trace == request.trace_no.get())
            .ok_or_else(|| format!("the wire names a transaction the model lacks: {request:?}"))
    }

    fn reversal_failed(&mut self, i: usize) -> Result<(), String> {
        match self.txns[i].own {
            Own::InDoubt(f) if f + 1 >= REVERSAL_ATTEMPTS => self.txns[i].own = Own::Review,
            Own::InDoubt(f) => self.txns[i].own = Own::InDoubt(f + 1),
            other => return Err(format!("a reversal of {} while {other:?}", self.txns[i].id)),
        }
        Ok(())
    }

    /// Learns from one thing on the wire.
    fn on_wire(&mut self, wire: &Wire, now: Timestamp) -> Result<(), String> {
        match wire {
            Wire::Sent { request, fault } => {
                let exchange = match request.message {
                    MessageType::Settlement => {
                        if let Some(t) = self
                            .txns
                            .iter()
                            .find(|t| t.own.unresolved() || t.advice_pending)
                        {
                            return Err(format!("settlement sent while {} is {:?}", t.id, t.own));
                        }
                        // Invariant 8: the totals are the journal's sums,
                        // fallback refunds left out (settled off the network).
                        let s = request
                            .summary
                            .as_ref()
                            .ok_or("a settlement without totals")?;
                        let sent = (
                            s.debit_count,
                            s.debit_amount,
                            s.credit_count,
                            s.credit_amount,
                        );
                        let (dc, da, cc, ca) = self.summary(self.batch, now);
                        if sent != (dc, cents_money(da), cc, cents_money(ca)) {
                            return Err(format!(
                                "settlement totals {sent:?}, the model has {:?}",
                                (dc, da, cc, ca)
                            ));
                        }
                        Exchange::Settlement
                    }
                    MessageType::BatchUpload | MessageType::BatchUploadEnd => {
                        if !self.uploading {
                            return Err("a batch upload without an unbalanced settlement".into());
                        }
                        if let Some(t) = self.txns.iter().find(|t| t.own.unresolved()) {
                            return Err(format!("batch upload sent while {} is {:?}", t.id, t.own));
                        }
                        if request.message == MessageType::BatchUpload {
                            Exchange::Upload
                        } else {
                            Exchange::UploadEnd
                        }
                    }
                    MessageType::Reversal => Exchange::Reversal(self.by_wire(request)?),
                    MessageType::Query => Exchange::Query(self.by_wire(request)?),
                    MessageType::CompletionAdvice => Exchange::Advice(self.by_wire(request)?),
                    MessageType::Sale
                    | MessageType::Void
                    | MessageType::Refund
                    | MessageType::PreAuth
                    | MessageType::PreAuthCancel
                    | MessageType::Completion
                    | MessageType::CompletionVoid => {
                        // Invariant 4, seen from the host's side.
                        let i = self.by_wire(request)?;
                        if let Some(t) = self
                            .txns
                            .iter()
                            .find(|t| t.id != self.txns[i].id && t.own.unresolved())
                        {
                            return Err(format!(
                                "{:?} {} went out while {} is {:?}",
                                request.message, self.txns[i].id, t.id, t.own
                            ));
                        }
                        if self.txns[i].own != Own::Sent {
                            return Err(format!("{} sent twice", self.txns[i].id));
                        }
                        Exchange::Request(i)
                    }
                };
                if let Some(open) = self.current.replace((exchange, fault.clone())) {
                    return Err(format!("a request went out while {open:?} was open"));
                }
            }
            Wire::Replies(replies) => {
                let (exchange, fault) = self.current.take().ok_or("a reply to nothing")?;
                let code = replies.first().ok_or("an empty reply")?.code.as_str();
                let class = classify(code);
                let lie = matches!(fault, Some(Fault::Decline(_)));
                match exchange {
                    Exchange::Request(i) => {
                        self.txns[i].own = match class {
                            ResponseClass::Approved => Own::Approved,
                            ResponseClass::Declined | ResponseClass::Retryable => {
                                self.txns[i].code = Some(code.to_owned());
                                Own::Declined
                            }
                            ResponseClass::Unknown => Own::InDoubt(0),
                        }
                    }
                    Exchange::Reversal(i) => {
                        if code == "00" || code == "25" {
                            self.txns[i].own = Own::Reversed;
                        } else {
                            self.reversal_failed(i)?;
                        }
                    }
                    Exchange::Query(i) => match class {
                        ResponseClass::Approved => {
                            self.txns[i].own = Own::Approved;
                            self.txns[i].host_lied |= lie;
                        }
                        ResponseClass::Declined | ResponseClass::Retryable if code != "25" => {
                            self.txns[i].own = Own::Declined;
                            self.txns[i].code = Some(code.to_owned());
                            self.txns[i].host_lied |= lie;
                            saw("query answer made up by a fault");
                        }
                        ResponseClass::Declined
                        | ResponseClass::Retryable
                        | ResponseClass::Unknown => {}
                    },
                    Exchange::Advice(i) => {
                        if class != ResponseClass::Unknown {
                            self.txns[i].advice_pending = false;
                            // 94: it already has it (an earlier attempt that
                            // timed out); anything else: it refused it.
                            self.txns[i].advice_refused = code != "00" && code != "94";
                            self.txns[i].advice_duplicate = code == "94";
                            if self.txns[i].advice_refused {
                                saw("advice refused by the host");
                            }
                        }
                    }
                    Exchange::Settlement => {
                        if class == ResponseClass::Approved {
                            let batch = self.batch;
                            let clean = !self
                                .txns
                                .iter()
                                .any(|t| t.batch == batch && (t.host_lied || t.advice_refused));
                            // The host's word decides; a batch the model
                            // knows to be clean must be balanced (checked
                            // after the settle).
                            let balanced = replies[0].balanced != Some(false);
                            if balanced {
                                self.closed.push((batch, clean));
                                self.batch += 1;
                            } else {
                                // 不平: upload every record, then close.
                                if clean {
                                    return Err(format!(
                                        "batch {batch} clean, the host says unbalanced"
                                    ));
                                }
                                self.uploading = true;
                            }
                        }
                    }
                    Exchange::Upload => {}
                    Exchange::UploadEnd => {
                        saw("batch uploaded after an unbalanced settlement");
                        if class == ResponseClass::Approved {
                            self.closed.push((self.batch, false));
                            self.batch += 1;
                            self.uploading = false;
                        }
                    }
                }
            }
            Wire::NoReply(_) => {
                let (exchange, _) = self.current.take().ok_or("no reply to nothing")?;
                match exchange {
                    Exchange::Request(i) => self.txns[i].own = Own::InDoubt(0),
                    Exchange::Reversal(i) => self.reversal_failed(i)?,
                    Exchange::Query(_)
                    | Exchange::Advice(_)
                    | Exchange::Settlement
                    | Exchange::Upload
                    | Exchange::UploadEnd => {}
                }
            }
            // Logged by the terminal, no effect.
            Wire::Late(_) => {}
        }
        Ok(())
    }

    fn restart(&mut self) {
        for t in &mut self.txns {
            if t.own == Own::Sent {
                t.own = Own::InDoubt(0);
            }
        }
        self.signed_in = false;
    }
}

// ----- the harness --------------------------------------------------------

thread_local! {
    /// What the cases exercised, to show the model is not vacuous.
    static SEEN: RefCell<BTreeMap<String, u64>> = const { RefCell::new(BTreeMap::new()) };
}

fn saw(what: impl Into<String>) {
    SEEN.with(|s| *s.borrow_mut().entry(what.into()).or_default() += 1);
}

struct Sim {
    term: Terminal,
    host: Recorder,
    stored: Vec<Entry<Record>>,
    model: Model,
    now: Timestamp,
    wire_seen: usize,
    keys_issued: u32,
    /// Invariant 2: the first definitive outcome seen for each transaction.
    definitive: HashMap<TxnId, Own>,
}

/// `money`, with zero allowed (an empty total).
fn cents_money(cents: i64) -> Money {
    if cents == 0 {
        Money::zero(Currency::Cny)
    } else {
        money(cents)
    }
}

fn money(cents: i64) -> Money {
    Money::parse(
        &format!("{}.{:02}", cents / 100, cents % 100),
        Currency::Cny,
    )
    .unwrap()
}

/// A customer's bank account, for refunds the planner sends to a fallback.
fn destination() -> Destination {
    Destination {
        route: None,
        holder_name: Some("张三".into()),
        bank: Some("中国银行".into()),
        account: Some("6217000010001234567".into()),
    }
}

fn approvals() -> Vec<ApprovalInput> {
    [("90", "246810"), ("91", "135790")]
        .iter()
        .map(|(id, pin)| ApprovalInput {
            operator_id: (*id).into(),
            pin: (*pin).into(),
        })
        .collect()
}

impl Sim {
    fn new(strict: bool) -> Sim {
        let mut term = Terminal::open(fast_config(Currency::Cny), Vec::new(), T0).unwrap();
        term.sign_in("01", "1234", T0).unwrap();
        let stored = term.take_unpersisted();
        Sim {
            term,
            host: Recorder::new(7),
            stored,
            model: Model {
                batch: 1,
                next_trace: 1,
                signed_in: true,
                strict,
                ..Model::default()
            },
            now: T0,
            wire_seen: 0,
            keys_issued: 0,
            definitive: HashMap::new(),
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
        self.stored = std::mem::take(&mut driver.stored);
        result
    }

    fn learn(&mut self) -> Result<(), String> {
        while self.wire_seen < self.host.log.len() {
            let wire = self.host.log[self.wire_seen].clone();
            self.wire_seen += 1;
            match &wire {
                Wire::Sent { request, fault } => {
                    saw(format!("sent {:?}", request.message));
                    if let Some(f) = fault {
                        saw(format!("fault {f:?}"));
                    }
                }
                Wire::Replies(r) if r.len() > 1 => saw("duplicated reply"),
                Wire::Late(_) => saw("late reply delivered"),
                Wire::Replies(_) | Wire::NoReply(_) => {}
            }
            self.model.on_wire(&wire, self.now)?;
        }
        // A 94 to an advice: the host took it on an attempt whose answer was
        // lost. It may have refused it then (a made-up query answer hid
        // that the pre-auth was already completed); the terminal cannot
        // know, so neither does the wire, and the ledger says which.
        let terminal_id = &self.term.config().terminal_id;
        for t in &mut self.model.txns {
            if std::mem::take(&mut t.advice_duplicate) {
                let refused = self
                    .host
                    .inner
                    .posting(
                        terminal_id,
                        BatchNo::new(t.batch).unwrap(),
                        TraceNo::new(t.trace).unwrap(),
                    )
                    .is_some_and(|p| p.code != "00");
                if refused {
                    t.advice_refused = true;
                    saw("advice refused on an attempt whose answer was lost");
                }
            }
        }
        if let Some(open) = &self.model.current {
            return Err(format!("an exchange left open: {open:?}"));
        }
        Ok(())
    }

    fn financial_sends_since(&self, from: usize) -> usize {
        self.host.log[from..]
            .iter()
            .filter(|w| {
                matches!(w, Wire::Sent { request, .. } if !matches!(
                    request.message,
                    MessageType::Reversal | MessageType::Query | MessageType::CompletionAdvice | MessageType::Settlement
                ))
            })
            .count()
    }

    fn flush(&mut self) -> Result<(), String> {
        self.with_driver(|d, now| d.flush(now));
        self.learn()
    }

    fn selector(&self, o: usize, by_trace: bool) -> OriginalSelector {
        let t = &self.model.txns[o];
        if by_trace {
            OriginalSelector::TraceNo(TraceNo::new(t.trace).unwrap())
        } else {
            OriginalSelector::Id(t.id)
        }
    }

    fn command(&self, cmd: &MCmd) -> Command {
        match cmd {
            MCmd::Sale { cents, card } => Command::Sale {
                amount: money(*cents),
                card: Card::from_pan(PANS[*card]).unwrap(),
            },
            MCmd::PreAuth { cents, card } => Command::PreAuth {
                amount: money(*cents),
                card: Card::from_pan(PANS[*card]).unwrap(),
            },
            MCmd::Void { o, by_trace } => Command::Void {
                original: self.selector(*o, *by_trace),
                approvals: approvals(),
            },
            MCmd::Refund { o, cents } => self
                .term
                .refund_command(
                    &RefundOriginal::Journal(self.selector(*o, false)),
                    Some(money(*cents)),
                    "customer return",
                    approvals(),
                    Some(destination()),
                    self.now,
                )
                .expect("the model's originals exist"),
            MCmd::Complete { o, cents, advice } => Command::Complete {
                original: self.selector(*o, false),
                amount: money(*cents),
                advice: *advice,
            },
            MCmd::Cancel { o, by_trace } => Command::CancelPreAuth {
                original: self.selector(*o, *by_trace),
            },
        }
    }

    fn new_key(&mut self) -> String {
        self.keys_issued += 1;
        format!("k{}", self.keys_issued)
    }

    /// Runs a command through the Driver and compares with the prediction.
    fn run(&mut self, cmd: MCmd, key: String) -> Result<(), String> {
        // Flush first, as `Driver::run` does, and predict on what that
        // flush left; then submit without a second flush. A second round
        // would retry a step that failed in the first (an upload, an
        // advice) and deliver a late reply that arrived during it, so the
        // terminal would judge the command on a state the prediction never
        // saw.
        self.flush()?;
        let predicted = self.model.predict(&cmd, &key, self.now);
        let from = self.host.log.len();
        let command = self.command(&cmd);
        let result = self.with_driver(|d, now| d.submit(command, &key, now));
        let sent = self.financial_sends_since(from);
        if let MCmd::Refund { o, cents } = &cmd {
            let plan = self.model.plan(*o, Some(*cents), self.now);
            match &predicted {
                Predicted::Accept { kind, .. } if *kind != Kind::Refund => {
                    saw(format!("refund planned as {kind:?}"));
                }
                Predicted::Accept { fallback: true, .. } => {
                    for r in &plan.closed {
                        saw(format!("fallback: {}", r.code()));
                    }
                }
                // Invariant 6: the route is closed, but a refund of the same
                // original is unresolved.
                Predicted::Refuse("ORIGINAL_IN_DOUBT") if !plan.closed.is_empty() => {
                    saw("fallback refused: a refund is unresolved");
                }
                _ => {}
            }
        }
        saw(match &predicted {
            Predicted::Accept {
                kind,
                fallback: true,
                ..
            } => format!("accepted {kind:?} by fallback"),
            Predicted::Accept { kind, .. } => format!("accepted {kind:?}"),
            Predicted::Replay(_) => "replayed by key".into(),
            Predicted::Refuse(code) => (*code).to_owned(),
        });
        match (&predicted, &result) {
            (Predicted::Accept { kind, fallback, .. }, Ok(id)) => {
                if self.model.txns.iter().any(|t| t.id == *id) {
                    return Err(format!("{id} came back for a new command"));
                }
                // An advice goes later; a fallback never goes to the host.
                let expect_sent = usize::from(*kind != Kind::CompletionAdvice && !fallback);
                if sent != expect_sent {
                    return Err(format!("{sent} financial requests for one command"));
                }
                self.model.create(&predicted, *id, &key, cmd, self.now);
            }
            (Predicted::Replay(i), Ok(id)) if self.model.txns[*i].id == *id && sent == 0 => {}
            (Predicted::Refuse(code), Err(e)) if e.code() == *code && sent == 0 => {}
            _ => {
                return Err(format!(
                    "{cmd:?} key {key}: predicted {predicted:?}, got {:?} ({sent} requests sent)",
                    result.map_err(|e| format!("{}: {e}", e.code()))
                ))
            }
        }
        self.learn()
    }

    fn choose(&self, pick: u16, any: bool, kinds: &[Kind]) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.model.txns.len())
            .filter(|&i| any || kinds.contains(&self.model.txns[i].kind))
            .collect();
        (!candidates.is_empty()).then(|| candidates[pick as usize % candidates.len()])
    }

    fn reopen(&mut self) -> Result<(), String> {
        self.term = Terminal::open(fast_config(Currency::Cny), self.stored.clone(), self.now)
            .map_err(|e| format!("reopen: {e}"))?;
        self.persist();
        self.model.restart();
        Ok(())
    }

    fn sign_in(&mut self) -> Result<(), String> {
        self.term
            .sign_in("01", "1234", self.now)
            .map_err(|e| format!("sign-in: {e}"))?;
        self.persist();
        self.model.signed_in = true;
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), String> {
        self.now = Timestamp(self.now.0 + 1000);
        let debits = [Kind::Sale, Kind::Completion, Kind::CompletionAdvice];
        match op {
            Op::Sale { cents, card } => {
                let key = self.new_key();
                self.run(
                    MCmd::Sale {
                        cents: *cents,
                        card: *card,
                    },
                    key,
                )?;
            }
            Op::PreAuth { cents, card } => {
                let key = self.new_key();
                self.run(
                    MCmd::PreAuth {
                        cents: *cents,
                        card: *card,
                    },
                    key,
                )?;
            }
            Op::Void {
                pick,
                any,
                by_trace,
            } => {
                if let Some(o) = self.choose(*pick, *any, &debits) {
                    let key = self.new_key();
                    self.run(
                        MCmd::Void {
                            o,
                            by_trace: *by_trace,
                        },
                        key,
                    )?;
                }
            }
            Op::Refund {
                pick,
                any,
                permille,
            } => {
                if let Some(o) = self.choose(*pick, *any, &debits) {
                    let cents = (self.model.txns[o].cents * permille / 1000).max(1);
                    let key = self.new_key();
                    self.run(MCmd::Refund { o, cents }, key)?;
                }
            }
            Op::Complete {
                pick,
                any,
                permille,
                advice,
            } => {
                if let Some(o) = self.choose(*pick, *any, &[Kind::PreAuth]) {
                    let cents = (self.model.txns[o].cents * permille / 1000).max(1);
                    let key = self.new_key();
                    self.run(
                        MCmd::Complete {
                            o,
                            cents,
                            advice: *advice,
                        },
                        key,
                    )?;
                }
            }
            Op::Cancel {
                pick,
                any,
                by_trace,
            } => {
                if let Some(o) = self.choose(*pick, *any, &[Kind::PreAuth]) {
                    let key = self.new_key();
                    self.run(
                        MCmd::Cancel {
                            o,
                            by_trace: *by_trace,
                        },
                        key,
                    )?;
                }
            }
            Op::Repeat { pick, same } => {
                if !self.model.key_order.is_empty() {
                    let key =
                        self.model.key_order[*pick as usize % self.model.key_order.len()].clone();
                    let (mut cmd, _) = self.model.keys[&key].clone();
                    if !same {
                        match &mut cmd {
                            MCmd::Sale { cents, .. }
                            | MCmd::PreAuth { cents, .. }
                            | MCmd::Refund { cents, .. }
                            | MCmd::Complete { cents, .. } => *cents += 1,
                            MCmd::Void { by_trace, .. } | MCmd::Cancel { by_trace, .. } => {
                                *by_trace = !*by_trace
                            }
                        }
                    }
                    self.run(cmd, key)?;
                }
            }
            Op::Settle => {
                self.flush()?;
                let closed = self.model.closed.len();
                let from = self.host.log.len();
                let result = self.with_driver(|d, now| d.settle(now));
                // The Driver flushes once more before settling (an advice
                // left unanswered is tried again), so the model judges from
                // what it learns on the wire: a settlement that went out did
                // so with nothing in doubt, in review or unadvised (checked
                // in `on_wire`); one that did not must have had a reason.
                self.learn()?;
                let sent = self.host.log[from..].iter().any(
                    |w| matches!(w, Wire::Sent { request, .. } if request.message == MessageType::Settlement),
                );
                let expected = if !self.model.signed_in {
                    Some("NOT_SIGNED_IN")
                } else if !sent && self.model.uploading {
                    Some("BATCH_UPLOAD_PENDING")
                } else if !sent {
                    Some("SETTLEMENT_BLOCKED")
                } else {
                    None
                };
                if expected == Some("SETTLEMENT_BLOCKED")
                    && !self
                        .model
                        .txns
                        .iter()
                        .any(|t| t.own.unresolved() || t.advice_pending)
                {
                    return Err(format!(
                        "settlement refused with nothing to block it: {result:?}"
                    ));
                }
                saw(format!("settle: {}", expected.unwrap_or("sent")));
                match (expected, &result) {
                    (None, Ok(())) => {}
                    (Some(code), Err(e)) if e.code() == code && !sent => {}
                    _ => return Err(format!("settle: expected {expected:?}, got {result:?}")),
                }
                if let Some((batch, clean)) = self.model.closed.get(closed) {
                    let last = self.term.closed_batches().last().ok_or("no closed batch")?;
                    if last.batch_no.get() != *batch {
                        return Err(format!(
                            "closed {}, the model closed {batch}",
                            last.batch_no
                        ));
                    }
                    if *clean && !last.balanced {
                        return Err(format!("batch {batch} closed unbalanced: {last:?}"));
                    }
                }
            }
            Op::Fault(fault) => self.host.inject(fault.clone()),
            Op::Query { pick } => {
                let o = self
                    .model
                    .txns
                    .iter()
                    .position(|t| matches!(t.own, Own::InDoubt(_) | Own::Review))
                    .or_else(|| self.choose(*pick, true, &[]));
                if let Some(o) = o {
                    let t = &self.model.txns[o];
                    let allowed = t.kind != Kind::CompletionAdvice
                        && matches!(t.own, Own::InDoubt(_) | Own::Review);
                    let selector = OriginalSelector::Id(t.id);
                    let result = self.with_driver(|d, now| d.query(&selector, now));
                    saw(format!("query allowed: {allowed}"));
                    match (allowed, &result) {
                        (true, Ok(())) => {}
                        (false, Err(e)) if e.code() == "TRANSITION_NOT_ALLOWED" => {}
                        _ => {
                            return Err(format!("query of {o}: allowed {allowed}, got {result:?}"))
                        }
                    }
                    self.learn()?;
                }
            }
            Op::Resolve => {
                for i in 0..self.model.txns.len() {
                    if self.model.txns[i].own != Own::Review {
                        continue;
                    }
                    // The supervisor asks the acquirer.
                    let t = &self.model.txns[i];
                    let posting = self
                        .host
                        .inner
                        .ledger()
                        .find(|p| p.batch_no.get() == t.batch && p.trace_no.get() == t.trace);
                    let (resolution, own) = match posting {
                        Some(p) if p.code == "00" && !p.reversed => (
                            Resolution::Approved {
                                rrn: p.rrn.clone(),
                                auth_code: p.auth_code.clone(),
                            },
                            Own::Approved,
                        ),
                        Some(_) | None => (Resolution::Reversed, Own::Reversed),
                    };
                    let approval = [ApprovalInput {
                        operator_id: "91".into(),
                        pin: "135790".into(),
                    }];
                    self.term
                        .resolve_review(
                            &OriginalSelector::Id(t.id),
                            resolution,
                            &approval,
                            self.now,
                        )
                        .map_err(|e| format!("resolve {}: {e}", t.id))?;
                    self.persist();
                    self.model.txns[i].own = own;
                    saw(format!("resolved {own:?}"));
                }
            }
            Op::Restart { sign_in } => {
                self.reopen()?;
                if *sign_in {
                    self.sign_in()?;
                }
            }
            Op::SignIn => self.sign_in()?,
            Op::Crash { cents, card } => {
                self.flush()?;
                let key = self.new_key();
                let cmd = MCmd::Sale {
                    cents: *cents,
                    card: *card,
                };
                let predicted = self.model.predict(&cmd, &key, self.now);
                let result = self.term.execute(self.command(&cmd), &key, self.now);
                self.persist();
                match (&predicted, result) {
                    (Predicted::Accept { .. }, Ok(submitted))
                        if submitted.request.is_some() && !submitted.replayed =>
                    {
                        self.model
                            .create(&predicted, submitted.txn, &key, cmd, self.now);
                        // The request dies with the process.
                        saw("crash before send");
                        self.reopen()?;
                        self.sign_in()?;
                    }
                    (Predicted::Refuse(code), Err(e)) if e.code() == *code => {}
                    (p, r) => return Err(format!("crash sale: predicted {p:?}, got {r:?}")),
                }
            }
            Op::Advance { ms } => self.now = Timestamp(self.now.0 + ms),
            Op::ConfirmFallback { pick, any } => {
                let candidates: Vec<usize> = (0..self.model.txns.len())
                    .filter(|&i| *any || self.model.txns[i].fallback)
                    .collect();
                if let Some(&i) = candidates.get(*pick as usize % candidates.len().max(1)) {
                    let m = &self.model.txns[i];
                    let expected = if !self.model.signed_in {
                        Err("NOT_SIGNED_IN")
                    } else if m.fallback
                        && self.model.refund_status(i) == Some(RefundStatus::Accepted)
                    {
                        Ok(())
                    } else {
                        Err("OUTCOME_NOT_ALLOWED")
                    };
                    let selector = OriginalSelector::Id(m.id);
                    let reference = format!("TRF{:08}", i);
                    let result = self.term.confirm_fallback(&selector, &reference, self.now);
                    self.persist();
                    saw(format!(
                        "confirm fallback: {}",
                        expected.err().unwrap_or("ok")
                    ));
                    match (expected, &result) {
                        (Ok(()), Ok(())) => self.model.txns[i].outcome = Some(Outcome::Credited),
                        (Err(code), Err(e)) if e.code() == code => {}
                        _ => {
                            return Err(format!(
                                "confirm {i}: expected {expected:?}, got {result:?}"
                            ))
                        }
                    }
                }
            }
            Op::RecordOutcome {
                pick,
                any,
                returned,
            } => {
                // Mostly an accepted original-route refund.
                let candidates: Vec<usize> = (0..self.model.txns.len())
                    .filter(|&i| {
                        let m = &self.model.txns[i];
                        *any || (m.kind == Kind::Refund && m.own == Own::Approved && !m.fallback)
                    })
                    .collect();
                if let Some(&i) = candidates.get(*pick as usize % candidates.len().max(1)) {
                    let m = &self.model.txns[i];
                    let outcome = if *returned {
                        Outcome::Returned
                    } else {
                        Outcome::Credited
                    };
                    let status = self.model.refund_status(i);
                    let expected = match (status, outcome) {
                        (None, _) => Err("ORIGINAL_NOT_FOUND"),
                        (Some(RefundStatus::Credited), Outcome::Credited)
                        | (Some(RefundStatus::Returned), Outcome::Returned) => Ok(false),
                        (Some(RefundStatus::Accepted), _)
                            if m.kind == Kind::Refund && !m.fallback =>
                        {
                            Ok(true)
                        }
                        (Some(_), _) => Err("OUTCOME_NOT_ALLOWED"),
                    };
                    let result = self.term.record_refund_outcome(
                        m.id,
                        outcome,
                        Some(format!("STMT{i:06}")),
                        self.now,
                    );
                    self.persist();
                    saw(format!(
                        "record {}: {}",
                        outcome.as_str(),
                        match expected {
                            Ok(true) => "recorded",
                            Ok(false) => "unchanged",
                            Err(code) => code,
                        }
                    ));
                    match (expected, &result) {
                        (Ok(changed), Ok(got)) if changed == *got => {
                            self.model.txns[i].outcome = Some(outcome);
                        }
                        (Err(code), Err(e)) if e.code() == code => {}
                        _ => {
                            return Err(format!(
                                "record {outcome:?} of {i} ({status:?}): expected {expected:?}, got {result:?}"
                            ))
                        }
                    }
                }
            }
            Op::PlanCheck {
                pick,
                any,
                permille,
            } => {
                let originals = [
                    Kind::Sale,
                    Kind::Completion,
                    Kind::CompletionAdvice,
                    Kind::PreAuth,
                ];
                if let Some(o) = self.choose(*pick, *any, &originals) {
                    let m = &self.model.txns[o];
                    // The whole: no amount, "everything left".
                    let cents = (*permille != 1000).then(|| (m.cents * permille / 1000).max(1));
                    let plan = self
                        .term
                        .plan_refund(
                            &RefundOriginal::Journal(OriginalSelector::Id(m.id)),
                            cents.map(money),
                            self.now,
                        )
                        .map_err(|e| format!("plan of {o}: {e}"))?;
                    let expected = self.model.plan(o, cents, self.now);
                    let closed: Vec<Reason> = plan
                        .reasons()
                        .iter()
                        .copied()
                        .filter(|r| r.closes_route())
                        .collect();
                    let got = MPlan {
                        action: plan.action(),
                        // A rejected plan's amount says nothing.
                        cents: if plan.action() == Action::Reject {
                            expected.cents
                        } else {
                            plan.amount().minor_units().ok_or("amount in fen")?
                        },
                        refundable: plan.refundable().minor_units().ok_or("refundable in fen")?,
                        approvals: plan.approvals().len(),
                        route: plan.route(),
                        closed,
                        rejection: plan.rejection().map(|e| e.code()),
                    };
                    saw(format!(
                        "plan {:?}{}{}",
                        expected.action,
                        expected
                            .rejection
                            .map(|c| format!(" {c}"))
                            .unwrap_or_default(),
                        expected
                            .closed
                            .iter()
                            .map(|r| format!(" {}", r.code()))
                            .collect::<String>()
                    ));
                    if got != expected {
                        return Err(format!(
                            "plan of {o} ({:?}, {:?}) for {cents:?}: got {got:?} (reasons {:?}), the model says {expected:?}",
                            m.kind,
                            self.model.status(o, self.now),
                            plan.reasons()
                        ));
                    }
                }
            }
        }
        self.check()
    }

    /// Everything checked after every step.
    fn check(&mut self) -> Result<(), String> {
        let now = self.now;
        let (term, model) = (&self.term, &self.model);
        term.check_invariants(now)?;
        if self.stored != term.journal().entries() {
            return Err("the stored entries are not the journal".into());
        }
        if term.outstanding().is_some() {
            return Err(format!("left outstanding: {:?}", term.outstanding()));
        }
        if term.batch_no().get() != model.batch {
            return Err(format!(
                "batch {}, the model says {}",
                term.batch_no(),
                model.batch
            ));
        }
        if term.signed_in().is_some() != model.signed_in {
            return Err(format!(
                "signed in: {:?}, the model says {}",
                term.signed_in(),
                model.signed_in
            ));
        }
        if term.transactions().count() != model.txns.len() {
            return Err(format!(
                "{} transactions, the model has {}",
                term.transactions().count(),
                model.txns.len()
            ));
        }
        for (i, m) in model.txns.iter().enumerate() {
            let t = term
                .transaction(m.id)
                .ok_or(format!("{} is missing", m.id))?;
            let r = &t.request;
            let original = m.original.map(|o| model.txns[o].id);
            if (
                r.kind,
                r.amount,
                r.trace_no.get(),
                r.batch_no.get(),
                r.original,
            ) != (m.kind, money(m.cents), m.trace, m.batch, original)
                || r.fallback.is_some() != m.fallback
            {
                return Err(format!("{}: recorded as {r:?}, the model has {m:?}", m.id));
            }
            // Rule 7: the approvals it needed, by different supervisors,
            // none of them the cashier who started it.
            let mut approvers: Vec<&str> =
                r.approvals.iter().map(|a| a.operator_id.as_str()).collect();
            approvers.sort_unstable();
            approvers.dedup();
            if approvers.len() != m.approvals
                || r.approvals.len() != m.approvals
                || r.approvals
                    .iter()
                    .any(|a| a.role != Role::Supervisor || a.operator_id == r.operator_id)
            {
                return Err(format!(
                    "{}: approved by {:?}, the model needs {} supervisors",
                    m.id, r.approvals, m.approvals
                ));
            }
            // Rule 8: every refund's status and route, as the tracker shows.
            let tracked = term.refund_view(m.id, now);
            let expected = model.refund_status(i).map(|status| {
                let route = if m.fallback {
                    Route::SettlementAccount
                } else {
                    Route::Original
                };
                (status, route)
            });
            if tracked.as_ref().map(|v| (v.status, v.route)) != expected {
                return Err(format!(
                    "{} ({:?}): tracked as {:?}, the model says {expected:?}",
                    m.id,
                    m.kind,
                    tracked.map(|v| (v.status, v.route, v.next_step))
                ));
            }
            let own = Own::of(&t.state);
            if i + 1 == model.txns.len() {
                saw(format!("latest {:?}", own)
                    .split('(')
                    .next()
                    .unwrap_or_default()
                    .to_owned());
            }
            if own != m.own || t.advice_pending != m.advice_pending {
                return Err(format!(
                    "{} ({:?}): {:?} advice pending {}, the model says {:?} {}",
                    m.id, m.kind, t.state, t.advice_pending, m.own, m.advice_pending
                ));
            }
            let view = term.view(m.id, now).unwrap();
            let (status, refundable) = (model.status(i, now), model.refundable(i, now));
            let expected_refundable = cents_money(refundable);
            if view.status != status || view.refundable != expected_refundable {
                return Err(format!(
                    "{} ({:?}): {:?} refundable {}, the model says {status:?} {refundable}",
                    m.id, m.kind, view.status, view.refundable
                ));
            }
            if term.by_key(&m.key).map(|t| t.id) != Some(m.id) {
                return Err(format!("key {} does not lead to {}", m.key, m.id));
            }
            // Invariant 2: once definitive, for good.
            if matches!(own, Own::Approved | Own::Declined | Own::Reversed) {
                let first = *self.definitive.entry(m.id).or_insert(own);
                if first != own {
                    return Err(format!("{} was {first:?}, is now {own:?}", m.id));
                }
            }
            // The acquirer's ledger agrees on every definitive outcome.
            let exempt = m.host_lied || m.advice_refused || m.advice_pending || m.fallback;
            if matches!(own, Own::Approved | Own::Declined | Own::Reversed) && !exempt {
                let posting = self
                    .host
                    .inner
                    .ledger()
                    .find(|p| p.batch_no.get() == m.batch && p.trace_no.get() == m.trace);
                let host_has_it = posting.is_some_and(|p| p.code == "00" && !p.reversed);
                if host_has_it != (own == Own::Approved) {
                    return Err(format!("{} is {own:?}; the host has {posting:?}", m.id));
                }
                if host_has_it && posting.and_then(|p| p.amount) != Some(money(m.cents)) {
                    return Err(format!(
                        "{}: the host has another amount: {posting:?}",
                        m.id
                    ));
                }
            }
        }
        // Invariant 9: the export never carries a card number.
        let export = term.journal().export_json();
        for pan in PANS {
            if export.contains(pan) || export.contains(&pan[..12]) {
                return Err(format!("the export carries card number {pan}"));
            }
        }
        check_lists(term, now)?;
        // Invariant 7: the state is what replaying the journal produces.
        check_replay(term, fast_config(Currency::Cny), now)
    }
}

/// `list_newest` (status judged before a view is built, stopping at the
/// limit, one id) gives what filtering every transaction's view gives.
fn check_lists(term: &Terminal, now: Timestamp) -> Result<(), String> {
    use posflow_core::terminal::Status;
    use posflow_core::tracking::Filter;
    let mut views: Vec<_> = term
        .transactions()
        .filter_map(|t| term.view(t.id, now))
        .collect();
    views.reverse();
    for status in Status::ALL.iter().copied().map(Some).chain([None]) {
        let filter = Filter {
            status,
            ..Filter::default()
        };
        let all: Vec<_> = views
            .iter()
            .filter(|v| status.is_none_or(|s| s == v.status))
            .cloned()
            .collect();
        if term.list_newest(&filter, now, usize::MAX) != all
            || term.list_newest(&filter, now, 2)[..] != all[..all.len().min(2)]
        {
            return Err(format!("list_newest({status:?}) is not the views filtered"));
        }
    }
    for v in &views {
        let one = Filter {
            id: Some(v.txn.id),
            ..Filter::default()
        };
        if term.list_newest(&one, now, 5) != [v.clone()] {
            return Err(format!("list_newest(id {}) is not its view", v.txn.id));
        }
        let made_against = Filter {
            original: Some(v.txn.id),
            ..Filter::default()
        };
        let children: Vec<_> = views
            .iter()
            .filter(|c| c.txn.request.original == Some(v.txn.id))
            .cloned()
            .collect();
        if term.list_newest(&made_against, now, usize::MAX) != children {
            return Err(format!(
                "list_newest(original {}) is not its children",
                v.txn.id
            ));
        }
        // The searches a screen makes: a trace number's and an RRN's
        // indexes, and an amount (a scan that stops at the limit).
        let rrn_of = |t: &posflow_core::terminal::Transaction| match &t.state {
            TxnState::Approved { rrn, .. } => rrn.clone(),
            _ => None,
        };
        let r = &v.txn.request;
        let searches = [
            Filter {
                trace_no: Some(r.trace_no),
                ..Filter::default()
            },
            Filter {
                amount: Some(r.amount),
                ..Filter::default()
            },
            Filter {
                rrn: rrn_of(v.txn),
                kind: rrn_of(v.txn).is_none().then_some(r.kind),
                ..Filter::default()
            },
        ];
        for search in searches {
            let found: Vec<_> = views
                .iter()
                .filter(|c| {
                    let t = &c.txn;
                    search.trace_no.is_none_or(|n| n == t.request.trace_no)
                        && search.amount.is_none_or(|a| a == t.request.amount)
                        && search
                            .rrn
                            .as_ref()
                            .is_none_or(|x| rrn_of(t).as_ref() == Some(x))
                        && search.kind.is_none_or(|k| k == t.request.kind)
                })
                .cloned()
                .collect();
            if !found.iter().any(|c| c.txn.id == v.txn.id)
                || term.list_newest(&search, now, usize::MAX) != found
                || term.list_newest(&search, now, 1)[..] != found[..1]
            {
                return Err(format!("list_newest({search:?}) is not the views filtered"));
            }
        }
    }
    Ok(())
}

/// Whether the model predicts the documented behaviour everywhere. It was
/// `false` while an engine bug it found was open: `Command::Void` accepted a
/// sale whose only refund had come back (`Terminal::plan` checked
/// `live_refunds`, which leaves returned refunds out), though Rule 1 ("no
/// refund against it") refuses it. Fixed; kept so the next bug found can be
/// parked the same way.
const KNOWN_BUG_FIXED: bool = true;

fn run_case(ops: &[Op]) -> Result<(), String> {
    run_case_as(ops, KNOWN_BUG_FIXED)
}

fn run_case_as(ops: &[Op], strict: bool) -> Result<(), String> {
    let mut sim = Sim::new(strict);
    for (i, op) in ops.iter().enumerate() {
        sim.step(op).map_err(|e| format!("step {i} {op:?}: {e}"))?;
    }
    let text = sim.term.journal().export_json();
    let back = Journal::<Record>::import_json(&text).map_err(|e| format!("re-import: {e}"))?;
    if back != *sim.term.journal() {
        return Err("the export re-imports as another journal".into());
    }
    // The history a terminal keeps as text is indexed from the text.
    for e in sim.term.journal().entries() {
        let text = serde_json::to_string(&e.record).map_err(|e| e.to_string())?;
        if Record::txn_of_json(e.seq, &text) != e.record.txn(e.seq) {
            return Err(format!(
                "record {} names another transaction in its text",
                e.seq
            ));
        }
    }
    Ok(())
}

/// The longest sequence: `POSFLOW_MODEL_STEPS` (default 40).
fn max_steps() -> usize {
    std::env::var("POSFLOW_MODEL_STEPS")
        .ok()
        .map(|s| s.parse().expect("POSFLOW_MODEL_STEPS is a number"))
        .unwrap_or(40)
}

fn config() -> ProptestConfig {
    let cases = std::env::var("POSFLOW_MODEL_CASES")
        .ok()
        .map(|s| s.parse().expect("POSFLOW_MODEL_CASES is a number"))
        .unwrap_or(10_000);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

#[test]
fn terminal_follows_the_model() {
    let config = ProptestConfig {
        // A failing case is saved here (cargo runs tests from core/) and
        // replayed first on the next run, until it passes.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/model.proptest-regressions",
        ))),
        ..config()
    };
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let started = std::time::Instant::now();
    let result = runner.run(&prop::collection::vec(op(), 1..=max_steps()), |ops| {
        run_case(&ops).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = SEEN.with(|s| s.borrow().clone());
    eprintln!("{cases} cases in {:.1?}:", started.elapsed());
    for (what, n) in &seen {
        eprintln!("{n:>9}  {what}");
    }
    if cases >= 2_000 {
        // Not vacuous: every outcome the model predicts, and every path
        // through the host's faults, came up.
        let expected = [
            "accepted Sale",
            "accepted PreAuth",
            "accepted Void",
            "accepted CompletionVoid",
            "accepted Refund",
            "accepted Completion",
            "accepted CompletionAdvice",
            "accepted PreAuthCancel",
            "replayed by key",
            "NOT_SIGNED_IN",
            "IDEMPOTENCY_KEY_REUSED",
            "ORIGINAL_IN_DOUBT",
            "TRANSITION_NOT_ALLOWED",
            "VOID_HAS_REFUNDS",
            "VOID_BATCH_SETTLED",
            "PRE_AUTH_NOT_REFUNDABLE",
            "REFUND_EXCEEDS_REFUNDABLE",
            "COMPLETION_EXCEEDS_TOLERANCE",
            "PRE_AUTH_EXPIRED",
            "MANUAL_REVIEW_PENDING",
            "settle: sent",
            "settle: NOT_SIGNED_IN",
            "settle: SETTLEMENT_BLOCKED",
            "resolved Reversed",
            "query allowed: true",
            "query allowed: false",
            "crash before send",
            "sent Reversal",
            "sent Query",
            "sent CompletionAdvice",
            "sent Settlement",
            "duplicated reply",
            "late reply delivered",
            "latest InDoubt",
            "latest Declined",
            "latest Approved",
            // The planner, through the refund command and `plan_refund`.
            "accepted Refund by fallback",
            "refund planned as Void",
            "refund planned as CompletionVoid",
            "refund planned as PreAuthCancel",
            "fallback: METHOD_CANNOT_REFUND",
            "fallback: WINDOW_PASSED",
            "fallback: CARD_CLOSED",
            "plan Void",
            "plan Refund",
            "plan PreAuthCancel",
            "plan Fallback CARD_CLOSED",
            "plan Fallback WINDOW_PASSED",
            "plan Fallback METHOD_CANNOT_REFUND",
            "plan Reject ORIGINAL_IN_DOUBT",
            "plan Reject PRE_AUTH_NOT_REFUNDABLE",
            "plan Reject TRANSITION_NOT_ALLOWED",
            "plan Reject REFUND_EXCEEDS_REFUNDABLE",
            // Tracking.
            "confirm fallback: ok",
            "confirm fallback: OUTCOME_NOT_ALLOWED",
            "confirm fallback: NOT_SIGNED_IN",
            "record credited: recorded",
            "record returned: recorded",
            "record credited: unchanged",
            "record returned: OUTCOME_NOT_ALLOWED",
            "record credited: ORIGINAL_NOT_FOUND",
            "batch uploaded after an unbalanced settlement",
        ];
        let missing: Vec<&str> = expected
            .into_iter()
            .filter(|w| !seen.contains_key(*w))
            .collect();
        assert!(missing.is_empty(), "never exercised: {missing:?}");
    }
}

/// A manual review the acquirer says was approved, through the model: too
/// rare for the random cases to be sure of it (the request's reply is lost,
/// then three reversals never reach the host).
#[test]
fn review_resolved_as_approved() {
    let ops = [
        Op::Fault(Fault::LostReply),
        Op::Sale {
            cents: 10_000,
            card: 0,
        },
        Op::Fault(Fault::TransportError),
        Op::Fault(Fault::TransportError),
        Op::Fault(Fault::TransportError),
        Op::Sale {
            cents: 500,
            card: 1,
        },
        Op::Resolve,
    ];
    SEEN.with(|s| s.borrow_mut().clear());
    run_case(&ops).unwrap();
    let seen = SEEN.with(|s| s.borrow().clone());
    assert!(seen.contains_key("resolved Approved"), "{seen:?}");
}

/// The case CI found: a batch upload's step answers late, during the flush
/// before a sale. The sale is judged on what that flush left (the upload
/// still pending), not on a second flush that would take the late answer
/// and finish the upload first.
#[test]
fn a_sale_waits_for_an_upload_answered_late() {
    let ops = [
        Op::PreAuth { cents: 1, card: 0 },
        Op::Fault(Fault::Decline("05".into())),
        Op::Complete {
            pick: 0,
            any: false,
            permille: 500,
            advice: true,
        },
        Op::Fault(Fault::DuplicateReply),
        Op::Fault(Fault::Timeout),
        Op::Settle,
        Op::Fault(Fault::LateReply),
        Op::Sale { cents: 1, card: 0 },
        Op::Sale { cents: 2, card: 0 },
    ];
    SEEN.with(|s| s.borrow_mut().clear());
    run_case(&ops).unwrap();
    let seen = SEEN.with(|s| s.borrow().clone());
    assert_eq!(seen.get("BATCH_UPLOAD_PENDING"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("accepted Sale"), Some(&1), "{seen:?}");
    assert!(
        seen.contains_key("batch uploaded after an unbalanced settlement"),
        "{seen:?}"
    );
}

/// The second case a long soak found: a query's made-up decline hides that
/// a completion went through, so the terminal then advises another
/// completion of the same pre-auth. The host refuses that advice (12), the
/// answer is lost, and the retry is answered 94 (it has it). The terminal
/// keeps the advice, as it must; the model learns the refusal from the
/// ledger and expects the batch to settle unbalanced.
#[test]
fn an_advice_refused_on_a_lost_attempt_then_answered_94() {
    let ops = [
        Op::PreAuth {
            cents: 837,
            card: 1,
        },
        Op::Fault(Fault::LateReply),
        Op::Fault(Fault::Decline("12".into())),
        Op::Complete {
            pick: 0,
            any: false,
            permille: 945,
            advice: false,
        },
        Op::Restart { sign_in: false },
        Op::Query { pick: 0 },
        Op::Restart { sign_in: true },
        Op::Fault(Fault::Timeout),
        Op::Complete {
            pick: 0,
            any: false,
            permille: 849,
            advice: true,
        },
        Op::Sale {
            cents: 8770,
            card: 1,
        },
        Op::Sale {
            cents: 100,
            card: 1,
        },
        Op::Settle,
    ];
    SEEN.with(|s| s.borrow_mut().clear());
    run_case(&ops).unwrap();
    let seen = SEEN.with(|s| s.borrow().clone());
    assert!(
        seen.contains_key("advice refused on an attempt whose answer was lost"),
        "{seen:?}"
    );
    assert!(
        seen.contains_key("batch uploaded after an unbalanced settlement"),
        "{seen:?}"
    );
}

/// Invariant 6 through the model, on a path too rare for the random cases:
/// a refund left in doubt, then in manual review, while the original-route
/// window passes. The planner must neither plan nor run a fallback.
#[test]
fn fallback_waits_for_an_unresolved_refund() {
    let refund = Op::Refund {
        pick: 0,
        any: false,
        permille: 300,
    };
    let ops = [
        Op::Sale {
            cents: 10_000,
            card: 0,
        },
        Op::Fault(Fault::Timeout),
        refund.clone(),
        Op::Advance { ms: 31 * DAY_MS },
        // Not flushed: the refund is still in doubt.
        Op::PlanCheck {
            pick: 0,
            any: false,
            permille: 300,
        },
        // Three failed reversals: manual review.
        Op::Fault(Fault::Timeout),
        Op::Fault(Fault::Timeout),
        Op::Fault(Fault::Timeout),
        refund,
    ];
    SEEN.with(|s| s.borrow_mut().clear());
    run_case(&ops).unwrap();
    let seen = SEEN.with(|s| s.borrow().clone());
    for what in [
        "plan Reject ORIGINAL_IN_DOUBT WINDOW_PASSED",
        "fallback refused: a refund is unresolved",
    ] {
        assert!(seen.contains_key(what), "{what} not reached: {seen:?}");
    }
}

/// The bug `KNOWN_BUG_FIXED` names: a 0.01 refund of a 0.02 sale comes
/// back; voiding the sale must still be refused, as the planner does.
#[test]
fn a_void_after_a_returned_refund_is_refused() {
    let ops = [
        Op::Sale { cents: 2, card: 0 },
        Op::Refund {
            pick: 0,
            any: false,
            permille: 500,
        },
        Op::RecordOutcome {
            pick: 0,
            any: false,
            returned: true,
        },
        Op::Void {
            pick: 0,
            any: false,
            by_trace: false,
        },
    ];
    run_case_as(&ops, true).unwrap();
}

/// After a 0.01 refund of a 0.02 sale, a plan without an amount refunds
/// the 0.01 left (`plan_refund`'s "None: everything left"; it once planned
/// the whole 0.02 and refused it as more than is left).
#[test]
fn a_full_refund_plans_what_is_left() {
    let ops = [
        Op::Sale { cents: 2, card: 0 },
        Op::Refund {
            pick: 0,
            any: false,
            permille: 500,
        },
        Op::PlanCheck {
            pick: 0,
            any: false,
            permille: 1000,
        },
    ];
    SEEN.with(|s| s.borrow_mut().clear());
    run_case(&ops).unwrap();
    let seen = SEEN.with(|s| s.borrow().clone());
    assert!(seen.contains_key("plan Refund"), "{seen:?}");
}
