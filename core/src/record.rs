//! What the journal records. Every change of the terminal's state is one of
//! these, applied by [`crate::terminal`]'s single `apply`; replaying them is
//! the terminal.

use serde::{Deserialize, Deserializer, Serialize};

use crate::card::Card;
use crate::host::{BatchNo, NoReply, SettlementSummary, TraceNo};
use crate::money::{Currency, Money};
use crate::operator::ApprovalRecord;
use crate::planner::{FallbackRecord, Voucher};
use crate::tagged::{self, Tagged};
use crate::time::Timestamp;

/// A transaction's id: the journal sequence number of the record that
/// created it. Unique for the life of the journal, unlike trace numbers,
/// which wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TxnId(pub u64);

impl std::fmt::Display for TxnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl TxnId {
    /// The displayed form `T00000042`, on the stack: what `Display` writes,
    /// for writers that do without `core::fmt`.
    pub fn text(self) -> crate::digits::Digits {
        crate::digits::Digits::new(Some(b'T'), self.0, 8)
    }

    /// Parses the displayed form `T00000042`.
    pub fn parse(text: &str) -> Option<TxnId> {
        let digits = text.strip_prefix('T')?;
        let ok = digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| digits.parse().ok().map(TxnId)).flatten()
    }
}

/// The kinds of financial transaction (DESIGN.md glossary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 消费.
    Sale,
    /// 消费撤销.
    Void,
    /// 退货.
    Refund,
    /// 预授权.
    PreAuth,
    /// 预授权撤销.
    PreAuthCancel,
    /// 预授权完成（请求）.
    Completion,
    /// 预授权完成（通知）.
    CompletionAdvice,
    /// 预授权完成撤销.
    CompletionVoid,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 8] = [
        Kind::Sale,
        Kind::Void,
        Kind::Refund,
        Kind::PreAuth,
        Kind::PreAuthCancel,
        Kind::Completion,
        Kind::CompletionAdvice,
        Kind::CompletionVoid,
    ];

    /// The snake_case name used in JS and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sale => "sale",
            Kind::Void => "void",
            Kind::Refund => "refund",
            Kind::PreAuth => "pre_auth",
            Kind::PreAuthCancel => "pre_auth_cancel",
            Kind::Completion => "completion",
            Kind::CompletionAdvice => "completion_advice",
            Kind::CompletionVoid => "completion_void",
        }
    }

    /// Parses [`Kind::as_str`]'s names.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The Chinese and English names printed on vouchers.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Kind::Sale => ("消费", "SALE"),
            Kind::Void => ("消费撤销", "VOID"),
            Kind::Refund => ("退货", "REFUND"),
            Kind::PreAuth => ("预授权", "PRE-AUTH"),
            Kind::PreAuthCancel => ("预授权撤销", "PRE-AUTH CANCEL"),
            Kind::Completion => ("预授权完成", "AUTH COMPLETE"),
            Kind::CompletionAdvice => ("预授权完成（通知）", "AUTH COMPLETE ADVICE"),
            Kind::CompletionVoid => ("预授权完成撤销", "COMPLETE VOID"),
        }
    }

    /// Whether money flows to the merchant (sale, completion).
    pub fn is_debit(self) -> bool {
        match self {
            Kind::Sale | Kind::Completion | Kind::CompletionAdvice => true,
            Kind::Void
            | Kind::Refund
            | Kind::PreAuth
            | Kind::PreAuthCancel
            | Kind::CompletionVoid => false,
        }
    }
}

/// A financial request as the terminal recorded it before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// What kind of transaction.
    pub kind: Kind,
    /// The caller's idempotency key.
    pub key: String,
    /// The normalised parameters the key was first used with.
    pub fingerprint: String,
    /// The amount.
    pub amount: Money,
    /// The card, masked.
    pub card: Card,
    /// Its trace number.
    pub trace_no: TraceNo,
    /// The batch it belongs to.
    pub batch_no: BatchNo,
    /// The transaction it acts on (void, refund, completion, cancel).
    pub original: Option<TxnId>,
    /// Who was signed in.
    pub operator_id: String,
    /// Who approved it.
    pub approvals: Vec<ApprovalRecord>,
    /// Why (refunds).
    pub reason: Option<String>,
    /// A refund by a non-original route: where to, and why (Rule 5). Such a
    /// refund is settled outside the card network and never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackRecord>,
    /// A refund whose original is not in this journal: the voucher's data
    /// (Rule 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voucher: Option<Voucher>,
    /// When.
    pub at: Timestamp,
}

/// What became of an accepted refund after the host's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The money reached the customer.
    Credited,
    /// The money came back (card cancelled, account closed).
    Returned,
}

impl Outcome {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Credited => "credited",
            Outcome::Returned => "returned",
        }
    }
}

/// What an exchange with the host was for. Deserialize is by hand, below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "for", rename_all = "snake_case")]
pub enum Purpose {
    /// The financial request that created `txn`.
    Request {
        /// The transaction.
        txn: TxnId,
    },
    /// Reversal attempt `attempt` (from 1) of `txn`.
    Reversal {
        /// The transaction being reversed.
        txn: TxnId,
        /// Which attempt.
        attempt: u32,
    },
    /// A query of `txn`'s outcome.
    Query {
        /// The transaction asked about.
        txn: TxnId,
    },
    /// The offline advice of `txn`.
    Advice {
        /// The completion advised.
        txn: TxnId,
    },
    /// Settlement of the open batch.
    Settlement {
        /// The batch.
        batch_no: BatchNo,
    },
    /// A chunk of the batch upload after an unbalanced settlement, from the
    /// batch's record `from` (0-based, in journal order).
    Upload {
        /// The batch.
        batch_no: BatchNo,
        /// The first record of the chunk.
        from: u32,
    },
    /// The end of the batch upload: the host closes the batch.
    UploadEnd {
        /// The batch.
        batch_no: BatchNo,
    },
}

impl Purpose {
    /// The transaction the exchange is about (none for a settlement).
    pub fn txn(self) -> Option<TxnId> {
        match self {
            Purpose::Request { txn }
            | Purpose::Reversal { txn, .. }
            | Purpose::Query { txn }
            | Purpose::Advice { txn } => Some(txn),
            Purpose::Settlement { .. } | Purpose::Upload { .. } | Purpose::UploadEnd { .. } => None,
        }
    }
}

/// How a supervisor resolved a record in manual review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The acquirer confirmed the request was carried out.
    Approved {
        /// The RRN the acquirer gave, if known.
        rrn: Option<String>,
        /// The auth code, if known.
        auth_code: Option<String>,
    },
    /// The acquirer confirmed nothing was done (or it was undone).
    Reversed,
}

/// One journal record. Deserialize is by hand, below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The first record: whose journal this is.
    Opened {
        /// Merchant id.
        merchant_id: String,
        /// Terminal id.
        terminal_id: String,
        /// Currency.
        currency: Currency,
        /// When.
        at: Timestamp,
    },
    /// An operator signed in.
    SignedIn {
        /// Who.
        operator_id: String,
        /// When.
        at: Timestamp,
    },
    /// A wrong PIN was entered.
    PinRejected {
        /// Whose.
        operator_id: String,
        /// When.
        at: Timestamp,
    },
    /// An operator was locked after too many wrong PINs.
    OperatorLocked {
        /// Who.
        operator_id: String,
        /// Until when.
        until: Timestamp,
        /// When.
        at: Timestamp,
    },
    /// A financial request, armed with its reversal, before it is sent.
    Requested(Box<Request>),
    /// A request of another purpose went out.
    Sent {
        /// What for.
        purpose: Purpose,
        /// When.
        at: Timestamp,
    },
    /// Settlement of the open batch went out with these totals.
    SettlementSent {
        /// The batch.
        batch_no: BatchNo,
        /// The totals sent.
        summary: SettlementSummary,
        /// When.
        at: Timestamp,
    },
    /// The host answered the outstanding exchange.
    Answered {
        /// What for.
        purpose: Purpose,
        /// Response code.
        code: String,
        /// RRN.
        rrn: Option<String>,
        /// Auth code.
        auth_code: Option<String>,
        /// Settlement only: whether the totals agreed.
        balanced: Option<bool>,
        /// When.
        at: Timestamp,
    },
    /// No answer came to the outstanding exchange.
    Unanswered {
        /// What for.
        purpose: Purpose,
        /// Why.
        cause: NoReply,
        /// When.
        at: Timestamp,
    },
    /// A reply came for a request no longer outstanding; logged, no effect.
    LateReply {
        /// The transaction it was for.
        txn: TxnId,
        /// Its response code.
        code: String,
        /// When.
        at: Timestamp,
    },
    /// Reversals failed too often; a supervisor must resolve the record.
    ManualReview {
        /// The transaction.
        txn: TxnId,
        /// When.
        at: Timestamp,
    },
    /// What became of an accepted refund: credited (a statement, or a
    /// fallback's confirmation with its reference) or returned.
    RefundOutcome {
        /// The refund.
        txn: TxnId,
        /// Credited or returned.
        outcome: Outcome,
        /// The transfer's or statement's reference.
        reference: Option<String>,
        /// Who confirmed it (fallbacks), if a person did.
        operator_id: Option<String>,
        /// Who approved the confirmation, if anyone.
        approvals: Vec<ApprovalRecord>,
        /// When.
        at: Timestamp,
    },
    /// A supervisor resolved a record in manual review.
    ReviewResolved {
        /// The transaction.
        txn: TxnId,
        /// The outcome the acquirer confirmed.
        resolution: Resolution,
        /// Who resolved it.
        approvals: Vec<ApprovalRecord>,
        /// When.
        at: Timestamp,
    },
}

impl Record {
    /// When the record was made.
    pub fn at(&self) -> Timestamp {
        match self {
            Record::Opened { at, .. }
            | Record::SignedIn { at, .. }
            | Record::PinRejected { at, .. }
            | Record::OperatorLocked { at, .. }
            | Record::Sent { at, .. }
            | Record::SettlementSent { at, .. }
            | Record::Answered { at, .. }
            | Record::Unanswered { at, .. }
            | Record::LateReply { at, .. }
            | Record::ManualReview { at, .. }
            | Record::RefundOutcome { at, .. }
            | Record::ReviewResolved { at, .. } => *at,
            Record::Requested(r) => r.at,
        }
    }

    /// The transaction the record (at `seq`) is about, if any.
    pub fn txn(&self, seq: u64) -> Option<TxnId> {
        match self {
            Record::Requested(_) => Some(TxnId(seq)),
            Record::LateReply { txn, .. }
            | Record::ManualReview { txn, .. }
            | Record::ReviewResolved { txn, .. }
            | Record::RefundOutcome { txn, .. } => Some(*txn),
            Record::Sent { purpose, .. }
            | Record::Answered { purpose, .. }
            | Record::Unanswered { purpose, .. } => purpose.txn(),
            Record::Opened { .. }
            | Record::SignedIn { .. }
            | Record::PinRejected { .. }
            | Record::OperatorLocked { .. }
            | Record::SettlementSent { .. } => None,
        }
    }

    /// [`Record::txn`] read from the record's JSON text as the journal
    /// writes it, without parsing the record: a terminal indexes the
    /// history it keeps as stored text this way (`journalEntries`). A
    /// `requested` record is its own transaction; any other names it in its
    /// one `"txn"` key, its own or its purpose's. The six characters
    /// `"txn":` cannot occur inside a JSON string (a quote there is
    /// escaped), so their first occurrence is that key.
    pub fn txn_of_json(seq: u64, record_json: &str) -> Option<TxnId> {
        if record_json.starts_with(r#"{"type":"requested""#) {
            return Some(TxnId(seq));
        }
        let at = record_json.find(r#""txn":"#)? + r#""txn":"#.len();
        let rest = &record_json[at..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        rest[..digits].parse().ok().map(TxnId)
    }

    /// The record's type name, as in the journal.
    pub fn type_name(&self) -> &'static str {
        match self {
            Record::Opened { .. } => "opened",
            Record::SignedIn { .. } => "signed_in",
            Record::PinRejected { .. } => "pin_rejected",
            Record::OperatorLocked { .. } => "operator_locked",
            Record::Requested(_) => "requested",
            Record::Sent { .. } => "sent",
            Record::SettlementSent { .. } => "settlement_sent",
            Record::Answered { .. } => "answered",
            Record::Unanswered { .. } => "unanswered",
            Record::LateReply { .. } => "late_reply",
            Record::ManualReview { .. } => "manual_review",
            Record::RefundOutcome { .. } => "refund_outcome",
            Record::ReviewResolved { .. } => "review_resolved",
        }
    }
}

// Purposes and records are read by hand (see `crate::tagged`): serde's
// derive for an internally tagged enum buffers every object, and was the
// largest item in the wasm. Each `variant` match names every tag, and each
// guard names every variant, so a new variant fails to compile until it is
// read.

/// Reads a struct variant's fields from `rest`, the object after its tag,
/// through a derived struct reader, and builds the variant. The fields are
/// written as the variant declares them, with their types: a misspelt or
/// missing one does not compile.
macro_rules! read_variant {
    ($rest:expr, $enum:ident::$variant:ident { $($field:ident: $ty:ty),+ $(,)? }) => {{
        #[derive(Deserialize)]
        struct Fields {
            $($field: $ty,)+
        }
        let Fields { $($field),+ } = Deserialize::deserialize($rest)?;
        $enum::$variant { $($field),+ }
    }};
}

/// A purpose's `"for"`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PurposeFor {
    Request,
    Reversal,
    Query,
    Advice,
    Settlement,
    Upload,
    UploadEnd,
}

const _: fn(&Purpose) -> PurposeFor = |purpose| match purpose {
    Purpose::Request { .. } => PurposeFor::Request,
    Purpose::Reversal { .. } => PurposeFor::Reversal,
    Purpose::Query { .. } => PurposeFor::Query,
    Purpose::Advice { .. } => PurposeFor::Advice,
    Purpose::Settlement { .. } => PurposeFor::Settlement,
    Purpose::Upload { .. } => PurposeFor::Upload,
    Purpose::UploadEnd { .. } => PurposeFor::UploadEnd,
};

impl<'de> Deserialize<'de> for Purpose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::deserialize(deserializer)
    }
}

impl<'de> Tagged<'de> for Purpose {
    const TAG: &'static str = "for";
    const EXPECTING: &'static str = "what an exchange was for";
    type Tag = PurposeFor;

    fn variant<D: Deserializer<'de>>(tag: PurposeFor, rest: D) -> Result<Self, D::Error> {
        Ok(match tag {
            PurposeFor::Request => read_variant!(rest, Purpose::Request { txn: TxnId }),
            PurposeFor::Reversal => read_variant!(
                rest,
                Purpose::Reversal {
                    txn: TxnId,
                    attempt: u32
                }
            ),
            PurposeFor::Query => read_variant!(rest, Purpose::Query { txn: TxnId }),
            PurposeFor::Advice => read_variant!(rest, Purpose::Advice { txn: TxnId }),
            PurposeFor::Settlement => {
                read_variant!(rest, Purpose::Settlement { batch_no: BatchNo })
            }
            PurposeFor::Upload => read_variant!(
                rest,
                Purpose::Upload {
                    batch_no: BatchNo,
                    from: u32
                }
            ),
            PurposeFor::UploadEnd => read_variant!(rest, Purpose::UploadEnd { batch_no: BatchNo }),
        })
    }
}

/// A record's `"type"`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RecordType {
    Opened,
    SignedIn,
    PinRejected,
    OperatorLocked,
    Requested,
    Sent,
    SettlementSent,
    Answered,
    Unanswered,
    LateReply,
    ManualReview,
    RefundOutcome,
    ReviewResolved,
}

const _: fn(&Record) -> RecordType = |record| match record {
    Record::Opened { .. } => RecordType::Opened,
    Record::SignedIn { .. } => RecordType::SignedIn,
    Record::PinRejected { .. } => RecordType::PinRejected,
    Record::OperatorLocked { .. } => RecordType::OperatorLocked,
    Record::Requested(_) => RecordType::Requested,
    Record::Sent { .. } => RecordType::Sent,
    Record::SettlementSent { .. } => RecordType::SettlementSent,
    Record::Answered { .. } => RecordType::Answered,
    Record::Unanswered { .. } => RecordType::Unanswered,
    Record::LateReply { .. } => RecordType::LateReply,
    Record::ManualReview { .. } => RecordType::ManualReview,
    Record::RefundOutcome { .. } => RecordType::RefundOutcome,
    Record::ReviewResolved { .. } => RecordType::ReviewResolved,
};

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::deserialize(deserializer)
    }
}

impl<'de> Tagged<'de> for Record {
    const TAG: &'static str = "type";
    const EXPECTING: &'static str = "a journal record";
    type Tag = RecordType;

    fn variant<D: Deserializer<'de>>(tag: RecordType, rest: D) -> Result<Self, D::Error> {
        Ok(match tag {
            RecordType::Opened => read_variant!(
                rest,
                Record::Opened {
                    merchant_id: String,
                    terminal_id: String,
                    currency: Currency,
                    at: Timestamp,
                }
            ),
            RecordType::SignedIn => read_variant!(
                rest,
                Record::SignedIn {
                    operator_id: String,
                    at: Timestamp,
                }
            ),
            RecordType::PinRejected => read_variant!(
                rest,
                Record::PinRejected {
                    operator_id: String,
                    at: Timestamp,
                }
            ),
            RecordType::OperatorLocked => read_variant!(
                rest,
                Record::OperatorLocked {
                    operator_id: String,
                    until: Timestamp,
                    at: Timestamp,
                }
            ),
            RecordType::Requested => Record::Requested(Deserialize::deserialize(rest)?),
            RecordType::Sent => read_variant!(
                rest,
                Record::Sent {
                    purpose: Purpose,
                    at: Timestamp,
                }
            ),
            RecordType::SettlementSent => read_variant!(
                rest,
                Record::SettlementSent {
                    batch_no: BatchNo,
                    summary: SettlementSummary,
                    at: Timestamp,
                }
            ),
            RecordType::Answered => read_variant!(
                rest,
                Record::Answered {
                    purpose: Purpose,
                    code: String,
                    rrn: Option<String>,
                    auth_code: Option<String>,
                    balanced: Option<bool>,
                    at: Timestamp,
                }
            ),
            RecordType::Unanswered => read_variant!(
                rest,
                Record::Unanswered {
                    purpose: Purpose,
                    cause: NoReply,
                    at: Timestamp,
                }
            ),
            RecordType::LateReply => read_variant!(
                rest,
                Record::LateReply {
                    txn: TxnId,
                    code: String,
                    at: Timestamp,
                }
            ),
            RecordType::ManualReview => read_variant!(
                rest,
                Record::ManualReview {
                    txn: TxnId,
                    at: Timestamp,
                }
            ),
            RecordType::RefundOutcome => read_variant!(
                rest,
                Record::RefundOutcome {
                    txn: TxnId,
                    outcome: Outcome,
                    reference: Option<String>,
                    operator_id: Option<String>,
                    approvals: Vec<ApprovalRecord>,
                    at: Timestamp,
                }
            ),
            RecordType::ReviewResolved => read_variant!(
                rest,
                Record::ReviewResolved {
                    txn: TxnId,
                    resolution: Resolution,
                    approvals: Vec<ApprovalRecord>,
                    at: Timestamp,
                }
            ),
        })
    }
}
