//! The terminal: a deterministic, sans-IO engine over the journal.
//!
//! Commands, host replies and "no reply" go in with the current time;
//! requests to send and records to persist come out. Every change is a
//! [`Record`] appended to the journal and applied by `State::apply`, the
//! one place state changes, so replaying a journal is the terminal.
//!
//! # The caller's contract
//!
//! After **every** call, drain [`Terminal::take_unpersisted`] and make those
//! entries durable *before* handing any returned [`HostRequest`] to the host
//! (DESIGN.md Rule 4: the reversal is armed by the same append that records
//! the request). Then hand back the reply with [`Terminal::handle_reply`], or
//! say none came with [`Terminal::handle_no_reply`]. When idle, send what
//! [`Terminal::poll_transmit`] returns (pending reversals, then advices)
//! before new work; [`crate::driver`] does all of this for synchronous hosts.
//!
//! # Transaction states
//!
//! ```text
//!  (pending: the record is built but not yet durable; the caller holds it)
//!  sent ──00──────────────→ approved ─void→ voided
//!    │                         └─refunds→ partially_refunded → refunded
//!    ├──decline / retryable─→ declined
//!    └──timeout / lost / transport error / restart / 96,98
//!          → in_doubt ─query 00→ approved      ─query decline→ declined
//!              ├─reversal 00 or 25→ reversed
//!              └─reversal fails × policy.reversal_attempts→ manual_review
//!                   └─supervisor resolves→ approved | reversed
//!  pre_auth approved → completed | cancelled | expired   (derived from its
//!  completion / cancel and the clock; a completion void restores it)
//! ```
//!
//! A reply that arrives for a request no longer outstanding is recorded as
//! a late reply and changes nothing; the reversal stands.

use std::collections::{BTreeMap, HashMap};

use crate::card::Card;
use crate::error::{Locale, PosError};
use crate::host::{
    classify, BatchNo, HostReply, HostRequest, MessageType, NoReply, OriginalRef, ResponseClass,
    SettlementSummary, TraceNo,
};
use crate::journal::{Entry, Journal};
use crate::money::{AmountProblem, Currency, Money};
use crate::operator::{ApprovalInput, ApprovalRecord, Operator};
use crate::planner::{Action, Destination, FallbackRecord, RefundPlan, Voucher};
use crate::policy::Policy;
use crate::record::{Kind, Outcome, Purpose, Record, Request, Resolution, TxnId};
use crate::time::Timestamp;

mod replay;
pub mod snapshot;
pub use replay::Replay;
pub use snapshot::{Snapshot, SnapshotReader, SnapshotStep, SnapshotWriter, SNAPSHOT_FORMAT};

/// Who the terminal is and what rules it runs.
#[derive(Debug, Clone)]
pub struct TerminalConfig {
    /// 15-character merchant id (商户号).
    pub merchant_id: String,
    /// 8-character terminal id (终端号).
    pub terminal_id: String,
    /// The currency of every amount.
    pub currency: Currency,
    /// The operators, PINs already hashed.
    pub operators: Vec<Operator>,
    /// The rules' numbers.
    pub policy: Policy,
    /// The language of messages.
    pub locale: Locale,
}

impl TerminalConfig {
    /// Checks the ids and the policy.
    pub fn validate(&self) -> Result<(), PosError> {
        let alnum = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
        if self.merchant_id.len() != 15 || !alnum(&self.merchant_id) {
            return Err(PosError::invalid_input(
                "merchantId",
                "15 letters or digits",
                &self.merchant_id,
            ));
        }
        if self.terminal_id.len() != 8 || !alnum(&self.terminal_id) {
            return Err(PosError::invalid_input(
                "terminalId",
                "8 letters or digits",
                &self.terminal_id,
            ));
        }
        if self.operators.is_empty() {
            return Err(PosError::invalid_input(
                "operators",
                "at least one operator",
                "none",
            ));
        }
        for (i, op) in self.operators.iter().enumerate() {
            if self.operators[..i].iter().any(|o| o.id == op.id) {
                return Err(PosError::invalid_input(
                    "operators[].id",
                    "unique ids",
                    &op.id,
                ));
            }
        }
        self.policy.validate()
    }
}

/// Why a request is in doubt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoubtCause {
    /// No reply (timeout, lost, transport error, restart).
    NoReply(NoReply),
    /// The host answered with a code that means "unknown" (96, 98, …).
    UnknownCode(String),
}

/// A transaction's own outcome. A state carries only its own data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnState {
    /// Sent (or about to be), waiting for the host.
    Sent,
    /// Outcome unknown; a reversal is pending.
    InDoubt {
        /// Why.
        cause: DoubtCause,
        /// Reversal attempts that failed so far.
        failed_reversals: u32,
    },
    /// Reversals failed; waiting for a supervisor.
    ManualReview {
        /// Why it was in doubt.
        cause: DoubtCause,
    },
    /// The host approved it.
    Approved {
        /// Retrieval reference number.
        rrn: Option<String>,
        /// Authorisation code.
        auth_code: Option<String>,
        /// When.
        at: Timestamp,
    },
    /// The host refused it; definitive.
    Declined {
        /// The response code.
        code: String,
    },
    /// A reversal undid it (or the host never had it).
    Reversed {
        /// When.
        at: Timestamp,
    },
}

/// The status a person sees: the own outcome, refined by what happened to
/// the transaction since (voids, refunds, completion, expiry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Waiting for the host.
    Sent,
    /// Outcome unknown; reversal pending.
    InDoubt,
    /// Reversals failed; a supervisor must resolve it.
    ManualReview,
    /// Approved and nothing since.
    Approved,
    /// Approved, some refunded.
    PartiallyRefunded,
    /// Approved, all refunded.
    Refunded,
    /// Refused by the host.
    Declined,
    /// Undone by a reversal.
    Reversed,
    /// Cancelled by a void.
    Voided,
    /// Pre-auth captured by a completion.
    Completed,
    /// Pre-auth released.
    Cancelled,
    /// Pre-auth past its validity.
    Expired,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 12] = [
        Status::Sent,
        Status::InDoubt,
        Status::ManualReview,
        Status::Approved,
        Status::PartiallyRefunded,
        Status::Refunded,
        Status::Declined,
        Status::Reversed,
        Status::Voided,
        Status::Completed,
        Status::Cancelled,
        Status::Expired,
    ];

    /// The snake_case name used in JS.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::InDoubt => "in_doubt",
            Status::ManualReview => "manual_review",
            Status::Approved => "approved",
            Status::PartiallyRefunded => "partially_refunded",
            Status::Refunded => "refunded",
            Status::Declined => "declined",
            Status::Reversed => "reversed",
            Status::Voided => "voided",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
        }
    }

    /// Parses [`Status::as_str`]'s names.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the host's outcome is still unknown.
    pub fn is_unresolved(self) -> bool {
        match self {
            Status::Sent | Status::InDoubt | Status::ManualReview => true,
            Status::Approved
            | Status::PartiallyRefunded
            | Status::Refunded
            | Status::Declined
            | Status::Reversed
            | Status::Voided
            | Status::Completed
            | Status::Cancelled
            | Status::Expired => false,
        }
    }
}

/// A transaction as the terminal knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Its id.
    pub id: TxnId,
    /// What was recorded before sending.
    pub request: Request,
    /// Its own outcome.
    pub state: TxnState,
    /// For offline advices: whether the host has yet to be told.
    pub advice_pending: bool,
    /// For accepted refunds: what became of the money, once known.
    pub outcome: Option<RefundOutcome>,
}

impl Transaction {
    /// How a transaction that gives money back did so: a void (or completion
    /// void), a pre-auth cancel, a refund on the original route, or a
    /// fallback. Anything else counts as a refund.
    pub fn refund_action(&self) -> Action {
        match (self.request.kind, &self.request.fallback) {
            (Kind::Void | Kind::CompletionVoid, _) => Action::Void,
            (Kind::PreAuthCancel, _) => Action::PreAuthCancel,
            (_, Some(_)) => Action::Fallback,
            _ => Action::Refund,
        }
    }
}

/// What became of an accepted refund (a `refund_outcome` record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    /// Credited or returned.
    pub outcome: Outcome,
    /// The transfer's or statement's reference.
    pub reference: Option<String>,
    /// When it was recorded.
    pub at: Timestamp,
}

/// Operations on an existing transaction, for the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// 撤销 (void or completion void).
    Void,
    /// 退货.
    Refund,
    /// 预授权完成.
    Complete,
    /// 预授权撤销.
    CancelPreAuth,
    /// 查询.
    Query,
    /// Supervisor resolution of a manual review.
    Resolve,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Void => "void",
            Operation::Refund => "refund",
            Operation::Complete => "completion",
            Operation::CancelPreAuth => "pre_auth_cancel",
            Operation::Query => "query",
            Operation::Resolve => "resolve",
        }
    }
}

/// Every kind that goes to the host as a request of its own, and so can be
/// in doubt (an offline advice is approved locally).
const ONLINE_KINDS: &[Kind] = &[
    Kind::Sale,
    Kind::Void,
    Kind::Refund,
    Kind::PreAuth,
    Kind::PreAuthCancel,
    Kind::Completion,
    Kind::CompletionVoid,
];

/// The one table of allowed transitions: which kinds, in which statuses,
/// each operation may act on. The guard and its error message both read it.
pub const TRANSITIONS: [(Operation, &[Kind], &[Status]); 6] = [
    (
        Operation::Void,
        &[Kind::Sale, Kind::Completion, Kind::CompletionAdvice],
        &[Status::Approved],
    ),
    (
        Operation::Refund,
        &[Kind::Sale, Kind::Completion, Kind::CompletionAdvice],
        &[Status::Approved, Status::PartiallyRefunded],
    ),
    (Operation::Complete, &[Kind::PreAuth], &[Status::Approved]),
    (
        Operation::CancelPreAuth,
        &[Kind::PreAuth],
        &[Status::Approved],
    ),
    (
        Operation::Query,
        ONLINE_KINDS,
        &[Status::InDoubt, Status::ManualReview],
    ),
    (Operation::Resolve, ONLINE_KINDS, &[Status::ManualReview]),
];

/// Checks `op` on a `kind` in `status` against [`TRANSITIONS`].
pub fn check_transition(op: Operation, kind: Kind, status: Status) -> Result<(), PosError> {
    let (_, kinds, statuses) = TRANSITIONS
        .iter()
        .find(|(o, ..)| *o == op)
        .expect("every operation has a row");
    if kinds.contains(&kind) && statuses.contains(&status) {
        return Ok(());
    }
    let names = |xs: Vec<&str>| xs.join("|");
    Err(PosError::TransitionNotAllowed {
        operation: op.as_str().to_owned(),
        kind: kind.as_str().to_owned(),
        state: status.as_str().to_owned(),
        allowed: format!(
            "{} in {}",
            names(kinds.iter().map(|k| k.as_str()).collect()),
            names(statuses.iter().map(|s| s.as_str()).collect())
        ),
    })
}

/// How a command names the transaction it acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginalSelector {
    /// By id.
    Id(TxnId),
    /// By trace number (凭证号): the latest with it, open batch first.
    TraceNo(TraceNo),
    /// By RRN (参考号).
    Rrn(String),
}

impl std::fmt::Display for OriginalSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OriginalSelector::Id(id) => write!(f, "id {id}"),
            OriginalSelector::TraceNo(t) => write!(f, "traceNo {t}"),
            OriginalSelector::Rrn(r) => write!(f, "rrn {r}"),
        }
    }
}

/// What a financial command asks. Built by the caller (the binding parses
/// JS input into these); every field already has its type.
#[derive(Debug, Clone)]
pub enum Command {
    /// 消费.
    Sale {
        /// Amount.
        amount: Money,
        /// Card, masked.
        card: Card,
    },
    /// 预授权.
    PreAuth {
        /// Amount to freeze.
        amount: Money,
        /// Card, masked.
        card: Card,
    },
    /// 撤销 of a sale or completion in the open batch.
    Void {
        /// Which.
        original: OriginalSelector,
        /// Supervisor approval(s).
        approvals: Vec<ApprovalInput>,
    },
    /// 退货, or whatever the planner decided instead (void, pre-auth cancel,
    /// fallback): the refund command carries out a plan, and only a plan.
    Refund {
        /// The plan, from [`Terminal::plan_refund`].
        plan: Box<RefundPlan>,
        /// Why (mandatory).
        reason: String,
        /// The approvals the plan lists.
        approvals: Vec<ApprovalInput>,
        /// For a fallback: the chosen route and the customer's details.
        destination: Option<Destination>,
    },
    /// 预授权完成, online request or offline advice.
    Complete {
        /// Which pre-auth.
        original: OriginalSelector,
        /// Amount to capture, ≤ the tolerance.
        amount: Money,
        /// Offline advice instead of an online request.
        advice: bool,
    },
    /// 预授权撤销, for the full frozen amount.
    CancelPreAuth {
        /// Which pre-auth.
        original: OriginalSelector,
    },
}

/// The outcome of a command: the transaction, and what to send once the
/// unpersisted entries are durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The transaction created, or found by its key.
    pub txn: TxnId,
    /// The request to send, if any (none when replayed by key, or for an
    /// offline advice, which goes out through `poll_transmit`).
    pub request: Option<HostRequest>,
    /// Whether this is the recorded outcome of an earlier call with the key.
    pub replayed: bool,
}

/// What handling a reply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyEffect {
    /// It resolved the outstanding exchange.
    Applied,
    /// It repeated an earlier reply; nothing changed.
    Duplicate,
    /// It came after its request was no longer outstanding; logged only.
    Late,
}

/// A settlement's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchClose {
    /// The batch that closed.
    pub batch_no: BatchNo,
    /// What the terminal sent.
    pub summary: SettlementSummary,
    /// Whether the host agreed.
    pub balanced: bool,
    /// Whether it closed after a batch upload (批上送), the host having
    /// disagreed.
    pub uploaded: bool,
    /// When.
    pub at: Timestamp,
}

/// Records uploaded per batch-upload message (real terminals send a few
/// per ISO 8583 message).
pub const UPLOAD_CHUNK: usize = 8;

/// A batch upload under way after an unbalanced settlement: resumable, as
/// each acknowledged chunk is a journal record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    /// The batch.
    pub batch_no: BatchNo,
    /// The totals the settlement sent.
    pub summary: SettlementSummary,
    /// Every record to upload, in journal order.
    pub records: Vec<TxnId>,
    /// How many the host has acknowledged.
    pub done: usize,
}

/// Operator lock bookkeeping, from the journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PinState {
    failures: u32,
    locked_until: Option<Timestamp>,
}

/// Everything replay produces. Compared whole in the replay tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub(crate) batch_no: BatchNo,
    next_trace: TraceNo,
    /// Boxed: a B-tree node holds eleven values, and ids only grow, so
    /// nodes stay half full; unboxed, each held the room of about eleven
    /// transactions for five or six, and a split moved them all. In wasm
    /// that was most of a sale's share of memory growth.
    pub(crate) txns: BTreeMap<TxnId, Box<Transaction>>,
    children: HashMap<TxnId, Vec<TxnId>>,
    keys: HashMap<String, TxnId>,
    /// By RRN, in its order: a snapshot writes it as it stands, a step at
    /// a time.
    pub(crate) rrns: BTreeMap<String, TxnId>,
    /// Refunds of originals not in the journal, by the voucher's RRN.
    pub(crate) voucher_refunds: HashMap<String, Vec<TxnId>>,
    /// Index: transactions by trace number, oldest first (trace numbers
    /// wrap, so one may name several).
    traces: HashMap<TraceNo, Vec<TxnId>>,
    /// Index: transactions by batch, oldest first.
    batches: HashMap<BatchNo, Vec<TxnId>>,
    /// Index: transactions the host has not settled yet — sent, in doubt,
    /// in review, or an advice not yet acknowledged. Keeps every per-command
    /// check proportional to what is open, not to the journal's length.
    open: crate::sorted::SortedSet<TxnId>,
    outstanding: Option<Purpose>,
    pending_summary: Option<SettlementSummary>,
    upload: Option<PendingUpload>,
    signed_in: Option<String>,
    /// PIN failures per operator, in id order: a snapshot writes them as
    /// they are, so one state gives the same bytes without a sort.
    pins: crate::sorted::SortedMap<String, PinState>,
    closed: Vec<BatchClose>,
}

impl State {
    fn new() -> State {
        State {
            batch_no: BatchNo::FIRST,
            next_trace: TraceNo::FIRST,
            txns: BTreeMap::new(),
            children: HashMap::new(),
            keys: HashMap::new(),
            rrns: BTreeMap::new(),
            voucher_refunds: HashMap::new(),
            traces: HashMap::new(),
            batches: HashMap::new(),
            open: crate::sorted::SortedSet::new(),
            outstanding: None,
            pending_summary: None,
            upload: None,
            signed_in: None,
            pins: crate::sorted::SortedMap::new(),
            closed: Vec::new(),
        }
    }

    fn txn_mut(&mut self, id: TxnId) -> &mut Transaction {
        self.txns
            .get_mut(&id)
            .expect("records name existing transactions")
    }

    /// The only place state changes.
    fn apply(&mut self, seq: u64, record: &Record) {
        self.apply_record(seq, record);
        let touched = match record {
            Record::Requested(_) => Some(TxnId(seq)),
            Record::Sent { purpose, .. }
            | Record::Answered { purpose, .. }
            | Record::Unanswered { purpose, .. } => purpose.txn(),
            Record::ManualReview { txn, .. } | Record::ReviewResolved { txn, .. } => Some(*txn),
            Record::Opened { .. }
            | Record::SignedIn { .. }
            | Record::PinRejected { .. }
            | Record::OperatorLocked { .. }
            | Record::SettlementSent { .. }
            | Record::LateReply { .. }
            | Record::RefundOutcome { .. } => None,
        };
        if let Some(id) = touched {
            self.index_open(id);
        }
    }

    /// Files `id` in the indexes of requests (key, trace number, batch,
    /// original, voucher): for a `requested` record, and for each
    /// transaction a snapshot holds, in id order (journal order).
    fn index_request(&mut self, id: TxnId, request: &Request) {
        self.keys.insert(request.key.clone(), id);
        self.traces.entry(request.trace_no).or_default().push(id);
        self.batches.entry(request.batch_no).or_default().push(id);
        if let Some(original) = request.original {
            self.children.entry(original).or_default().push(id);
        }
        if let Some(voucher) = &request.voucher {
            self.voucher_refunds
                .entry(voucher.rrn.clone())
                .or_default()
                .push(id);
        }
    }

    /// Files `id` in the `open` index, or takes it out, as its transaction
    /// now is.
    fn index_open(&mut self, id: TxnId) {
        let t = &self.txns[&id];
        let open = t.advice_pending
            || matches!(
                t.state,
                TxnState::Sent | TxnState::InDoubt { .. } | TxnState::ManualReview { .. }
            );
        if open {
            self.open.insert(id);
        } else {
            self.open.remove(&id);
        }
    }

    /// Transactions not yet settled with the host, oldest first.
    pub(crate) fn open_txns(&self) -> impl Iterator<Item = &Transaction> {
        self.open.iter().map(|id| &*self.txns[id])
    }

    fn apply_record(&mut self, seq: u64, record: &Record) {
        match record {
            Record::Opened { .. } | Record::LateReply { .. } => {}
            Record::SignedIn { operator_id, .. } => {
                self.pins.get_or_default(operator_id).failures = 0;
                self.signed_in = Some(operator_id.clone());
            }
            Record::PinRejected { operator_id, .. } => {
                self.pins.get_or_default(operator_id).failures += 1;
            }
            Record::OperatorLocked {
                operator_id, until, ..
            } => {
                let pin = self.pins.get_or_default(operator_id);
                pin.failures = 0;
                pin.locked_until = Some(*until);
                if self.signed_in.as_deref() == Some(operator_id) {
                    self.signed_in = None;
                }
            }
            Record::Requested(request) => {
                let id = TxnId(seq);
                self.approvals_used(&request.approvals);
                self.index_request(id, request);
                self.next_trace = request.trace_no.next();
                let advice = request.kind == Kind::CompletionAdvice;
                let state = if request.fallback.is_some() {
                    // Approved by its approvers; settled outside the network.
                    TxnState::Approved {
                        rrn: None,
                        auth_code: None,
                        at: request.at,
                    }
                } else if advice {
                    // Approved offline under the pre-auth's authorisation.
                    let auth_code =
                        request
                            .original
                            .and_then(|o| self.txns.get(&o))
                            .and_then(|o| match &o.state {
                                TxnState::Approved { auth_code, .. } => auth_code.clone(),
                                _ => None,
                            });
                    TxnState::Approved {
                        rrn: None,
                        auth_code,
                        at: request.at,
                    }
                } else {
                    self.outstanding = Some(Purpose::Request { txn: id });
                    TxnState::Sent
                };
                self.txns.insert(
                    id,
                    Box::new(Transaction {
                        id,
                        request: (**request).clone(),
                        state,
                        advice_pending: advice,
                        outcome: None,
                    }),
                );
            }
            Record::Sent { purpose, .. } => {
                self.outstanding = Some(*purpose);
            }
            Record::SettlementSent {
                batch_no, summary, ..
            } => {
                self.outstanding = Some(Purpose::Settlement {
                    batch_no: *batch_no,
                });
                self.pending_summary = Some(summary.clone());
            }
            Record::Answered {
                purpose,
                code,
                rrn,
                auth_code,
                balanced,
                at,
            } => {
                self.outstanding = None;
                self.apply_answer(*purpose, code, rrn, auth_code, *balanced, *at);
            }
            Record::Unanswered { purpose, cause, .. } => {
                self.outstanding = None;
                match *purpose {
                    Purpose::Request { txn } => {
                        self.txn_mut(txn).state = TxnState::InDoubt {
                            cause: DoubtCause::NoReply(*cause),
                            failed_reversals: 0,
                        };
                    }
                    Purpose::Reversal { txn, .. } => self.reversal_failed(txn),
                    Purpose::Query { .. }
                    | Purpose::Advice { .. }
                    | Purpose::Upload { .. }
                    | Purpose::UploadEnd { .. } => {}
                    Purpose::Settlement { .. } => self.pending_summary = None,
                }
            }
            Record::ManualReview { txn, .. } => {
                let t = self.txn_mut(*txn);
                if let TxnState::InDoubt { cause, .. } = &t.state {
                    t.state = TxnState::ManualReview {
                        cause: cause.clone(),
                    };
                }
            }
            Record::RefundOutcome {
                txn,
                outcome,
                reference,
                approvals,
                at,
                ..
            } => {
                self.approvals_used(approvals);
                self.txn_mut(*txn).outcome = Some(RefundOutcome {
                    outcome: *outcome,
                    reference: reference.clone(),
                    at: *at,
                });
            }
            Record::ReviewResolved {
                txn,
                resolution,
                approvals,
                at,
            } => {
                self.approvals_used(approvals);
                match resolution {
                    Resolution::Approved { rrn, auth_code } => {
                        self.approve(*txn, rrn.clone(), auth_code.clone(), *at)
                    }
                    Resolution::Reversed => {
                        self.txn_mut(*txn).state = TxnState::Reversed { at: *at }
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_answer(
        &mut self,
        purpose: Purpose,
        code: &str,
        rrn: &Option<String>,
        auth_code: &Option<String>,
        balanced: Option<bool>,
        at: Timestamp,
    ) {
        let class = classify(code);
        match purpose {
            Purpose::Request { txn } => match class {
                ResponseClass::Approved => self.approve(txn, rrn.clone(), auth_code.clone(), at),
                ResponseClass::Declined | ResponseClass::Retryable => {
                    self.txn_mut(txn).state = TxnState::Declined {
                        code: code.to_owned(),
                    }
                }
                ResponseClass::Unknown => {
                    self.txn_mut(txn).state = TxnState::InDoubt {
                        cause: DoubtCause::UnknownCode(code.to_owned()),
                        failed_reversals: 0,
                    }
                }
            },
            Purpose::Reversal { txn, .. } => {
                // "25 original not found" means the host never had it: as
                // good as reversed.
                if class == ResponseClass::Approved || code == "25" {
                    self.txn_mut(txn).state = TxnState::Reversed { at };
                } else {
                    self.reversal_failed(txn);
                }
            }
            Purpose::Query { txn } => match class {
                ResponseClass::Approved => self.approve(txn, rrn.clone(), auth_code.clone(), at),
                // Not found may still arrive late; keep it in doubt and let
                // the reversal settle it.
                ResponseClass::Declined | ResponseClass::Retryable if code != "25" => {
                    self.txn_mut(txn).state = TxnState::Declined {
                        code: code.to_owned(),
                    }
                }
                ResponseClass::Declined | ResponseClass::Retryable | ResponseClass::Unknown => {}
            },
            Purpose::Advice { txn } => {
                if class != ResponseClass::Unknown {
                    let t = self.txn_mut(txn);
                    t.advice_pending = false;
                    if let TxnState::Approved { rrn: r, .. } = &mut t.state {
                        *r = rrn.clone();
                    }
                    if let Some(rrn) = rrn {
                        self.rrns.insert(rrn.clone(), txn);
                    }
                }
            }
            Purpose::Settlement { batch_no } => {
                let summary = self
                    .pending_summary
                    .take()
                    .expect("settlement answers follow settlement_sent");
                if class == ResponseClass::Approved && balanced == Some(false) {
                    // 不平: upload every record, then the host closes it.
                    let records = self
                        .batches
                        .get(&batch_no)
                        .into_iter()
                        .flatten()
                        .filter(|id| {
                            let t = &self.txns[id];
                            matches!(t.state, TxnState::Approved { .. })
                                && t.request.fallback.is_none()
                        })
                        .copied()
                        .collect();
                    self.upload = Some(PendingUpload {
                        batch_no,
                        summary,
                        records,
                        done: 0,
                    });
                } else if class == ResponseClass::Approved {
                    self.close_batch(batch_no, summary, false, at);
                }
            }
            Purpose::Upload { from, .. } => {
                if let Some(u) = self
                    .upload
                    .as_mut()
                    .filter(|_| class == ResponseClass::Approved)
                {
                    u.done = u
                        .done
                        .max((from as usize + UPLOAD_CHUNK).min(u.records.len()));
                }
            }
            Purpose::UploadEnd { batch_no } => {
                if class == ResponseClass::Approved {
                    if let Some(u) = self.upload.take() {
                        self.close_batch(batch_no, u.summary, true, at);
                    }
                }
            }
        }
    }

    /// A correct PIN (an approval) clears the approver's failed attempts.
    fn approvals_used(&mut self, approvals: &[ApprovalRecord]) {
        for approval in approvals {
            self.pins.get_or_default(&approval.operator_id).failures = 0;
        }
    }

    /// A batch closes: balanced at settlement, or unbalanced once its upload
    /// ended.
    fn close_batch(
        &mut self,
        batch_no: BatchNo,
        summary: SettlementSummary,
        uploaded: bool,
        at: Timestamp,
    ) {
        self.closed.push(BatchClose {
            batch_no,
            summary,
            balanced: !uploaded,
            uploaded,
            at,
        });
        self.batch_no = batch_no.next();
    }

    fn approve(
        &mut self,
        txn: TxnId,
        rrn: Option<String>,
        auth_code: Option<String>,
        at: Timestamp,
    ) {
        if let Some(rrn) = &rrn {
            self.rrns.insert(rrn.clone(), txn);
        }
        self.txn_mut(txn).state = TxnState::Approved { rrn, auth_code, at };
    }

    fn reversal_failed(&mut self, txn: TxnId) {
        if let TxnState::InDoubt {
            failed_reversals, ..
        } = &mut self.txn_mut(txn).state
        {
            *failed_reversals += 1;
        }
    }
}

/// The terminal.
#[derive(Debug, Clone)]
pub struct Terminal {
    pub(crate) config: TerminalConfig,
    journal: Journal<Record>,
    /// How many entries the caller has taken to persist (the journal's
    /// length at the last [`Terminal::take_unpersisted`]); those after them
    /// are unpersisted. A count, not a copy: the journal holds the one copy
    /// of each entry.
    taken: usize,
    pub(crate) state: State,
    halted: Option<String>,
    /// Advices and upload steps already tried in this flush round (not
    /// journaled): each goes out at most once per round, so a host that
    /// stays down ends the round instead of being asked for ever.
    tried: Vec<Purpose>,
}

/// A view of one transaction for screens and tests. It borrows the
/// transaction from the terminal: a view is read and converted, so copying
/// the transaction (its strings) for each one bought nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnView<'a> {
    /// The transaction.
    pub txn: &'a Transaction,
    /// Its status now.
    pub status: Status,
    /// What is left to refund (zero when not refundable).
    pub refundable: Money,
    /// For an open pre-auth: the most a completion may capture (Rule 3's
    /// tolerance).
    pub completable: Option<Money>,
}

impl Terminal {
    /// Opens a terminal on `entries` (empty for a new one), replaying them,
    /// and recovers an exchange that was outstanding when it stopped: a
    /// financial request becomes in doubt, so its reversal goes out first.
    /// [`Replay`] does this an entry at a time.
    pub fn open(
        config: TerminalConfig,
        entries: Vec<Entry<Record>>,
        now: Timestamp,
    ) -> Result<Terminal, PosError> {
        Ok(Terminal::replay_all(config, entries)?.open(now))
    }

    /// Opens a terminal on `entries` without recovering: an exchange that
    /// was outstanding stays so, and whoever was signed in stays signed in.
    /// The state is exactly what the journal says, as for a
    /// [`Terminal::snapshot`] of a journal prefix; anything that runs
    /// commands opens with [`Terminal::open`].
    pub fn replay(
        config: TerminalConfig,
        entries: Vec<Entry<Record>>,
        now: Timestamp,
    ) -> Result<Terminal, PosError> {
        Ok(Terminal::replay_all(config, entries)?.finish(now))
    }

    /// Every entry pushed into a [`Replay`]; an entry out of its place is
    /// named moved when the one it displaced comes later.
    fn replay_all(config: TerminalConfig, entries: Vec<Entry<Record>>) -> Result<Replay, PosError> {
        let mut replay = Replay::new(config)?;
        let mut rest = entries.into_iter();
        while let Some(entry) = rest.next() {
            let seq = replay.len();
            if entry.seq != seq {
                let later = rest.as_slice().iter().any(|e| e.seq == seq);
                return Err(crate::journal::misplaced(seq, entry.seq, later));
            }
            replay.push(entry)?;
        }
        Ok(replay)
    }

    /// A terminal of `state`, holding `journal` with all of it taken to
    /// persist already: what a replay or a snapshot builds on.
    fn from_parts(config: TerminalConfig, state: State, journal: Journal<Record>) -> Terminal {
        Terminal {
            taken: journal.len(),
            state,
            journal,
            config,
            halted: None,
            tried: Vec::new(),
        }
    }

    /// What a restart does after replay: an exchange that was outstanding
    /// gets no reply (a financial request becomes in doubt, so its reversal
    /// goes out first), and nobody is signed in.
    fn recover(&mut self, now: Timestamp) {
        if let Some(purpose) = self.state.outstanding {
            self.no_reply(purpose, NoReply::Restart, now);
        }
        self.state.signed_in = None;
    }

    /// The configuration.
    pub fn config(&self) -> &TerminalConfig {
        &self.config
    }

    /// The journal.
    pub fn journal(&self) -> &Journal<Record> {
        &self.journal
    }

    /// The replayed state (compared whole by the replay tests).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Entries appended since the last call; persist them before sending.
    /// A copy: [`Terminal::take_unpersisted_seqs`] takes them without one.
    pub fn take_unpersisted(&mut self) -> Vec<Entry<Record>> {
        let new = self.unpersisted().to_vec();
        self.take_unpersisted_seqs();
        new
    }

    /// [`Terminal::take_unpersisted`] without the copy: takes the entries
    /// appended since the last take and returns their `seq`s. They stay in
    /// [`Terminal::journal`] (which forgets only taken entries, and only
    /// when the caller asks, [`Terminal::forget_history`]), so a caller
    /// reads them there when it writes them.
    pub fn take_unpersisted_seqs(&mut self) -> std::ops::Range<u64> {
        let from = self.taken as u64;
        self.taken = self.journal.len();
        from..self.taken as u64
    }

    /// The entries appended since the last take, in order.
    pub fn unpersisted(&self) -> &[Entry<Record>] {
        let held_from = self.taken - self.journal.base() as usize;
        &self.journal.entries()[held_from..]
    }

    /// The open batch.
    pub fn batch_no(&self) -> BatchNo {
        self.state.batch_no
    }

    /// Who is signed in.
    pub fn signed_in(&self) -> Option<&str> {
        self.state.signed_in.as_deref()
    }

    /// What is outstanding with the host.
    pub fn outstanding(&self) -> Option<Purpose> {
        self.state.outstanding
    }

    /// Closed batches, oldest first.
    pub fn closed_batches(&self) -> &[BatchClose] {
        &self.state.closed
    }

    /// Whether a bug stopped the terminal, and why.
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Stops the terminal after a bug (the binding calls this on a panic).
    pub fn halt(&mut self, why: &str) {
        self.halted = Some(why.to_owned());
    }

    /// Takes the terminal apart for freeing a step at a time, when no one
    /// will read it again: its transactions, journal entries and largest
    /// indexes move into the [`Dismantling`], which frees a budget of them
    /// a step. Dropped at once, the state of 50,000 sales held a browser
    /// page ~50 ms, and a memory terminal's 100,000 entries more. The
    /// terminal is of no use afterwards: it is halted ([`DISMANTLED`]) and
    /// a snapshot writer refuses it.
    pub fn dismantle(&mut self) -> Dismantling {
        self.halt(DISMANTLED);
        let s = &mut self.state;
        Dismantling {
            txns: std::mem::take(&mut s.txns).into_iter(),
            rrns: std::mem::take(&mut s.rrns).into_iter(),
            keys: std::mem::take(&mut s.keys).into_iter(),
            traces: std::mem::take(&mut s.traces).into_iter(),
            entries: self.journal.take_entries().into_iter(),
        }
    }

    pub(crate) fn append_record(&mut self, record: Record) {
        self.append(record);
        self.debug_check();
    }

    fn append(&mut self, record: Record) {
        let entry = self.journal.append(record);
        self.state.apply(entry.seq, &entry.record);
    }

    pub(crate) fn check_running(&self) -> Result<(), PosError> {
        match &self.halted {
            Some(why) => Err(PosError::Internal { what: why.clone() }),
            None => Ok(()),
        }
    }

    // ----- operators ---------------------------------------------------

    fn operator(&self, id: &str) -> Result<&Operator, PosError> {
        self.config
            .operators
            .iter()
            .find(|o| o.id == id)
            .ok_or_else(|| PosError::UnknownOperator {
                operator_id: crate::money::truncate_for_error(id),
            })
    }

    /// Checks a PIN, recording a wrong one and locking after the policy's
    /// number of failures.
    fn check_pin(&mut self, id: &str, pin: &str, now: Timestamp) -> Result<Operator, PosError> {
        let op = self.operator(id)?.clone();
        let pins = self.state.pins.get(id).cloned().unwrap_or_default();
        if let Some(until) = pins.locked_until.filter(|u| *u > now) {
            return Err(PosError::OperatorLocked {
                operator_id: op.id,
                locked_until_ms: until.0,
            });
        }
        if op.pin.verify(pin) {
            return Ok(op);
        }
        self.append(Record::PinRejected {
            operator_id: op.id.clone(),
            at: now,
        });
        let max = self.config.policy.max_pin_attempts;
        if pins.failures + 1 >= max {
            let until = now.plus_minutes(self.config.policy.pin_lock_minutes);
            self.append(Record::OperatorLocked {
                operator_id: op.id.clone(),
                until,
                at: now,
            });
            return Err(PosError::OperatorLocked {
                operator_id: op.id,
                locked_until_ms: until.0,
            });
        }
        Err(PosError::WrongPin {
            operator_id: op.id,
            attempts_left: max - pins.failures - 1,
        })
    }

    /// 签到: an operator signs in with their PIN.
    pub fn sign_in(
        &mut self,
        operator_id: &str,
        pin: &str,
        now: Timestamp,
    ) -> Result<(), PosError> {
        self.check_running()?;
        self.check_pin(operator_id, pin, now)?;
        self.append(Record::SignedIn {
            operator_id: operator_id.to_owned(),
            at: now,
        });
        Ok(())
    }

    /// Checks `needed` approvals (1 or 2) from approvers who may approve;
    /// with two, they must be different people and neither the initiator.
    pub(crate) fn check_approvals(
        &mut self,
        needed: usize,
        approvals: &[ApprovalInput],
        initiator: &str,
        now: Timestamp,
    ) -> Result<Vec<ApprovalRecord>, PosError> {
        if needed == 0 {
            return Ok(Vec::new());
        }
        if approvals.len() < needed {
            return Err(PosError::ApprovalRequired {
                needed: vec!["supervisor"; needed].join(","),
            });
        }
        let mut records: Vec<ApprovalRecord> = Vec::new();
        for a in approvals.iter().take(needed) {
            let op = self.operator(&a.operator_id)?;
            if !op.role.can_approve() {
                return Err(PosError::ApproverNotAuthorized {
                    operator_id: op.id.clone(),
                    role: op.role.to_string(),
                    needed: "supervisor".into(),
                });
            }
            let dual = needed > 1;
            if records.iter().any(|r| r.operator_id == op.id) || (dual && op.id == initiator) {
                return Err(PosError::SamePersonApproval {
                    operator_id: op.id.clone(),
                });
            }
            let op = self.check_pin(&a.operator_id, &a.pin, now)?;
            records.push(ApprovalRecord {
                operator_id: op.id,
                role: op.role,
            });
        }
        Ok(records)
    }

    // ----- lookups -----------------------------------------------------

    /// A transaction by id.
    pub fn transaction(&self, id: TxnId) -> Option<&Transaction> {
        self.state.txns.get(&id).map(Box::as_ref)
    }

    /// Every transaction, oldest first.
    pub fn transactions(&self) -> impl Iterator<Item = &Transaction> {
        self.state.txns.values().map(Box::as_ref)
    }

    /// The transactions from `from` on, oldest first: where a walk over
    /// them that stopped resumes.
    pub(crate) fn transactions_from(&self, from: TxnId) -> impl Iterator<Item = &Transaction> {
        self.state.txns.range(from..).map(|(_, t)| t.as_ref())
    }

    /// A transaction by the caller's idempotency key.
    pub fn by_key(&self, key: &str) -> Option<&Transaction> {
        self.state
            .keys
            .get(key)
            .and_then(|id| self.state.txns.get(id))
            .map(Box::as_ref)
    }

    /// Finds the original a command names.
    pub fn find(&self, selector: &OriginalSelector) -> Result<&Transaction, PosError> {
        let found = match selector {
            OriginalSelector::Id(id) => self.state.txns.get(id).map(Box::as_ref),
            OriginalSelector::Rrn(rrn) => self
                .state
                .rrns
                .get(rrn)
                .and_then(|id| self.state.txns.get(id))
                .map(Box::as_ref),
            OriginalSelector::TraceNo(trace) => {
                // Trace numbers wrap: the latest in the open batch first.
                let latest = |open_only: bool| {
                    self.with_trace(*trace)
                        .rev()
                        .find(|t| !open_only || t.request.batch_no == self.state.batch_no)
                };
                latest(true).or_else(|| latest(false))
            }
        };
        found.ok_or_else(|| PosError::OriginalNotFound {
            reference: crate::money::truncate_for_error(&selector.to_string()),
        })
    }

    /// The transactions with trace number `trace_no`, oldest first (trace
    /// numbers wrap at 999999).
    pub(crate) fn with_trace(
        &self,
        trace_no: TraceNo,
    ) -> impl DoubleEndedIterator<Item = &Transaction> {
        self.state
            .traces
            .get(&trace_no)
            .into_iter()
            .flatten()
            .filter_map(|id| self.state.txns.get(id).map(Box::as_ref))
    }

    pub(crate) fn children(&self, id: TxnId) -> impl Iterator<Item = &Transaction> {
        self.state
            .children
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|c| self.state.txns.get(c).map(Box::as_ref))
    }

    /// The other refunds of the same original (or the same voucher).
    pub(crate) fn siblings<'a>(
        &'a self,
        refund: &'a Transaction,
    ) -> impl Iterator<Item = &'a Transaction> + 'a {
        let by_voucher = refund
            .request
            .voucher
            .as_ref()
            .and_then(|v| self.state.voucher_refunds.get(&v.rrn))
            .into_iter()
            .flatten()
            .filter_map(|id| self.state.txns.get(id).map(Box::as_ref));
        let by_original = refund
            .request
            .original
            .into_iter()
            .flat_map(|o| self.refunds_of(o));
        by_original
            .chain(by_voucher)
            .filter(move |s| s.id != refund.id)
    }

    /// Every refund of `id`, whatever became of it.
    pub(crate) fn refunds_of(&self, id: TxnId) -> impl Iterator<Item = &Transaction> {
        self.children(id).filter(|c| c.request.kind == Kind::Refund)
    }

    /// Whether a refund consumes its original's headroom: approved, sent,
    /// in doubt or in manual review (Rule 2; a failed refund frees it only
    /// once definitive, a returned one once the money is back).
    pub(crate) fn consumes_headroom(&self, refund: &Transaction) -> bool {
        match refund.state {
            TxnState::Sent | TxnState::InDoubt { .. } | TxnState::ManualReview { .. } => true,
            TxnState::Approved { .. } => !self.is_returned(refund),
            TxnState::Declined { .. } | TxnState::Reversed { .. } => false,
        }
    }

    /// Whether an accepted refund's money came back.
    pub(crate) fn is_returned(&self, refund: &Transaction) -> bool {
        refund
            .outcome
            .as_ref()
            .is_some_and(|o| o.outcome == Outcome::Returned)
    }

    /// Refunds of `id` that consume headroom.
    fn live_refunds(&self, id: TxnId) -> impl Iterator<Item = &Transaction> {
        self.refunds_of(id).filter(|c| self.consumes_headroom(c))
    }

    /// What is left to refund of `t` (zero when it is not refundable at all).
    pub fn refundable(&self, t: &Transaction, now: Timestamp) -> Money {
        let zero = Money::zero(t.request.amount.currency());
        let status = self.status(t, now);
        if check_transition(Operation::Refund, t.request.kind, status).is_err() {
            return zero;
        }
        let used = self
            .live_refunds(t.id)
            .try_fold(zero, |acc, r| acc.checked_add(r.request.amount))
            .unwrap_or(zero);
        t.request.amount.saturating_sub(used).unwrap_or(zero)
    }

    /// The status a person sees for `t` at `now`.
    pub fn status(&self, t: &Transaction, now: Timestamp) -> Status {
        let approved_child = |kinds: &[Kind]| {
            self.children(t.id).any(|c| {
                kinds.contains(&c.request.kind)
                    && matches!(c.state, TxnState::Approved { .. })
                    && self.status(c, now) != Status::Voided
            })
        };
        match &t.state {
            TxnState::Sent => Status::Sent,
            TxnState::InDoubt { .. } => Status::InDoubt,
            TxnState::ManualReview { .. } => Status::ManualReview,
            TxnState::Declined { .. } => Status::Declined,
            TxnState::Reversed { .. } => Status::Reversed,
            TxnState::Approved { .. } => match t.request.kind {
                Kind::Sale | Kind::Completion | Kind::CompletionAdvice => {
                    if approved_child(&[Kind::Void, Kind::CompletionVoid]) {
                        return Status::Voided;
                    }
                    let refunded = self
                        .children(t.id)
                        .filter(|c| {
                            c.request.kind == Kind::Refund
                                && matches!(c.state, TxnState::Approved { .. })
                                && !self.is_returned(c)
                        })
                        .fold(Money::zero(t.request.amount.currency()), |acc, r| {
                            acc.checked_add(r.request.amount).unwrap_or(acc)
                        });
                    if refunded.is_zero() {
                        Status::Approved
                    } else if refunded >= t.request.amount {
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
                    } else if now > self.pre_auth_expiry(t) {
                        Status::Expired
                    } else {
                        Status::Approved
                    }
                }
                Kind::Void | Kind::Refund | Kind::PreAuthCancel | Kind::CompletionVoid => {
                    Status::Approved
                }
            },
        }
    }

    fn pre_auth_expiry(&self, t: &Transaction) -> Timestamp {
        t.request
            .at
            .plus_days(self.config.policy.pre_auth_validity_days)
    }

    /// The view of one transaction at `now`.
    pub fn view(&self, id: TxnId, now: Timestamp) -> Option<TxnView<'_>> {
        let t = self.state.txns.get(&id)?;
        Some(self.view_of(t, self.status(t, now), now))
    }

    /// The view of `t`, whose status at `now` the caller has judged.
    pub(crate) fn view_of<'a>(
        &'a self,
        t: &'a Transaction,
        status: Status,
        now: Timestamp,
    ) -> TxnView<'a> {
        let open_pre_auth = t.request.kind == Kind::PreAuth && status == Status::Approved;
        TxnView {
            status,
            refundable: self.refundable(t, now),
            completable: open_pre_auth.then(|| self.completion_maximum(t)),
            txn: t,
        }
    }

    /// The most a completion of pre-auth `t` may capture (Rule 3).
    fn completion_maximum(&self, t: &Transaction) -> Money {
        t.request
            .amount
            .percent(self.config.policy.completion_tolerance_percent)
    }

    // ----- commands ----------------------------------------------------

    /// Runs a financial command with the caller's idempotency key.
    ///
    /// Checks run in a fixed order, so one input always gives the same
    /// code: running → amount → signed in → key → original and its rules →
    /// the host channel (in flight, manual review, reversal pending) →
    /// approvals → trace number.
    pub fn execute(
        &mut self,
        command: Command,
        key: &str,
        now: Timestamp,
    ) -> Result<Submitted, PosError> {
        self.check_running()?;
        if key.is_empty() || key.len() > 128 {
            return Err(PosError::invalid_input("key", "1 to 128 characters", key));
        }
        if let Some(amount) = command_amount(&command) {
            self.check_amount(amount)?;
        }
        let initiator = self.state.signed_in.clone().ok_or(PosError::NotSignedIn)?;
        let fingerprint = fingerprint(&command);
        if let Some(existing) = self.by_key(key) {
            if existing.request.fingerprint != fingerprint {
                return Err(PosError::IdempotencyKeyReused {
                    key: crate::money::truncate_for_error(key),
                });
            }
            return Ok(Submitted {
                txn: existing.id,
                request: None,
                replayed: true,
            });
        }
        let planned = self.plan(&command, now)?;
        self.check_channel()?;
        let approvals = self.check_approvals(
            planned.approvals_needed,
            command_approvals(&command),
            &initiator,
            now,
        )?;
        let trace_no = self.free_trace_no()?;
        let card = match (planned.original, &planned.voucher) {
            (Some(o), _) => self.state.txns[&o].request.card.clone(),
            (None, Some(v)) => v.card.clone(),
            (None, None) => command_card(&command)
                .expect("new transactions carry a card")
                .clone(),
        };
        let sent = planned.kind != Kind::CompletionAdvice && planned.fallback.is_none();
        let request = Request {
            kind: planned.kind,
            key: key.to_owned(),
            fingerprint,
            amount: planned.amount,
            card,
            trace_no,
            batch_no: self.state.batch_no,
            original: planned.original,
            operator_id: initiator,
            approvals,
            reason: planned.reason,
            fallback: planned.fallback,
            voucher: planned.voucher,
            at: now,
        };
        let seq = self.journal.len() as u64;
        self.append(Record::Requested(Box::new(request)));
        let txn = TxnId(seq);
        let request = sent.then(|| self.host_request_for(txn, now));
        self.debug_check();
        Ok(Submitted {
            txn,
            request,
            replayed: false,
        })
    }

    pub(crate) fn check_amount(&self, amount: Money) -> Result<(), PosError> {
        if amount.currency() != self.config.currency {
            return Err(PosError::CurrencyMismatch {
                expected: self.config.currency,
                found: amount.currency(),
            });
        }
        if amount.amount() > self.config.policy.max_transaction_amount {
            return Err(PosError::InvalidAmount {
                found: amount.to_string(),
                problem: AmountProblem::AboveMaximum,
            });
        }
        Ok(())
    }

    /// No new financial request while anything is outstanding, in manual
    /// review, or waiting to be reversed (Rule 4, invariant 4).
    fn check_channel(&self) -> Result<(), PosError> {
        if let Some(purpose) = self.state.outstanding {
            return Err(PosError::RequestInFlight {
                trace_no: self.purpose_trace(purpose).to_string(),
            });
        }
        for t in self.state.open_txns() {
            match t.state {
                TxnState::ManualReview { .. } => {
                    return Err(PosError::ManualReviewPending {
                        trace_no: t.request.trace_no.to_string(),
                    })
                }
                TxnState::InDoubt { .. } => {
                    return Err(PosError::ReversalPending {
                        trace_no: t.request.trace_no.to_string(),
                    })
                }
                TxnState::Sent
                | TxnState::Approved { .. }
                | TxnState::Declined { .. }
                | TxnState::Reversed { .. } => {}
            }
        }
        self.check_no_upload()
    }

    /// Nothing new while a batch upload is under way: the batch is neither
    /// open for new records nor closed (`BATCH_UPLOAD_PENDING`).
    pub fn check_no_upload(&self) -> Result<(), PosError> {
        match &self.state.upload {
            Some(u) => Err(PosError::BatchUploadPending {
                batch_no: u.batch_no.to_string(),
                done: u.done as u32,
                total: u.records.len() as u32,
            }),
            None => Ok(()),
        }
    }

    /// The batch upload under way, if any.
    pub fn pending_upload(&self) -> Option<&PendingUpload> {
        self.state.upload.as_ref()
    }

    fn purpose_trace(&self, purpose: Purpose) -> TraceNo {
        match purpose {
            Purpose::Request { txn }
            | Purpose::Reversal { txn, .. }
            | Purpose::Query { txn }
            | Purpose::Advice { txn } => self.state.txns[&txn].request.trace_no,
            Purpose::Settlement { .. } | Purpose::Upload { .. } | Purpose::UploadEnd { .. } => {
                self.state.next_trace
            }
        }
    }

    /// The next trace number not held by an unresolved record (Rule 10).
    fn free_trace_no(&self) -> Result<TraceNo, PosError> {
        let held: std::collections::HashSet<TraceNo> = self
            .state
            .open_txns()
            .filter(|t| match t.state {
                TxnState::Sent | TxnState::InDoubt { .. } | TxnState::ManualReview { .. } => true,
                TxnState::Approved { .. }
                | TxnState::Declined { .. }
                | TxnState::Reversed { .. } => t.advice_pending,
            })
            .map(|t| t.request.trace_no)
            .collect();
        let mut candidate = self.state.next_trace;
        for _ in 0..999_999 {
            if !held.contains(&candidate) {
                return Ok(candidate);
            }
            candidate = candidate.next();
        }
        Err(PosError::TraceNumbersExhausted)
    }

    /// Applies the rules of the command's kind (Rules 1–3) and decides kind,
    /// amount and approvals.
    fn plan(&self, command: &Command, now: Timestamp) -> Result<Planned, PosError> {
        let policy = &self.config.policy;
        let simple = |kind, amount| Planned {
            kind,
            amount,
            original: None,
            approvals_needed: 0,
            reason: None,
            fallback: None,
            voucher: None,
        };
        match command {
            Command::Sale { amount, .. } => Ok(simple(Kind::Sale, *amount)),
            Command::PreAuth { amount, .. } => Ok(simple(Kind::PreAuth, *amount)),
            Command::Void { original, .. } => {
                let o = self.find(original)?;
                let status = self.status(o, now);
                self.check_not_in_doubt(o, status)?;
                check_transition(Operation::Void, o.request.kind, status).map_err(
                    |e| match status {
                        Status::PartiallyRefunded | Status::Refunded => PosError::VoidHasRefunds,
                        _ => e,
                    },
                )?;
                if o.request.batch_no != self.state.batch_no {
                    return Err(PosError::VoidBatchSettled {
                        batch_no: o.request.batch_no.to_string(),
                    });
                }
                // Rule 1: no refund against it — one whose money came back
                // still happened (the planner plans a fallback then).
                let refunded = self.refunds_of(o.id).any(|r| {
                    !matches!(
                        r.state,
                        TxnState::Declined { .. } | TxnState::Reversed { .. }
                    )
                });
                if refunded {
                    return Err(PosError::VoidHasRefunds);
                }
                Ok(Planned {
                    kind: if o.request.kind == Kind::Sale {
                        Kind::Void
                    } else {
                        Kind::CompletionVoid
                    },
                    amount: o.request.amount,
                    original: Some(o.id),
                    approvals_needed: usize::from(policy.void_needs_supervisor),
                    reason: None,
                    fallback: None,
                    voucher: None,
                })
            }
            Command::Refund {
                plan,
                reason,
                destination,
                ..
            } => self.planned_refund(plan, reason, destination.as_ref(), now),
            Command::Complete {
                original,
                amount,
                advice,
            } => {
                let o = self.pre_auth_for(original, Operation::Complete, now)?;
                let maximum = self.completion_maximum(o);
                if *amount > maximum {
                    return Err(PosError::CompletionExceedsTolerance {
                        requested: amount.to_string(),
                        maximum: maximum.to_string(),
                    });
                }
                Ok(Planned {
                    kind: if *advice {
                        Kind::CompletionAdvice
                    } else {
                        Kind::Completion
                    },
                    amount: *amount,
                    original: Some(o.id),
                    approvals_needed: 0,
                    reason: None,
                    fallback: None,
                    voucher: None,
                })
            }
            Command::CancelPreAuth { original } => {
                let o = self.pre_auth_for(original, Operation::CancelPreAuth, now)?;
                Ok(Planned {
                    kind: Kind::PreAuthCancel,
                    amount: o.request.amount,
                    original: Some(o.id),
                    approvals_needed: 0,
                    reason: None,
                    fallback: None,
                    voucher: None,
                })
            }
        }
    }

    /// Carries out a refund plan: plans again, refuses a plan whose decision
    /// changed, and turns the decision into the transaction to record.
    fn planned_refund(
        &self,
        plan: &RefundPlan,
        reason: &str,
        destination: Option<&Destination>,
        now: Timestamp,
    ) -> Result<Planned, PosError> {
        let fresh = self.plan_refund(&plan.original_ref(), plan.requested(), now)?;
        if !fresh.same_decision(plan) {
            return Err(PosError::PlanStale {
                planned: plan.action().as_str().into(),
                now: fresh.action().as_str().into(),
            });
        }
        if let Some(error) = fresh.rejection() {
            return Err(error.clone());
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(PosError::RefundReasonRequired);
        }
        if reason.chars().count() > 200 {
            return Err(PosError::invalid_input(
                "reason",
                "at most 200 characters",
                reason,
            ));
        }
        let original = fresh.original().map(|id| &self.state.txns[&id]);
        let kind = match (fresh.action(), original.map(|o| o.request.kind)) {
            (Action::Void, Some(Kind::Sale)) => Kind::Void,
            (Action::Void, _) => Kind::CompletionVoid,
            (Action::PreAuthCancel, _) => Kind::PreAuthCancel,
            (Action::Refund | Action::Fallback | Action::Reject, _) => Kind::Refund,
        };
        let fallback = match fresh.action() {
            Action::Fallback => {
                let d = destination.ok_or_else(|| PosError::FallbackDetailsRequired {
                    route: fresh.route().as_str().into(),
                    missing: "destination".into(),
                })?;
                let route = d.route.unwrap_or(fresh.route());
                if !fresh.fallbacks().iter().any(|f| f.route == route) {
                    return Err(PosError::invalid_input(
                        "destination.route",
                        &fresh
                            .fallbacks()
                            .iter()
                            .map(|f| f.route.as_str())
                            .collect::<Vec<_>>()
                            .join("|"),
                        route.as_str(),
                    ));
                }
                Some(d.to_record(route, fresh.reasons())?)
            }
            Action::Void | Action::Refund | Action::PreAuthCancel | Action::Reject => None,
        };
        Ok(Planned {
            kind,
            amount: fresh.amount(),
            original: fresh.original(),
            approvals_needed: fresh.approvals().len(),
            reason: Some(reason.to_owned()),
            fallback,
            voucher: fresh.voucher().cloned(),
        })
    }

    fn pre_auth_for(
        &self,
        original: &OriginalSelector,
        op: Operation,
        now: Timestamp,
    ) -> Result<&Transaction, PosError> {
        let o = self.find(original)?;
        let status = self.status(o, now);
        self.check_not_in_doubt(o, status)?;
        if o.request.kind == Kind::PreAuth && status == Status::Expired {
            return Err(PosError::PreAuthExpired {
                expired_at_ms: self.pre_auth_expiry(o).0,
            });
        }
        check_transition(op, o.request.kind, status)?;
        Ok(o)
    }

    /// Nothing acts on an original whose own outcome, or that of anything
    /// done to it, is unknown.
    pub(crate) fn check_not_in_doubt(
        &self,
        o: &Transaction,
        status: Status,
    ) -> Result<(), PosError> {
        let child_unresolved = self.children(o.id).any(|c| match c.state {
            TxnState::Sent | TxnState::InDoubt { .. } | TxnState::ManualReview { .. } => {
                c.request.kind != Kind::Refund
            }
            TxnState::Approved { .. } | TxnState::Declined { .. } | TxnState::Reversed { .. } => {
                false
            }
        });
        if status.is_unresolved() || child_unresolved {
            return Err(PosError::OriginalInDoubt);
        }
        Ok(())
    }

    fn original_ref(&self, t: &Transaction) -> OriginalRef {
        let (rrn, auth_code) = match &t.state {
            TxnState::Approved { rrn, auth_code, .. } => (rrn.clone(), auth_code.clone()),
            _ => (None, None),
        };
        OriginalRef {
            message: message_type(t.request.kind),
            trace_no: t.request.trace_no,
            batch_no: t.request.batch_no,
            amount: t.request.amount,
            rrn,
            auth_code,
            at: t.request.at,
        }
    }

    fn host_request_for(&self, txn: TxnId, now: Timestamp) -> HostRequest {
        let t = &self.state.txns[&txn];
        HostRequest {
            message: message_type(t.request.kind),
            merchant_id: self.config.merchant_id.clone(),
            terminal_id: self.config.terminal_id.clone(),
            trace_no: t.request.trace_no,
            batch_no: t.request.batch_no,
            amount: Some(t.request.amount),
            card: Some(t.request.card.clone()),
            upload: None,
            original: match (&t.request.original, &t.request.voucher) {
                (Some(o), _) => Some(self.original_ref(&self.state.txns[o])),
                (None, Some(v)) => Some(voucher_ref(v, &self.config.policy)),
                (None, None) => None,
            },
            summary: None,
            sent_at: now,
        }
    }

    /// One record as a batch upload carries it.
    fn upload_record(&self, id: TxnId) -> crate::host::UploadRecord {
        let t = &self.state.txns[&id];
        let (rrn, auth_code) = match &t.state {
            TxnState::Approved { rrn, auth_code, .. } => (rrn.clone(), auth_code.clone()),
            _ => (None, None),
        };
        crate::host::UploadRecord {
            message: message_type(t.request.kind),
            trace_no: t.request.trace_no,
            amount: t.request.amount,
            rrn,
            auth_code,
            original: t.request.original.map(|o| {
                let o = &self.state.txns[&o].request;
                (o.batch_no, o.trace_no)
            }),
        }
    }

    fn exchange_request(&self, purpose: Purpose, now: Timestamp) -> HostRequest {
        match purpose {
            Purpose::Request { txn } => self.host_request_for(txn, now),
            Purpose::Reversal { txn, .. } | Purpose::Query { txn } | Purpose::Advice { txn } => {
                let t = &self.state.txns[&txn];
                let message = match purpose {
                    Purpose::Reversal { .. } => MessageType::Reversal,
                    Purpose::Query { .. } => MessageType::Query,
                    _ => MessageType::CompletionAdvice,
                };
                let mut req = self.host_request_for(txn, now);
                req.message = message;
                if message != MessageType::CompletionAdvice {
                    req.original = Some(self.original_ref(t));
                }
                req
            }
            Purpose::Settlement { batch_no } => HostRequest {
                summary: self.state.pending_summary.clone(),
                ..self.batch_request(MessageType::Settlement, batch_no, now)
            },
            Purpose::Upload { batch_no, from } => {
                let u = self
                    .state
                    .upload
                    .as_ref()
                    .expect("uploads follow unbalanced settlements");
                let from = from as usize;
                let chunk = &u.records
                    [from.min(u.records.len())..(from + UPLOAD_CHUNK).min(u.records.len())];
                HostRequest {
                    upload: Some(chunk.iter().map(|id| self.upload_record(*id)).collect()),
                    ..self.batch_request(MessageType::BatchUpload, batch_no, now)
                }
            }
            Purpose::UploadEnd { batch_no } => HostRequest {
                summary: self.state.upload.as_ref().map(|u| u.summary.clone()),
                ..self.batch_request(MessageType::BatchUploadEnd, batch_no, now)
            },
        }
    }

    /// A request about a whole batch (settlement, batch upload): no amount,
    /// card or original; the caller adds the summary or the records.
    fn batch_request(
        &self,
        message: MessageType,
        batch_no: BatchNo,
        now: Timestamp,
    ) -> HostRequest {
        HostRequest {
            message,
            merchant_id: self.config.merchant_id.clone(),
            terminal_id: self.config.terminal_id.clone(),
            trace_no: self.state.next_trace,
            batch_no,
            amount: None,
            card: None,
            original: None,
            summary: None,
            upload: None,
            sent_at: now,
        }
    }

    // ----- the host channel --------------------------------------------

    /// Starts a flush round: what `poll_transmit` returns until it returns
    /// `None` is one round. Both drivers call this before their loop.
    pub fn begin_flush(&mut self) {
        self.tried.clear();
    }

    /// The next request the terminal needs to send on its own, when nothing
    /// is outstanding: a reversal of an in-doubt request first (each bounded
    /// by the policy's attempts), then an offline advice, then the next step
    /// of a batch upload — those two at most once per flush round (see
    /// [`Terminal::begin_flush`]). Records the attempt before returning it.
    pub fn poll_transmit(&mut self, now: Timestamp) -> Option<HostRequest> {
        if self.halted.is_some() || self.state.outstanding.is_some() {
            return None;
        }
        let reversal = self.state.open_txns().find_map(|t| match t.state {
            TxnState::InDoubt {
                failed_reversals, ..
            } => Some(Purpose::Reversal {
                txn: t.id,
                attempt: failed_reversals + 1,
            }),
            _ => None,
        });
        let untried = |p: &Purpose| !self.tried.contains(p);
        let advice = || {
            self.state
                .open_txns()
                .filter(|t| t.advice_pending)
                .map(|t| Purpose::Advice { txn: t.id })
                .find(untried)
        };
        let upload = || {
            self.state.upload.as_ref().map(|u| {
                if u.done < u.records.len() {
                    Purpose::Upload {
                        batch_no: u.batch_no,
                        from: u.done as u32,
                    }
                } else {
                    Purpose::UploadEnd {
                        batch_no: u.batch_no,
                    }
                }
            })
        };
        let purpose = reversal
            .or_else(advice)
            .or_else(|| upload().filter(untried))?;
        if !matches!(purpose, Purpose::Reversal { .. }) {
            self.tried.push(purpose);
        }
        self.append(Record::Sent { purpose, at: now });
        Some(self.exchange_request(purpose, now))
    }

    /// Whether `poll_transmit` has work (a reversal or an advice).
    pub fn has_pending_transmit(&self) -> bool {
        self.state.outstanding.is_none()
            && (self.state.upload.is_some()
                || self
                    .state
                    .open_txns()
                    .any(|t| matches!(t.state, TxnState::InDoubt { .. }) || t.advice_pending))
    }

    /// 查询: asks the host what happened to an in-doubt transaction.
    pub fn query(
        &mut self,
        original: &OriginalSelector,
        now: Timestamp,
    ) -> Result<HostRequest, PosError> {
        self.check_running()?;
        let t = self.find(original)?;
        check_transition(Operation::Query, t.request.kind, self.status(t, now))?;
        let txn = t.id;
        if let Some(purpose) = self.state.outstanding {
            return Err(PosError::RequestInFlight {
                trace_no: self.purpose_trace(purpose).to_string(),
            });
        }
        let purpose = Purpose::Query { txn };
        self.append(Record::Sent { purpose, at: now });
        Ok(self.exchange_request(purpose, now))
    }

    /// Resolves a record in manual review, with a supervisor's approval,
    /// once the acquirer has said what happened.
    pub fn resolve_review(
        &mut self,
        original: &OriginalSelector,
        resolution: Resolution,
        approval: &[ApprovalInput],
        now: Timestamp,
    ) -> Result<(), PosError> {
        self.check_running()?;
        let t = self.find(original)?;
        check_transition(Operation::Resolve, t.request.kind, self.status(t, now))?;
        let txn = t.id;
        let initiator = self.state.signed_in.clone().unwrap_or_default();
        let approvals = self.check_approvals(1, approval, &initiator, now)?;
        self.append(Record::ReviewResolved {
            txn,
            resolution,
            approvals,
            at: now,
        });
        self.debug_check();
        Ok(())
    }

    /// 结算: asks the host to close the open batch. Refused while anything
    /// is outstanding, in doubt, in review, or an advice is unsent (Rule 11).
    pub fn settle(&mut self, now: Timestamp) -> Result<HostRequest, PosError> {
        self.check_running()?;
        self.state.signed_in.as_ref().ok_or(PosError::NotSignedIn)?;
        if let Some(purpose) = self.state.outstanding {
            return Err(PosError::RequestInFlight {
                trace_no: self.purpose_trace(purpose).to_string(),
            });
        }
        self.check_no_upload()?;
        let mut in_doubt = 0;
        let mut reversals = 0;
        for t in self.state.open_txns() {
            match t.state {
                TxnState::InDoubt { .. } => {
                    in_doubt += 1;
                    reversals += 1;
                }
                TxnState::ManualReview { .. } => reversals += 1,
                TxnState::Sent
                | TxnState::Approved { .. }
                | TxnState::Declined { .. }
                | TxnState::Reversed { .. } => in_doubt += u32::from(t.advice_pending),
            }
        }
        if in_doubt + reversals > 0 {
            return Err(PosError::SettlementBlocked {
                in_doubt,
                reversals,
            });
        }
        let batch_no = self.state.batch_no;
        self.append(Record::SettlementSent {
            batch_no,
            summary: self.summary(batch_no, now),
            at: now,
        });
        Ok(self.exchange_request(Purpose::Settlement { batch_no }, now))
    }

    /// Net debit and credit totals of a batch, from the journal.
    pub fn summary(&self, batch_no: BatchNo, now: Timestamp) -> SettlementSummary {
        let zero = Money::zero(self.config.currency);
        let mut s = SettlementSummary {
            debit_count: 0,
            debit_amount: zero,
            credit_count: 0,
            credit_amount: zero,
        };
        let in_batch = self.state.batches.get(&batch_no).into_iter().flatten();
        for t in in_batch.map(|id| &self.state.txns[id]) {
            if t.request.batch_no != batch_no || !matches!(t.state, TxnState::Approved { .. }) {
                continue;
            }
            let status = self.status(t, now);
            if t.request.kind.is_debit() && status != Status::Voided {
                s.debit_count += 1;
                s.debit_amount = s
                    .debit_amount
                    .checked_add(t.request.amount)
                    .unwrap_or(s.debit_amount);
            } else if t.request.kind == Kind::Refund && t.request.fallback.is_none() {
                s.credit_count += 1;
                s.credit_amount = s
                    .credit_amount
                    .checked_add(t.request.amount)
                    .unwrap_or(s.credit_amount);
            }
        }
        s
    }

    /// Hands in the host's reply. One that cannot be read
    /// ([`HostReply::check`]) changes nothing: `REPLY_MALFORMED`.
    pub fn handle_reply(
        &mut self,
        reply: &HostReply,
        now: Timestamp,
    ) -> Result<ReplyEffect, PosError> {
        self.check_running()?;
        reply.check().map_err(|why| PosError::ReplyMalformed {
            trace_no: reply.trace_no.to_string(),
            why,
        })?;
        if let Some(purpose) = self.state.outstanding {
            let expected = self.exchange_request(purpose, now);
            if reply.trace_no == expected.trace_no && reply.message == expected.message {
                if reply.amount.is_some() && reply.amount != expected.amount {
                    return Err(PosError::ReplyUnmatched {
                        trace_no: reply.trace_no.to_string(),
                        why: format!(
                            "amount {:?}, expected {:?}",
                            reply.amount.map(|m| m.to_string()),
                            expected.amount.map(|m| m.to_string())
                        ),
                    });
                }
                self.append(Record::Answered {
                    purpose,
                    code: reply.code.clone(),
                    rrn: reply.rrn.clone(),
                    auth_code: reply.auth_code.clone(),
                    balanced: reply.balanced,
                    at: now,
                });
                self.after_reversal_attempt(purpose, now);
                self.debug_check();
                return Ok(ReplyEffect::Applied);
            }
        }
        // Not the outstanding exchange: a repeat, or a late arrival.
        let kind_matches = |t: &&Transaction| {
            t.request.trace_no == reply.trace_no
                && (message_type(t.request.kind) == reply.message
                    || matches!(reply.message, MessageType::Reversal | MessageType::Query))
        };
        let Some(t) = self.with_trace(reply.trace_no).rev().find(kind_matches) else {
            return Err(PosError::ReplyUnmatched {
                trace_no: reply.trace_no.to_string(),
                why: "no request with this trace number and type".into(),
            });
        };
        let txn = t.id;
        match (&t.state, reply.message == message_type(t.request.kind)) {
            (TxnState::Approved { rrn, .. }, true)
                if classify(&reply.code) == ResponseClass::Approved && *rrn == reply.rrn =>
            {
                Ok(ReplyEffect::Duplicate)
            }
            (TxnState::Declined { code }, true) if *code == reply.code => {
                Ok(ReplyEffect::Duplicate)
            }
            (TxnState::Reversed { .. }, false) => Ok(ReplyEffect::Duplicate),
            _ => {
                self.append(Record::LateReply {
                    txn,
                    code: reply.code.clone(),
                    at: now,
                });
                Ok(ReplyEffect::Late)
            }
        }
    }

    /// Hands in everything one exchange produced: the replies that came (a
    /// duplicated reply comes twice), or why none did. A reply that does not
    /// resolve the outstanding exchange leaves its outcome unknown, so the
    /// exchange is then treated as unanswered (a transport error): in doubt,
    /// never declined. Both drivers (native and wasm) call this.
    pub fn handle_exchange(&mut self, outcome: Result<Vec<HostReply>, NoReply>, now: Timestamp) {
        let outstanding = self.state.outstanding;
        match outcome {
            Ok(replies) => {
                for reply in &replies {
                    // Unmatched replies change nothing; the check below
                    // decides what their exchange became.
                    let _ = self.handle_reply(reply, now);
                }
            }
            Err(cause) => {
                let _ = self.handle_no_reply(cause, now);
            }
        }
        if outstanding.is_some() && self.state.outstanding == outstanding {
            let _ = self.handle_no_reply(NoReply::TransportError, now);
        }
    }

    /// Says that no reply came to the outstanding exchange.
    pub fn handle_no_reply(&mut self, cause: NoReply, now: Timestamp) -> Result<(), PosError> {
        self.check_running()?;
        let purpose = self
            .state
            .outstanding
            .ok_or_else(|| PosError::ReplyUnmatched {
                trace_no: "------".into(),
                why: "nothing is outstanding".into(),
            })?;
        self.no_reply(purpose, cause, now);
        self.debug_check();
        Ok(())
    }

    fn no_reply(&mut self, purpose: Purpose, cause: NoReply, now: Timestamp) {
        self.append(Record::Unanswered {
            purpose,
            cause,
            at: now,
        });
        self.after_reversal_attempt(purpose, now);
    }

    /// After the policy's number of failed reversals, manual review.
    fn after_reversal_attempt(&mut self, purpose: Purpose, now: Timestamp) {
        let Purpose::Reversal { txn, .. } = purpose else {
            return;
        };
        if let TxnState::InDoubt {
            failed_reversals, ..
        } = self.state.txns[&txn].state
        {
            if failed_reversals >= self.config.policy.reversal_attempts {
                self.append(Record::ManualReview { txn, at: now });
            }
        }
    }

    /// Stops the terminal and hands back its journal: a caller that
    /// reopens it (the simulator's restarts) need not copy every entry.
    pub fn into_journal(self) -> Journal<Record> {
        self.journal
    }

    // ----- invariants --------------------------------------------------

    fn debug_check(&self) {
        debug_assert_eq!(self.check_invariants(Timestamp(i64::MAX / 2)), Ok(()));
    }

    /// DESIGN.md's invariants that hold on one terminal's state; tests call
    /// this after every step. Returns the first violation found.
    pub fn check_invariants(&self, now: Timestamp) -> Result<(), String> {
        for t in self.state.txns.values() {
            self.check_txn_invariants(t, now)?;
        }
        for ids in self.state.voucher_refunds.values() {
            self.check_voucher_headroom(ids)?;
        }
        self.check_no_request_while_in_doubt()
    }

    /// [`Terminal::check_invariants`] after a step whose journal records
    /// named only the transactions in `changed` (see [`Record::txn`]; every
    /// record that changes a transaction names it): the same checks, on
    /// every transaction whose checks read a changed one, so it finds a
    /// violation the step caused in time proportional to what the step
    /// touched, not to the journal. The caller runs the full check when
    /// state changed otherwise (a restart, which replays) and at the end.
    ///
    /// Why this covers it: a transaction's checks read only itself, its
    /// original, its children and grandchildren (refund headroom; pre-auth
    /// endings through completion voids), its siblings (a fallback's earlier
    /// refunds) and the refunds of its voucher. The first four all lie in
    /// the family under its root original, so a changed transaction's whole
    /// family is checked, and its voucher's refunds; invariant 4 reads only
    /// what is outstanding and is checked whole.
    pub fn check_invariants_of(&self, changed: &[TxnId], now: Timestamp) -> Result<(), String> {
        let mut roots = Vec::with_capacity(changed.len());
        for id in changed {
            let mut t = self
                .state
                .txns
                .get(id)
                .ok_or_else(|| format!("{id} changed but is missing"))?;
            if let Some(ids) = t
                .request
                .voucher
                .as_ref()
                .and_then(|v| self.state.voucher_refunds.get(&v.rrn))
            {
                for r in ids {
                    self.check_txn_invariants(&self.state.txns[r], now)?;
                }
                self.check_voucher_headroom(ids)?;
            }
            while let Some(o) = t.request.original.and_then(|o| self.state.txns.get(&o)) {
                t = o;
            }
            roots.push(t.id);
        }
        roots.sort_unstable();
        roots.dedup();
        let mut family = roots;
        while let Some(id) = family.pop() {
            self.check_txn_invariants(&self.state.txns[&id], now)?;
            family.extend(self.state.children.get(&id).into_iter().flatten());
        }
        self.check_no_request_while_in_doubt()
    }

    /// The invariants of one transaction, as `check_invariants` runs them.
    fn check_txn_invariants(&self, t: &Transaction, now: Timestamp) -> Result<(), String> {
        // 1. Approved + pending + in-doubt refunds ≤ the original.
        let used = self
            .live_refunds(t.id)
            .fold(Money::zero(t.request.amount.currency()), |acc, r| {
                acc.checked_add(r.request.amount).unwrap_or(acc)
            });
        if used > t.request.amount {
            return Err(format!(
                "{}: refunds {used} exceed {}",
                t.id, t.request.amount
            ));
        }
        // 5. A void only in its original's batch; a pre-auth ends once.
        if matches!(t.request.kind, Kind::Void | Kind::CompletionVoid)
            && matches!(t.state, TxnState::Approved { .. })
        {
            let o = &self.state.txns[&t.request.original.expect("voids have originals")];
            if o.request.batch_no != t.request.batch_no {
                return Err(format!("{}: void outside its original's batch", t.id));
            }
        }
        if t.request.kind == Kind::PreAuth {
            let endings = self
                .children(t.id)
                .filter(|c| {
                    matches!(c.state, TxnState::Approved { .. })
                        && matches!(
                            c.request.kind,
                            Kind::Completion | Kind::CompletionAdvice | Kind::PreAuthCancel
                        )
                        && self.status(c, now) != Status::Voided
                })
                .count();
            if endings > 1 {
                return Err(format!("{}: pre-auth ended {endings} times", t.id));
            }
        }
        // 6. A fallback only once the original route was closed or ruled
        // out, never while a refund of the same original was in doubt.
        if let Some(f) = &t.request.fallback {
            if f.reasons.is_empty() {
                return Err(format!("{}: fallback without a closing reason", t.id));
            }
            let unresolved_before = self.siblings(t).any(|s| {
                s.id < t.id
                    && matches!(
                        s.state,
                        TxnState::Sent | TxnState::InDoubt { .. } | TxnState::ManualReview { .. }
                    )
            });
            if unresolved_before {
                return Err(format!("{}: fallback while a refund was in doubt", t.id));
            }
        }
        // 9. Only masked card numbers.
        let m = &t.request.card.masked_pan;
        if m.len() < 10 || m[6..m.len() - 4].bytes().any(|b| b != b'*') {
            return Err(format!("{}: card number not masked", t.id));
        }
        Ok(())
    }

    /// 1, for an original known only by its voucher: its refunds `ids`.
    fn check_voucher_headroom(&self, ids: &[TxnId]) -> Result<(), String> {
        let refunds: Vec<&Transaction> = ids.iter().map(|id| &*self.state.txns[id]).collect();
        let Some(v) = refunds[0].request.voucher.as_ref() else {
            return Err("voucher refund without its voucher".into());
        };
        let used = refunds
            .iter()
            .filter(|r| self.consumes_headroom(r))
            .fold(Money::zero(v.amount.currency()), |acc, r| {
                acc.checked_add(r.request.amount).unwrap_or(acc)
            });
        if used > v.amount {
            return Err(format!(
                "voucher {}: refunds {used} exceed {}",
                v.rrn, v.amount
            ));
        }
        Ok(())
    }

    /// 4. No new financial request while another is in doubt or in review.
    fn check_no_request_while_in_doubt(&self) -> Result<(), String> {
        let Some(Purpose::Request { txn }) = self.state.outstanding else {
            return Ok(());
        };
        let other = self.state.txns.values().any(|t| {
            t.id != txn
                && matches!(
                    t.state,
                    TxnState::InDoubt { .. } | TxnState::ManualReview { .. }
                )
        });
        if other {
            return Err("a financial request is outstanding while another is in doubt".into());
        }
        Ok(())
    }
}

struct Planned {
    kind: Kind,
    amount: Money,
    original: Option<TxnId>,
    approvals_needed: usize,
    reason: Option<String>,
    fallback: Option<FallbackRecord>,
    voucher: Option<Voucher>,
}

/// What the host is told of an original known only from its voucher.
fn voucher_ref(v: &Voucher, policy: &Policy) -> OriginalRef {
    let midnight =
        v.date.to_days() * crate::time::DAY_MS - i64::from(policy.utc_offset_minutes) * 60_000;
    OriginalRef {
        message: MessageType::Sale,
        trace_no: v.trace_no,
        batch_no: v.batch_no,
        amount: v.amount,
        rrn: Some(v.rrn.clone()),
        auth_code: v.auth_code.clone(),
        at: Timestamp(midnight),
    }
}

/// The host message for a transaction kind.
pub fn message_type(kind: Kind) -> MessageType {
    match kind {
        Kind::Sale => MessageType::Sale,
        Kind::Void => MessageType::Void,
        Kind::Refund => MessageType::Refund,
        Kind::PreAuth => MessageType::PreAuth,
        Kind::PreAuthCancel => MessageType::PreAuthCancel,
        Kind::Completion => MessageType::Completion,
        Kind::CompletionAdvice => MessageType::CompletionAdvice,
        Kind::CompletionVoid => MessageType::CompletionVoid,
    }
}

fn command_amount(command: &Command) -> Option<Money> {
    match command {
        Command::Sale { amount, .. }
        | Command::PreAuth { amount, .. }
        | Command::Complete { amount, .. } => Some(*amount),
        Command::Refund { plan, .. } => Some(plan.amount()),
        Command::Void { .. } | Command::CancelPreAuth { .. } => None,
    }
}

fn command_card(command: &Command) -> Option<&Card> {
    match command {
        Command::Sale { card, .. } | Command::PreAuth { card, .. } => Some(card),
        Command::Void { .. }
        | Command::Refund { .. }
        | Command::Complete { .. }
        | Command::CancelPreAuth { .. } => None,
    }
}

fn command_approvals(command: &Command) -> &[ApprovalInput] {
    match command {
        Command::Void { approvals, .. } | Command::Refund { approvals, .. } => approvals,
        Command::Sale { .. }
        | Command::PreAuth { .. }
        | Command::Complete { .. }
        | Command::CancelPreAuth { .. } => &[],
    }
}

/// The normalised parameters of a command, for idempotency (Rule 9).
/// Approvals are not part of it: the same request re-approved is the same.
fn fingerprint(command: &Command) -> String {
    match command {
        Command::Sale { amount, card } => format!("sale|{amount}|{}", card.masked_pan),
        Command::PreAuth { amount, card } => format!("pre_auth|{amount}|{}", card.masked_pan),
        Command::Void { original, .. } => format!("void|{original}"),
        Command::Refund {
            plan,
            reason,
            destination,
            ..
        } => {
            // What the caller asked, not what the planner decided: a replay
            // of the same key finds the same fingerprint even after the
            // decision has changed (the refund it made is why).
            let original = match (plan.original(), plan.voucher()) {
                (Some(id), _) => id.to_string(),
                (None, Some(v)) => format!("voucher {}", v.rrn),
                (None, None) => String::new(),
            };
            let amount = plan.requested().map_or("full".into(), |a| a.to_string());
            let route = destination
                .as_ref()
                .and_then(|d| d.route)
                .map_or("-", |r| r.as_str());
            format!("refund|{original}|{amount}|{route}|{}", reason.trim())
        }
        Command::Complete {
            original,
            amount,
            advice,
        } => format!("completion|{original}|{amount}|{advice}"),
        Command::CancelPreAuth { original } => format!("pre_auth_cancel|{original}"),
    }
}

/// Why a dismantled terminal is halted ([`Terminal::halted`]).
pub const DISMANTLED: &str = "dismantled";

/// What [`Terminal::dismantle`] took out of a terminal, freed a step at a
/// time.
#[derive(Debug)]
pub struct Dismantling {
    txns: std::collections::btree_map::IntoIter<TxnId, Box<Transaction>>,
    rrns: std::collections::btree_map::IntoIter<String, TxnId>,
    keys: std::collections::hash_map::IntoIter<String, TxnId>,
    traces: std::collections::hash_map::IntoIter<TraceNo, Vec<TxnId>>,
    entries: std::vec::IntoIter<Entry<Record>>,
}

impl Dismantling {
    /// Frees up to `budget` items (at least one); `true` once none is left.
    pub fn step(&mut self, budget: usize) -> bool {
        fn free(left: &mut usize, items: &mut impl Iterator) {
            while *left > 0 && items.next().is_some() {
                *left -= 1;
            }
        }
        let mut left = budget.max(1);
        free(&mut left, &mut self.txns);
        free(&mut left, &mut self.rrns);
        free(&mut left, &mut self.keys);
        free(&mut left, &mut self.traces);
        free(&mut left, &mut self.entries);
        left > 0
    }
}
