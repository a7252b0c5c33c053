//! The simulated acquirer: a reference host that behaves like a real one,
//! deterministic from a seed. The demo's default host and every test's
//! counterpart.
//!
//! It keeps its own ledger of what it approved, reversed, refunded and
//! settled, keyed by terminal + batch + trace number; detects duplicates by
//! terminal + trace number within the batch (answer `94`); honours reversals
//! (`25` "not found" is a valid answer: the request never arrived); answers
//! queries from the ledger; answers settlement balanced or unbalanced by
//! comparing the terminal's counts *and* amounts with its ledger; accepts a
//! batch upload ([`SimulatedAcquirer::accept_batch_upload`]); and produces
//! the [`Statement`] that reconciliation reads. Every response code it gives
//! is classified in the one table, [`crate::host::RESPONSE_CODES`].
//!
//! Each reply carries the host's time and, on approval, an RRN (`hhmmss` of
//! the host clock + a 6-digit sequence, 12 digits) and a 6-digit auth code
//! drawn from the seed.
//!
//! # Test cards
//!
//! By the last four digits of the (masked) PAN or wallet code, except where
//! the method decides:
//!
//! | card | behaviour | code |
//! |---|---|---|
//! | `…0005` | every request refused: do not honour | `05` |
//! | `…0014` | every request refused: invalid card | `14` |
//! | `…0051` | debits (sale, pre-auth, completion) refused: insufficient funds | `51` |
//! | `…0054` | every request refused: expired card | `54` |
//! | `…0061` | debits above 1,000.00 refused: exceeds the card's limit | `61` |
//! | `…0062` | every request refused: restricted card | `62` |
//! | `…0071` | sales approved; refunds refused on the original route (the card is frozen): the refund planner reads it as "original route closed" | `62` |
//! | `…0072` | cancelled after the sale: a refund is accepted, then comes back `returned` after [`SimulatedAcquirer::set_return_delay_ms`] (default 2 days) | `00`, later returned |
//! | `…0073` | the terminal sees success, but the issuer returns the approved sale or completion when its batch settles; only the ledger and the statement show it | `00`, returned at settlement |
//! | `…0096` | every request answered "system malfunction": outcome unknown | `96` |
//! | `…0098` | the issuer approves but its answer never reaches the acquirer: the terminal is told "no reply from issuer" (outcome unknown) while the ledger holds the request approved; a query finds it approved, a reversal undoes it | `98` |
//! | BIN `621099` (prepaid, [`crate::card::PaymentMethod::Prepaid`]) | sales approved; refunds refused, the method cannot take money back | `12` |
//! | a QR wallet code ([`crate::card::Card::from_qr`]) | approved; the statement shows `qr_wallet` | `00` |
//! | a foreign card (BIN not `62…` or `9…`) | approved; the statement marks it foreign | `00` |
//! | anything else | approved | `00` |
//!
//! Whatever the card, a request acting on an original is checked against the
//! ledger first: an original the host does not hold approved (or holds
//! reversed) is `25`; a void, cancel or completion whose amount breaks the
//! rules is `13`; a second void, a void in another batch, a refund beyond the
//! original or of a voided original, or a second ending of a pre-auth is `12`.
//! Those cannot happen with a correct terminal, so each is also kept as an
//! [`Anomaly`] that tests and the simulator assert never appears. A request
//! without the fields its type needs is `12`.
//!
//! # Faults
//!
//! By call ([`SimulatedAcquirer::inject`], in order) or by rates drawn from
//! the seed ([`SimulatedAcquirer::set_fault_rates`]): see [`Fault`]. Late
//! replies are handed out by [`Host::take_late`] once their delay has passed.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::card::{Card, PaymentMethod};
use crate::driver::Host;
use crate::error::PosError;
use crate::host::{
    BatchNo, HostReply, HostRequest, MessageType, NoReply, OriginalRef, SettlementSummary, TraceNo,
};
use crate::money::Money;
use crate::sorted::{SortedMap, SortedSet};
use crate::tagged;
use crate::time::Timestamp;

/// A misbehaviour for the next request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The host processes the request; no reply arrives in time.
    Timeout,
    /// The host processes the request; the reply is lost.
    LostReply,
    /// The host processes the request; the reply arrives twice.
    DuplicateReply,
    /// The host processes the request; the reply arrives after the timeout,
    /// at the next [`Host::take_late`] (a delay of 0 ms).
    LateReply,
    /// The host processes the request; the reply arrives after the timeout,
    /// this many milliseconds after the request.
    LateReplyAfterMs(u32),
    /// The request never reaches the host.
    TransportError,
    /// The host refuses with this response code without processing.
    Decline(String),
    /// The host processes the request; its reply cannot be read
    /// ([`HostReply::check`]): the response code padded with a space, the
    /// RRN cut to 11 characters or an auth code of 7, drawn per reply.
    GarbledReply,
}

impl Fault {
    /// Which kind of fault this is, for counting.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Timeout => FaultKind::Timeout,
            Fault::LostReply => FaultKind::LostReply,
            Fault::DuplicateReply => FaultKind::DuplicateReply,
            Fault::LateReply | Fault::LateReplyAfterMs(_) => FaultKind::LateReply,
            Fault::TransportError => FaultKind::TransportError,
            Fault::Decline(_) => FaultKind::Decline,
            Fault::GarbledReply => FaultKind::GarbledReply,
        }
    }
}

/// The kinds of [`Fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// [`Fault::Timeout`].
    Timeout,
    /// [`Fault::LostReply`].
    LostReply,
    /// [`Fault::DuplicateReply`].
    DuplicateReply,
    /// [`Fault::LateReply`] and [`Fault::LateReplyAfterMs`].
    LateReply,
    /// [`Fault::TransportError`].
    TransportError,
    /// [`Fault::Decline`].
    Decline,
    /// [`Fault::GarbledReply`].
    GarbledReply,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Timeout,
        FaultKind::LostReply,
        FaultKind::DuplicateReply,
        FaultKind::LateReply,
        FaultKind::TransportError,
        FaultKind::Decline,
        FaultKind::GarbledReply,
    ];

    /// The snake_case name, as `inject` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Timeout => "timeout",
            FaultKind::LostReply => "lost_reply",
            FaultKind::DuplicateReply => "duplicate_reply",
            FaultKind::LateReply => "late_reply",
            FaultKind::TransportError => "transport_error",
            FaultKind::Decline => "decline",
            FaultKind::GarbledReply => "garbled_reply",
        }
    }
}

/// How many faults of each kind the host applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts([u64; 7]);

impl FaultCounts {
    /// Faults of `kind`.
    pub fn get(&self, kind: FaultKind) -> u64 {
        self.0[kind as usize]
    }

    /// All faults.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &FaultCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    fn bump(&mut self, kind: FaultKind) {
        self.0[kind as usize] += 1;
    }
}

/// A probability in thousandths (‰), 0–1000: integer, so a seed gives the
/// same draws on every platform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Permille(pub u16);

/// Fault rates applied to every request that has no fault queued by
/// [`SimulatedAcquirer::inject`]. One draw per request picks at most one
/// fault, so the rates add up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FaultRates {
    /// Processed, no reply in time.
    pub timeout: Permille,
    /// Processed, reply lost.
    pub lost_reply: Permille,
    /// Processed, reply twice.
    pub duplicate: Permille,
    /// Processed, reply after the timeout (a delay drawn from
    /// [`LATE_REPLY_MS`]).
    pub late: Permille,
    /// Never reaches the host.
    pub transport: Permille,
    /// Processed, a reply that cannot be read.
    pub garbled: Permille,
}

/// The range of delays of a late reply drawn by rate, in milliseconds: from
/// just after the terminal gave up to a few minutes later.
pub const LATE_REPLY_MS: std::ops::RangeInclusive<u32> = 1..=180_000;

/// Most timeouts plus lost replies a rate may ask for: 30 % (issue 5).
pub const MAX_TIMEOUT_AND_LOST: Permille = Permille(300);

/// Most duplicated replies a rate may ask for: 50 % (issue 5).
pub const MAX_DUPLICATE: Permille = Permille(500);

impl FaultRates {
    /// No faults.
    pub const NONE: FaultRates = FaultRates {
        timeout: Permille(0),
        lost_reply: Permille(0),
        duplicate: Permille(0),
        late: Permille(0),
        transport: Permille(0),
        garbled: Permille(0),
    };

    /// Checks the bounds: timeouts + lost replies ≤ 30 %, duplicates ≤ 50 %,
    /// all together ≤ 100 %.
    pub fn validate(&self) -> Result<(), PosError> {
        let sum = |xs: &[Permille]| xs.iter().map(|p| u32::from(p.0)).sum::<u32>();
        if sum(&[self.timeout, self.lost_reply]) > u32::from(MAX_TIMEOUT_AND_LOST.0) {
            return Err(PosError::invalid_input(
                "rates.timeout + rates.lostReply",
                "at most 300 per mille",
                &sum(&[self.timeout, self.lost_reply]).to_string(),
            ));
        }
        if self.duplicate > MAX_DUPLICATE {
            return Err(PosError::invalid_input(
                "rates.duplicate",
                "at most 500 per mille",
                &self.duplicate.0.to_string(),
            ));
        }
        let all = sum(&[
            self.timeout,
            self.lost_reply,
            self.duplicate,
            self.late,
            self.transport,
            self.garbled,
        ]);
        if all > 1000 {
            return Err(PosError::invalid_input(
                "rates",
                "at most 1000 per mille in all",
                &all.to_string(),
            ));
        }
        Ok(())
    }
}

/// Why an approved posting came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnReason {
    /// The issuer returned the money (test card `…0073`).
    IssuerReturned,
    /// The card was cancelled after the sale; the refund bounced (`…0072`).
    CardCancelled,
    /// The batch settled unbalanced and was never uploaded, or the upload
    /// left this posting out: the merchant is not paid for it.
    BatchNotUploaded,
}

/// One posting in the acquirer's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Posting {
    /// Terminal id.
    pub terminal_id: String,
    /// Batch.
    pub batch_no: BatchNo,
    /// Trace number.
    pub trace_no: TraceNo,
    /// What it was.
    pub message: MessageType,
    /// Amount.
    pub amount: Option<Money>,
    /// The card, masked.
    pub card: Option<Card>,
    /// The original it acted on (void, refund, completion, cancel).
    pub original: Option<(BatchNo, TraceNo)>,
    /// The answer given.
    pub code: String,
    /// RRN given.
    pub rrn: Option<String>,
    /// Auth code given.
    pub auth_code: Option<String>,
    /// Undone by a reversal.
    pub reversed: bool,
    /// Approved, but the money came back later: the issuer returned it (a
    /// card cancelled after the sale) or the batch was never uploaded. The
    /// terminal saw success; only the statement shows this.
    pub returned: bool,
    /// Why it came back, once it has.
    pub return_reason: Option<ReturnReason>,
    /// When it will come back, if it is going to (card `…0072`).
    pub returns_at: Option<Timestamp>,
    /// When.
    pub at: Timestamp,
}

impl Posting {
    /// Whether it stands: approved and not reversed (it may still have come
    /// back `returned`; the terminal saw it approved all the same).
    pub fn stands(&self) -> bool {
        self.code == "00" && !self.reversed
    }
}

/// Something the host saw that a correct terminal never sends: a second
/// void, a refund beyond its original, a second ending of a pre-auth, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// Terminal id.
    pub terminal_id: String,
    /// Batch of the request.
    pub batch_no: BatchNo,
    /// Trace number of the request.
    pub trace_no: TraceNo,
    /// What was wrong.
    pub what: String,
}

pub use crate::host::UploadRecord;

/// What a batch upload changed in the acquirer's view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadOutcome {
    /// Records the ledger already held the same way.
    pub matched: u32,
    /// Records the ledger held otherwise (declined, reversed, another
    /// amount) and now holds as uploaded.
    pub adjusted: u32,
    /// Records the ledger lacked (an advice that never arrived) and now
    /// holds.
    pub added: u32,
    /// Postings the upload left out: returned, the merchant is not paid.
    pub dropped: u32,
}

/// How a statement line ended. Deserialize is by hand, below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LineStatus {
    /// Approved and standing.
    Approved,
    /// Refused with this code.
    Declined {
        /// The response code.
        code: String,
    },
    /// Undone by a reversal.
    Reversed,
    /// Approved, then the money came back.
    Returned {
        /// Why.
        reason: ReturnReason,
    },
}

/// One line of the acquirer's statement file. Deserialize is by hand,
/// below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementLine {
    /// Batch.
    pub batch_no: BatchNo,
    /// Trace number.
    pub trace_no: TraceNo,
    /// What it was.
    pub message: MessageType,
    /// Amount.
    pub amount: Option<Money>,
    /// The card, masked.
    pub masked_pan: Option<String>,
    /// How it paid.
    pub method: Option<PaymentMethod>,
    /// Issued abroad.
    pub foreign: bool,
    /// RRN.
    pub rrn: Option<String>,
    /// Auth code.
    pub auth_code: Option<String>,
    /// How it ended.
    #[serde(flatten)]
    pub status: LineStatus,
    /// When the host processed it.
    pub at: Timestamp,
}

// Statement lines and their statuses are read by hand: serde's derive for
// a flattened, internally tagged enum buffers every line into its `Content`
// tree and reads it again, code that was among the largest in the wasm.
// `LineFields` and `StatusFields` mirror the lines' flat JSON only to derive
// a plain struct reader; the guard names every status, so a new one fails
// to compile until it is read.

/// A line's `"status"`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum StatusName {
    Approved,
    Declined,
    Reversed,
    Returned,
}

const _: fn(&LineStatus) -> StatusName = |status| match status {
    LineStatus::Approved => StatusName::Approved,
    LineStatus::Declined { .. } => StatusName::Declined,
    LineStatus::Reversed => StatusName::Reversed,
    LineStatus::Returned { .. } => StatusName::Returned,
};

#[derive(Deserialize)]
struct StatusFields {
    status: StatusName,
    code: Option<String>,
    reason: Option<ReturnReason>,
}

impl StatusFields {
    /// The status, which has a code if and only if it is declined and a
    /// reason if and only if it is returned.
    fn status<E: serde::de::Error>(self) -> Result<LineStatus, E> {
        let StatusFields {
            status,
            mut code,
            mut reason,
        } = self;
        let status = match status {
            StatusName::Approved => LineStatus::Approved,
            StatusName::Declined => LineStatus::Declined {
                code: code.take().ok_or_else(|| E::missing_field("code"))?,
            },
            StatusName::Reversed => LineStatus::Reversed,
            StatusName::Returned => LineStatus::Returned {
                reason: reason.take().ok_or_else(|| E::missing_field("reason"))?,
            },
        };
        if code.is_some() {
            return Err(E::custom(r#"only a "declined" line has a code"#));
        }
        if reason.is_some() {
            return Err(E::custom(r#"only a "returned" line has a reason"#));
        }
        Ok(status)
    }
}

impl<'de> Deserialize<'de> for LineStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::from_object::<StatusFields, _>(deserializer, "a line status")?.status()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineFields {
    batch_no: BatchNo,
    trace_no: TraceNo,
    message: MessageType,
    amount: Option<Money>,
    masked_pan: Option<String>,
    method: Option<PaymentMethod>,
    foreign: bool,
    rrn: Option<String>,
    auth_code: Option<String>,
    status: StatusName,
    code: Option<String>,
    reason: Option<ReturnReason>,
    at: Timestamp,
}

impl<'de> Deserialize<'de> for StatementLine {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let LineFields {
            batch_no,
            trace_no,
            message,
            amount,
            masked_pan,
            method,
            foreign,
            rrn,
            auth_code,
            status,
            code,
            reason,
            at,
        } = tagged::from_object(deserializer, "a statement line")?;
        let status = StatusFields {
            status,
            code,
            reason,
        }
        .status()?;
        Ok(StatementLine {
            batch_no,
            trace_no,
            message,
            amount,
            masked_pan,
            method,
            foreign,
            rrn,
            auth_code,
            status,
            at,
        })
    }
}

/// A batch as the acquirer settled it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementBatch {
    /// Batch.
    pub batch_no: BatchNo,
    /// Whether the terminal's totals agreed at settlement.
    pub balanced: bool,
    /// Whether a batch upload was accepted after an unbalanced settlement.
    pub uploaded: bool,
}

/// The statement file for one terminal, for reconciliation (对账). A
/// documented serde structure until the settlement issue fixes the format:
/// `{ terminalId, lines: [{ batchNo, traceNo, message, amount, maskedPan,
/// method, foreign, rrn, authCode, status, code?, reason?, at }], batches:
/// [{ batchNo, balanced, uploaded }] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    /// Terminal id.
    pub terminal_id: String,
    /// Every posting, in batch and trace order.
    pub lines: Vec<StatementLine>,
    /// Every settled batch.
    pub batches: Vec<StatementBatch>,
}

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same RRNs, auth codes and fault draws on every platform.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift: no modulo bias worth the name at these n.
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: Permille) -> bool {
        self.below(1000) < u64::from(p.0)
    }
}

/// What a test card does, by the last four digits (the module doc's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardRule {
    /// Every request refused with this code.
    RefuseAll(&'static str),
    /// Debits refused with this code.
    RefuseDebits(&'static str),
    /// Debits above the limit (in whole yuan) refused with this code.
    DebitLimit(i64, &'static str),
    /// Refunds refused with this code.
    RefuseRefunds(&'static str),
    /// Refunds accepted, then returned after the return delay.
    RefundsReturn,
    /// Approved debits returned when their batch settles.
    ReturnedAtSettlement,
    /// Processed and approved, but the terminal is told this unknown code.
    ApprovedButUnknown(&'static str),
}

const TEST_CARDS: [(&str, CardRule); 11] = [
    ("0005", CardRule::RefuseAll("05")),
    ("0014", CardRule::RefuseAll("14")),
    ("0051", CardRule::RefuseDebits("51")),
    ("0054", CardRule::RefuseAll("54")),
    ("0061", CardRule::DebitLimit(1000, "61")),
    ("0062", CardRule::RefuseAll("62")),
    ("0071", CardRule::RefuseRefunds("62")),
    ("0072", CardRule::RefundsReturn),
    ("0073", CardRule::ReturnedAtSettlement),
    ("0096", CardRule::RefuseAll("96")),
    ("0098", CardRule::ApprovedButUnknown("98")),
];

/// The response code the host gives a refund on a prepaid card: the method
/// cannot take money back.
const PREPAID_REFUND_CODE: &str = "12";

fn card_rule(card: Option<&Card>) -> Option<CardRule> {
    let pan = &card?.masked_pan;
    let last4 = &pan[pan.len().saturating_sub(4)..];
    TEST_CARDS
        .iter()
        .find(|(digits, _)| *digits == last4)
        .map(|(_, rule)| *rule)
}

type Key = (String, BatchNo, TraceNo);

/// The default delay before a refund to a cancelled card comes back.
pub const DEFAULT_RETURN_DELAY_MS: i64 = 2 * crate::time::DAY_MS;

/// The simulated acquirer host.
#[derive(Debug, Clone)]
pub struct SimulatedAcquirer {
    rng: SplitMix64,
    fault_rng: SplitMix64,
    ledger: BTreeMap<Key, Posting>,
    /// Original → its children's (batch, trace).
    children: BTreeMap<Key, Vec<(BatchNo, TraceNo)>>,
    faults: VecDeque<Fault>,
    rates: FaultRates,
    /// Replies held back, by when they are due (those due at the same time
    /// in the order they were held).
    late: Vec<(Timestamp, HostReply)>,
    next_rrn: u64,
    /// Batches settled, with whether they balanced (each settlement request,
    /// in order; a batch settled again after a lost reply appears again).
    pub settled: Vec<(String, BatchNo, bool)>,
    /// The batches uploaded, by terminal and batch.
    uploaded: SortedSet<(String, BatchNo)>,
    /// Batch-upload chunks received, by terminal and batch, until the end.
    uploads: SortedMap<(String, BatchNo), SortedMap<TraceNo, UploadRecord>>,
    applied: FaultCounts,
    anomalies: Vec<Anomaly>,
    touched: Vec<Key>,
    return_delay_ms: i64,
    pending_returns: usize,
}

impl SimulatedAcquirer {
    /// A host whose RRNs, auth codes and fault draws follow from `seed`.
    pub fn new(seed: u64) -> SimulatedAcquirer {
        SimulatedAcquirer {
            rng: SplitMix64(seed),
            fault_rng: SplitMix64(seed ^ 0xF417_5EED_0000_0005),
            ledger: BTreeMap::new(),
            children: BTreeMap::new(),
            faults: VecDeque::new(),
            rates: FaultRates::NONE,
            late: Vec::new(),
            next_rrn: 1,
            settled: Vec::new(),
            uploaded: SortedSet::new(),
            uploads: SortedMap::new(),
            applied: FaultCounts::default(),
            anomalies: Vec::new(),
            touched: Vec::new(),
            return_delay_ms: DEFAULT_RETURN_DELAY_MS,
            pending_returns: 0,
        }
    }

    /// Queues a fault for the next request (faults apply in order, before
    /// any drawn by rate).
    pub fn inject(&mut self, fault: Fault) {
        self.faults.push_back(fault);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// Sets the fault rates drawn from the seed for requests with no queued
    /// fault ([`FaultRates::NONE`] switches them off).
    pub fn set_fault_rates(&mut self, rates: FaultRates) -> Result<(), PosError> {
        rates.validate()?;
        self.rates = rates;
        Ok(())
    }

    /// How long a refund to a cancelled card (`…0072`) takes to come back.
    pub fn set_return_delay_ms(&mut self, ms: i64) {
        self.return_delay_ms = ms.max(0);
    }

    /// Faults applied so far, by kind.
    pub fn faults_applied(&self) -> FaultCounts {
        self.applied
    }

    /// Requests a correct terminal never sends (empty, always, in tests).
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    /// The ledger, in key order.
    pub fn ledger(&self) -> impl Iterator<Item = &Posting> {
        self.ledger.values()
    }

    /// One posting.
    pub fn posting(
        &self,
        terminal_id: &str,
        batch_no: BatchNo,
        trace_no: TraceNo,
    ) -> Option<&Posting> {
        self.ledger
            .get(&(terminal_id.to_owned(), batch_no, trace_no))
    }

    /// The postings changed since the last call, as (batch, trace) with the
    /// terminal id: what a checker needs to look at again.
    pub fn take_touched(&mut self) -> Vec<(String, BatchNo, TraceNo)> {
        std::mem::take(&mut self.touched)
    }

    /// Late replies still held, whatever their delay.
    pub fn late_pending(&self) -> usize {
        self.late.len()
    }

    fn touch(&mut self, key: &Key) {
        self.touched.push(key.clone());
    }

    fn anomaly(&mut self, req: &HostRequest, what: impl Into<String>) {
        self.anomalies.push(Anomaly {
            terminal_id: req.terminal_id.clone(),
            batch_no: req.batch_no,
            trace_no: req.trace_no,
            what: what.into(),
        });
    }

    /// Marks returned what is due by `now` (refunds to cancelled cards).
    fn apply_returns(&mut self, now: Timestamp) {
        if self.pending_returns == 0 {
            return;
        }
        let mut due = Vec::new();
        for (key, p) in &mut self.ledger {
            if p.returns_at.is_some_and(|at| at <= now) {
                p.returns_at = None;
                if p.stands() {
                    p.returned = true;
                    p.return_reason = Some(ReturnReason::CardCancelled);
                }
                due.push(key.clone());
            }
        }
        self.pending_returns -= due.len();
        self.touched.extend(due);
    }

    /// Processes a request as the host would, with no fault.
    pub fn process(&mut self, req: &HostRequest, now: Timestamp) -> HostReply {
        self.apply_returns(now);
        let mut reply = HostReply {
            message: req.message,
            trace_no: req.trace_no,
            amount: req.amount,
            code: "00".into(),
            rrn: None,
            auth_code: None,
            balanced: None,
            host_time: now,
        };
        match req.message {
            MessageType::BatchUpload => {
                // Collected until the end; a repeated chunk changes nothing.
                let records = self
                    .uploads
                    .get_or_default(&(req.terminal_id.clone(), req.batch_no));
                for r in req.upload.iter().flatten() {
                    records.insert(r.trace_no, r.clone());
                }
            }
            MessageType::BatchUploadEnd => {
                let key = (req.terminal_id.clone(), req.batch_no);
                let records: Vec<UploadRecord> = self
                    .uploads
                    .remove(&key)
                    .map(|r| r.into_values().collect())
                    .unwrap_or_default();
                if !records.is_empty() || !self.uploaded.contains(&key) {
                    self.accept_batch_upload(&req.terminal_id, req.batch_no, &records, now);
                }
            }
            MessageType::Reversal | MessageType::Query => {
                let Some(o) = &req.original else {
                    reply.code = "12".into();
                    return reply;
                };
                let key = (req.terminal_id.clone(), o.batch_no, o.trace_no);
                let is_reversal = req.message == MessageType::Reversal;
                match self.ledger.get_mut(&key) {
                    // A reversal of something already reversed is answered
                    // the same way again: reversals are idempotent.
                    Some(p) if is_reversal => {
                        p.reversed = true;
                        p.returns_at = None;
                        self.touch(&key);
                    }
                    Some(p) if !p.reversed => {
                        reply.code = p.code.clone();
                        reply.rrn = p.rrn.clone();
                        reply.auth_code = p.auth_code.clone();
                    }
                    _ => reply.code = "25".into(),
                }
            }
            MessageType::Settlement => match &req.summary {
                None => reply.code = "12".into(),
                Some(summary) => reply.balanced = Some(self.settle(req, summary)),
            },
            MessageType::Sale
            | MessageType::Void
            | MessageType::Refund
            | MessageType::PreAuth
            | MessageType::PreAuthCancel
            | MessageType::Completion
            | MessageType::CompletionAdvice
            | MessageType::CompletionVoid => self.financial(req, now, &mut reply),
        }
        reply
    }

    fn financial(&mut self, req: &HostRequest, now: Timestamp, reply: &mut HostReply) {
        let key = (req.terminal_id.clone(), req.batch_no, req.trace_no);
        if self.ledger.contains_key(&key) {
            // Duplicate transmission: same terminal, same trace, same batch.
            reply.code = "94".into();
            return;
        }
        reply.code = self.decide(req).into();
        if reply.code == "00" {
            let (h, m, s) = now.local_time(8 * 60);
            reply.rrn = Some(format!(
                "{h:02}{m:02}{s:02}{:06}",
                self.next_rrn % 1_000_000
            ));
            self.next_rrn += 1;
            reply.auth_code = Some(format!("{:06}", self.rng.below(1_000_000)));
        }
        let rule = card_rule(req.card.as_ref());
        // What the ledger holds; the reply may say less (card `…0098`).
        let held = (
            reply.code.clone(),
            reply.rrn.clone(),
            reply.auth_code.clone(),
        );
        if let (Some(CardRule::ApprovedButUnknown(code)), "00") = (rule, reply.code.as_str()) {
            reply.code = code.into();
            reply.rrn = None;
            reply.auth_code = None;
        }
        let returns = held.0 == "00"
            && req.message == MessageType::Refund
            && rule == Some(CardRule::RefundsReturn);
        let original = req.original.as_ref().map(|o| (o.batch_no, o.trace_no));
        if let Some((batch, trace)) = original {
            self.children
                .entry((req.terminal_id.clone(), batch, trace))
                .or_default()
                .push((req.batch_no, req.trace_no));
        }
        if returns {
            self.pending_returns += 1;
        }
        self.ledger.insert(
            key.clone(),
            Posting {
                terminal_id: req.terminal_id.clone(),
                batch_no: req.batch_no,
                trace_no: req.trace_no,
                message: req.message,
                amount: req.amount,
                card: req.card.clone(),
                original,
                code: held.0,
                rrn: held.1,
                auth_code: held.2,
                reversed: false,
                returned: false,
                return_reason: None,
                returns_at: returns.then(|| Timestamp(now.0.saturating_add(self.return_delay_ms))),
                at: now,
            },
        );
        self.touch(&key);
    }

    /// The standing children of an original, with their messages.
    fn standing_children<'a>(
        &'a self,
        terminal_id: &'a str,
        o: (BatchNo, TraceNo),
    ) -> impl Iterator<Item = &'a Posting> + 'a {
        self.children
            .get(&(terminal_id.to_owned(), o.0, o.1))
            .into_iter()
            .flatten()
            .filter_map(move |(batch, trace)| {
                self.ledger.get(&(terminal_id.to_owned(), *batch, *trace))
            })
            .filter(|p| p.stands())
    }

    fn voided(&self, terminal_id: &str, o: (BatchNo, TraceNo)) -> bool {
        self.standing_children(terminal_id, o)
            .any(|c| matches!(c.message, MessageType::Void | MessageType::CompletionVoid))
    }

    /// Decides a financial request: the card, then the original, then the
    /// card's refund route and limit.
    fn decide(&mut self, req: &HostRequest) -> &'static str {
        let rule = card_rule(req.card.as_ref());
        let debit = matches!(
            req.message,
            MessageType::Sale | MessageType::PreAuth | MessageType::Completion
        );
        match rule {
            Some(CardRule::RefuseAll(code)) => return code,
            Some(CardRule::RefuseDebits(code)) if debit => return code,
            Some(_) | None => {}
        }
        let Some(amount) = req.amount else {
            return "12";
        };
        if req.message != MessageType::Sale && req.message != MessageType::PreAuth {
            let Some(o) = &req.original else {
                return "12";
            };
            if let Some(code) = self.check_original(req, o, amount) {
                return code;
            }
        }
        let is_refund = req.message == MessageType::Refund;
        if is_refund
            && req
                .card
                .as_ref()
                .is_some_and(|c| c.method == PaymentMethod::Prepaid)
        {
            return PREPAID_REFUND_CODE;
        }
        match rule {
            Some(CardRule::RefuseRefunds(code)) if is_refund => return code,
            Some(CardRule::DebitLimit(yuan, code))
                if debit && amount.amount() > Decimal::from(yuan) =>
            {
                return code
            }
            Some(_) | None => {}
        }
        "00"
    }

    /// The rules of a request acting on `o`; `None` when it may proceed.
    fn check_original(
        &mut self,
        req: &HostRequest,
        o: &OriginalRef,
        amount: Money,
    ) -> Option<&'static str> {
        let ok = (o.batch_no, o.trace_no);
        let tid = req.terminal_id.as_str();
        let original = self
            .ledger
            .get(&(tid.to_owned(), o.batch_no, o.trace_no))
            .filter(|p| p.stands())
            .cloned();
        let Some(original) = original else {
            return Some("25");
        };
        let original_amount = original.amount.unwrap_or(amount);
        let expected: &[MessageType] = match req.message {
            MessageType::Void => &[MessageType::Sale],
            MessageType::CompletionVoid => {
                &[MessageType::Completion, MessageType::CompletionAdvice]
            }
            MessageType::Refund => &[
                MessageType::Sale,
                MessageType::Completion,
                MessageType::CompletionAdvice,
            ],
            MessageType::PreAuthCancel
            | MessageType::Completion
            | MessageType::CompletionAdvice => &[MessageType::PreAuth],
            MessageType::Sale
            | MessageType::PreAuth
            | MessageType::Reversal
            | MessageType::Query
            | MessageType::Settlement
            | MessageType::BatchUpload
            | MessageType::BatchUploadEnd => &[],
        };
        if !expected.contains(&original.message) {
            self.anomaly(
                req,
                format!("{:?} of a {:?}", req.message, original.message),
            );
            return Some("12");
        }
        let children: Vec<Posting> = self.standing_children(tid, ok).cloned().collect();
        let voided = self.voided(tid, ok);
        match req.message {
            MessageType::Void | MessageType::CompletionVoid => {
                if amount != original_amount {
                    self.anomaly(req, "void for another amount than its original");
                    return Some("13");
                }
                if original.batch_no != req.batch_no {
                    self.anomaly(req, "void of an original in a settled batch");
                    return Some("12");
                }
                if voided {
                    self.anomaly(req, "second void of one original");
                    return Some("12");
                }
                if children.iter().any(|c| c.message == MessageType::Refund) {
                    self.anomaly(req, "void of an original with refunds");
                    return Some("12");
                }
            }
            MessageType::Refund => {
                if voided {
                    self.anomaly(req, "refund of a voided original");
                    return Some("12");
                }
                let refunded = children
                    .iter()
                    .filter(|c| c.message == MessageType::Refund && !c.returned)
                    .filter_map(|c| c.amount)
                    .try_fold(amount, Money::checked_add);
                if refunded.map_or(true, |total| total > original_amount) {
                    self.anomaly(req, "refunds beyond the original");
                    return Some("13");
                }
            }
            MessageType::PreAuthCancel
            | MessageType::Completion
            | MessageType::CompletionAdvice => {
                let too_much = if req.message == MessageType::PreAuthCancel {
                    amount != original_amount
                } else {
                    amount > original_amount.percent(Decimal::new(115, 0))
                };
                if too_much {
                    self.anomaly(req, "amount outside the pre-auth's rules");
                    return Some("13");
                }
                let ended = children.iter().any(|c| match c.message {
                    MessageType::PreAuthCancel => true,
                    MessageType::Completion | MessageType::CompletionAdvice => {
                        !self.voided(tid, (c.batch_no, c.trace_no))
                    }
                    _ => false,
                });
                if ended {
                    self.anomaly(req, "second ending of a pre-auth");
                    return Some("12");
                }
            }
            MessageType::Sale
            | MessageType::PreAuth
            | MessageType::Reversal
            | MessageType::Query
            | MessageType::Settlement
            | MessageType::BatchUpload
            | MessageType::BatchUploadEnd => {}
        }
        None
    }

    /// The host's totals of a batch, as the terminal computes its own:
    /// standing debits (sales, completions) not voided, standing refunds.
    pub fn totals(&self, terminal_id: &str, batch_no: BatchNo, zero: Money) -> SettlementSummary {
        let mut s = SettlementSummary {
            debit_count: 0,
            debit_amount: zero,
            credit_count: 0,
            credit_amount: zero,
        };
        let from = (terminal_id.to_owned(), batch_no, TraceNo::FIRST);
        let to = (terminal_id.to_owned(), batch_no, TraceNo::LAST);
        for p in self.ledger.range(from..=to).map(|(_, p)| p) {
            if !p.stands() {
                continue;
            }
            let amount = p.amount.unwrap_or(zero);
            match p.message {
                MessageType::Sale | MessageType::Completion | MessageType::CompletionAdvice => {
                    if !self.voided(terminal_id, (p.batch_no, p.trace_no)) {
                        s.debit_count += 1;
                        s.debit_amount =
                            s.debit_amount.checked_add(amount).unwrap_or(s.debit_amount);
                    }
                }
                MessageType::Refund => {
                    s.credit_count += 1;
                    s.credit_amount = s
                        .credit_amount
                        .checked_add(amount)
                        .unwrap_or(s.credit_amount);
                }
                MessageType::Void
                | MessageType::PreAuth
                | MessageType::PreAuthCancel
                | MessageType::CompletionVoid
                | MessageType::Reversal
                | MessageType::Query
                | MessageType::Settlement
                | MessageType::BatchUpload
                | MessageType::BatchUploadEnd => {}
            }
        }
        s
    }

    /// Settles a batch: balanced when the terminal's counts and amounts
    /// equal the ledger's. The issuer then returns what test card `…0073`
    /// paid in this batch.
    fn settle(&mut self, req: &HostRequest, summary: &SettlementSummary) -> bool {
        let zero = Money::zero(summary.debit_amount.currency());
        let balanced = self.totals(&req.terminal_id, req.batch_no, zero) == *summary;
        self.settled
            .push((req.terminal_id.clone(), req.batch_no, balanced));
        let from = (req.terminal_id.clone(), req.batch_no, TraceNo::FIRST);
        let to = (req.terminal_id.clone(), req.batch_no, TraceNo::LAST);
        let mut returned = Vec::new();
        for (key, p) in self.ledger.range_mut(from..=to) {
            let debit = matches!(
                p.message,
                MessageType::Sale | MessageType::Completion | MessageType::CompletionAdvice
            );
            if debit
                && p.stands()
                && !p.returned
                && card_rule(p.card.as_ref()) == Some(CardRule::ReturnedAtSettlement)
            {
                p.returned = true;
                p.return_reason = Some(ReturnReason::IssuerReturned);
                returned.push(key.clone());
            }
        }
        self.touched.extend(returned);
        balanced
    }

    /// 批上送: takes the terminal's approved records of a batch after an
    /// unbalanced settlement and makes the acquirer's view agree with them.
    /// A record the ledger lacks is added (an advice that never arrived); one
    /// it holds otherwise is taken as uploaded; a standing posting the
    /// upload leaves out is returned (the merchant does not claim it). The
    /// batch then counts as balanced and uploaded.
    pub fn accept_batch_upload(
        &mut self,
        terminal_id: &str,
        batch_no: BatchNo,
        records: &[UploadRecord],
        now: Timestamp,
    ) -> UploadOutcome {
        let mut outcome = UploadOutcome::default();
        let mut claimed = SortedSet::new();
        for r in records {
            let key = (terminal_id.to_owned(), batch_no, r.trace_no);
            claimed.insert(r.trace_no);
            match self.ledger.get_mut(&key) {
                Some(p) if p.stands() && p.message == r.message && p.amount == Some(r.amount) => {
                    outcome.matched += 1;
                }
                Some(p) => {
                    p.message = r.message;
                    p.amount = Some(r.amount);
                    p.code = "00".into();
                    p.reversed = false;
                    p.rrn = p.rrn.clone().or_else(|| r.rrn.clone());
                    p.auth_code = p.auth_code.clone().or_else(|| r.auth_code.clone());
                    outcome.adjusted += 1;
                }
                None => {
                    if let Some((ob, ot)) = r.original {
                        self.children
                            .entry((terminal_id.to_owned(), ob, ot))
                            .or_default()
                            .push((batch_no, r.trace_no));
                    }
                    self.ledger.insert(
                        key.clone(),
                        Posting {
                            terminal_id: terminal_id.to_owned(),
                            batch_no,
                            trace_no: r.trace_no,
                            message: r.message,
                            amount: Some(r.amount),
                            card: None,
                            original: r.original,
                            code: "00".into(),
                            rrn: r.rrn.clone(),
                            auth_code: r.auth_code.clone(),
                            reversed: false,
                            returned: false,
                            return_reason: None,
                            returns_at: None,
                            at: now,
                        },
                    );
                    outcome.added += 1;
                }
            }
            self.touch(&key);
        }
        let from = (terminal_id.to_owned(), batch_no, TraceNo::FIRST);
        let to = (terminal_id.to_owned(), batch_no, TraceNo::LAST);
        let mut dropped = Vec::new();
        for (key, p) in self.ledger.range_mut(from..=to) {
            let financial = !matches!(
                p.message,
                MessageType::Reversal | MessageType::Query | MessageType::Settlement
            );
            if financial && p.stands() && !p.returned && !claimed.contains(&p.trace_no) {
                p.returned = true;
                p.return_reason = Some(ReturnReason::BatchNotUploaded);
                dropped.push(key.clone());
            }
        }
        outcome.dropped = dropped.len() as u32;
        self.touched.extend(dropped);
        self.uploaded.insert((terminal_id.to_owned(), batch_no));
        self.settled.push((terminal_id.to_owned(), batch_no, true));
        outcome
    }

    /// The statement file for `terminal_id` as of `now`. A batch that
    /// settled unbalanced and was never uploaded is not paid: its standing
    /// postings show (and from now on are) returned.
    pub fn statement(&mut self, terminal_id: &str, now: Timestamp) -> Statement {
        self.apply_returns(now);
        let mut batches: SortedMap<BatchNo, StatementBatch> = SortedMap::new();
        for (tid, batch_no, balanced) in &self.settled {
            if tid == terminal_id {
                let uploaded = self.uploaded.contains(&(tid.clone(), *batch_no));
                // The latest settlement of a batch is what counts.
                batches.insert(
                    *batch_no,
                    StatementBatch {
                        batch_no: *batch_no,
                        balanced: *balanced,
                        uploaded,
                    },
                );
            }
        }
        let unpaid: SortedSet<BatchNo> = batches
            .values()
            .filter(|b| !b.balanced && !b.uploaded)
            .map(|b| b.batch_no)
            .collect();
        let mut lines = Vec::new();
        let mut returned = Vec::new();
        for (key, p) in self.ledger.iter_mut() {
            if p.terminal_id != terminal_id {
                continue;
            }
            if unpaid.contains(&p.batch_no) && p.stands() && !p.returned {
                p.returned = true;
                p.return_reason = Some(ReturnReason::BatchNotUploaded);
                returned.push(key.clone());
            }
            let status = if p.reversed {
                LineStatus::Reversed
            } else if p.code != "00" {
                LineStatus::Declined {
                    code: p.code.clone(),
                }
            } else if p.returned {
                LineStatus::Returned {
                    reason: p.return_reason.unwrap_or(ReturnReason::IssuerReturned),
                }
            } else {
                LineStatus::Approved
            };
            lines.push(StatementLine {
                batch_no: p.batch_no,
                trace_no: p.trace_no,
                message: p.message,
                amount: p.amount,
                masked_pan: p.card.as_ref().map(|c| c.masked_pan.clone()),
                method: p.card.as_ref().map(|c| c.method),
                foreign: p.card.as_ref().is_some_and(|c| c.foreign),
                rrn: p.rrn.clone(),
                auth_code: p.auth_code.clone(),
                status,
                at: p.at,
            });
        }
        self.touched.extend(returned);
        Statement {
            terminal_id: terminal_id.to_owned(),
            lines,
            batches: batches.into_values().collect(),
        }
    }

    /// The next fault: a queued one, else one drawn by the rates.
    fn next_fault(&mut self) -> Option<Fault> {
        if let Some(f) = self.faults.pop_front() {
            return Some(f);
        }
        let r = &self.rates;
        if *r == FaultRates::NONE {
            return None;
        }
        let draw = self.fault_rng.below(1000) as u16;
        let mut edge = 0u16;
        let table = [
            (r.timeout, FaultKind::Timeout),
            (r.lost_reply, FaultKind::LostReply),
            (r.duplicate, FaultKind::DuplicateReply),
            (r.late, FaultKind::LateReply),
            (r.transport, FaultKind::TransportError),
            (r.garbled, FaultKind::GarbledReply),
        ];
        for (rate, kind) in table {
            edge += rate.0;
            if draw < edge {
                return Some(match kind {
                    FaultKind::Timeout => Fault::Timeout,
                    FaultKind::LostReply => Fault::LostReply,
                    FaultKind::DuplicateReply => Fault::DuplicateReply,
                    FaultKind::LateReply => {
                        let span = u64::from(LATE_REPLY_MS.end() - LATE_REPLY_MS.start()) + 1;
                        let ms = LATE_REPLY_MS.start() + self.fault_rng.below(span) as u32;
                        Fault::LateReplyAfterMs(ms)
                    }
                    FaultKind::GarbledReply => Fault::GarbledReply,
                    FaultKind::TransportError | FaultKind::Decline => Fault::TransportError,
                });
            }
        }
        None
    }

    /// Holds `reply` back until `due`, after any due by then. Kept in
    /// order as it is held, so the replies due are a prefix: no sort to
    /// compile.
    fn hold_late(&mut self, due: Timestamp, reply: HostReply) {
        let at = self.late.partition_point(|(t, _)| *t <= due);
        self.late.insert(at, (due, reply));
    }

    /// Replies held back whose delay has passed by `now`, oldest first.
    fn due_late(&mut self, now: Timestamp) -> Vec<HostReply> {
        let due = self.late.partition_point(|(at, _)| *at <= now);
        self.late.drain(..due).map(|(_, r)| r).collect()
    }
}

/// What became of one request, for a transport that times deliveries
/// itself (the JS binding); [`Host::send`] is built on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// These replies came back (two when duplicated).
    Replies(Vec<HostReply>),
    /// None came.
    NoReply(NoReply),
    /// The reply comes `after_ms` after the request, past the terminal's
    /// timeout ([`Fault::LateReplyAfterMs`]).
    Late {
        /// The delay.
        after_ms: u32,
        /// The reply.
        reply: HostReply,
    },
}

impl SimulatedAcquirer {
    /// Sends one request through the faults: the queued one, else one drawn
    /// by rate. A [`Fault::LateReply`] keeps its reply for
    /// [`Host::take_late`] and answers `NoReply(Timeout)`; a
    /// [`Fault::LateReplyAfterMs`] hands the reply and its delay to the
    /// caller.
    pub fn deliver(&mut self, request: &HostRequest, now: Timestamp) -> Delivery {
        let Some(fault) = self.next_fault() else {
            return Delivery::Replies(vec![self.process(request, now)]);
        };
        self.applied.bump(fault.kind());
        match fault {
            Fault::Timeout => {
                self.process(request, now);
                Delivery::NoReply(NoReply::Timeout)
            }
            Fault::LostReply => {
                self.process(request, now);
                Delivery::NoReply(NoReply::LostReply)
            }
            Fault::DuplicateReply => {
                let reply = self.process(request, now);
                Delivery::Replies(vec![reply.clone(), reply])
            }
            Fault::LateReply => {
                let reply = self.process(request, now);
                self.hold_late(now, reply);
                Delivery::NoReply(NoReply::Timeout)
            }
            Fault::LateReplyAfterMs(after_ms) => Delivery::Late {
                after_ms,
                reply: self.process(request, now),
            },
            Fault::TransportError => Delivery::NoReply(NoReply::TransportError),
            Fault::Decline(code) => Delivery::Replies(vec![HostReply {
                message: request.message,
                trace_no: request.trace_no,
                amount: request.amount,
                code,
                rrn: None,
                auth_code: None,
                balanced: None,
                host_time: now,
            }]),
            Fault::GarbledReply => {
                let mut reply = self.process(request, now);
                match self.fault_rng.below(3) {
                    0 => reply.code.push(' '),
                    1 => {
                        let mut rrn = reply.rrn.unwrap_or_else(|| "000000000000".into());
                        rrn.truncate(11);
                        reply.rrn = Some(rrn);
                    }
                    _ => reply.auth_code = Some("1234567".into()),
                }
                Delivery::Replies(vec![reply])
            }
        }
    }
}

impl Host for SimulatedAcquirer {
    fn send(&mut self, request: &HostRequest, now: Timestamp) -> Result<Vec<HostReply>, NoReply> {
        match self.deliver(request, now) {
            Delivery::Replies(replies) => Ok(replies),
            Delivery::NoReply(cause) => Err(cause),
            Delivery::Late { after_ms, reply } => {
                let due = Timestamp(now.0.saturating_add(i64::from(after_ms)));
                self.hold_late(due, reply);
                Err(NoReply::Timeout)
            }
        }
    }

    fn take_late(&mut self, now: Timestamp) -> Vec<HostReply> {
        self.apply_returns(now);
        self.due_late(now)
    }
}
