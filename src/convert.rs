//! JS shapes in and out. Input structs refuse unknown fields and wrong
//! types (a number where an amount string belongs is `INVALID_INPUT`);
//! output structs are camelCase with strings for amounts and ids.

use posflow_core::card::Card;
use posflow_core::error::PosError;
use posflow_core::host::{check_rrn, BatchNo, TraceNo};
use posflow_core::money::{Currency, Money};
use posflow_core::operator::ApprovalInput;
use posflow_core::record::TxnId;
use posflow_core::terminal::{BatchClose, Command, OriginalSelector, TxnState, TxnView};
use posflow_core::time::Timestamp;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tsify::Tsify;
use wasm_bindgen::JsValue;

use crate::error::invalid;
use crate::input::{Input, Obj};

/// The longest string any input field may hold; anything longer is refused
/// before it is looked at.
const MAX_FIELD_CHARS: usize = 256;

/// The largest input read by serde, as JSON text: no host message or
/// configuration needs more than a few KiB; a journal import goes through
/// its own path.
const MAX_INPUT_BYTES: usize = 64 * 1024;

/// Deserializes `value` into a core type `T` (a host's request or reply,
/// the terminal's configuration), as `INVALID_INPUT` naming `what` on
/// failure. The binding's own input types are read by hand
/// ([`crate::input`]).
///
/// Goes through `JSON.stringify` and serde_json rather than
/// serde-wasm-bindgen, whose deserializer reads only the fields a struct
/// asks for and so never sees an unknown one (`deny_unknown_fields` would do
/// nothing). JSON also turns `NaN` and `Infinity` into `null`, which no
/// field accepts, and drops functions.
pub(crate) fn parse_serde<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, PosError> {
    crate::input::expect_object(&value, what)?;
    let text = js_sys::JSON::stringify(&value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| {
            PosError::invalid_input(what, "a plain object", "one JSON cannot represent")
        })?;
    if text.len() > MAX_INPUT_BYTES {
        return Err(PosError::invalid_input(what, "at most 64 KiB", "more"));
    }
    serde_json::from_str(&text).map_err(|e| invalid(what, e))
}

/// Serializes for JS: plain objects, not Maps.
///
/// One JSON string crosses the boundary and `JSON.parse` builds the object,
/// rather than serde-wasm-bindgen creating it field by field: one crossing
/// instead of one per string, and one serializer (serde_json, which the
/// journal needs anyway) in the wasm instead of two.
pub(crate) fn to_js<T: Serialize>(value: &T) -> JsValue {
    let text = posflow_core::json::to_string(value);
    js_sys::JSON::parse(&text).expect("serde_json writes valid JSON")
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `JSON.parse` of a JS string, without copying it into the wasm.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    pub(crate) fn parse_text(text: &js_sys::JsString) -> Result<JsValue, JsValue>;
}

/// A transaction id as JS gives it (`T00000042`), for input `field`.
pub(crate) fn txn_id(field: &str, text: &str) -> Result<TxnId, PosError> {
    TxnId::parse(bounded(field, text)?)
        .ok_or_else(|| PosError::invalid_input(field, "an id like T00000042", text))
}

pub(crate) fn bounded<'a>(field: &str, text: &'a str) -> Result<&'a str, PosError> {
    if text.len() > MAX_FIELD_CHARS {
        return Err(PosError::invalid_input(
            field,
            "at most 256 characters",
            text,
        ));
    }
    Ok(text)
}

#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CardInput {
    /// A full PAN is masked at once and never kept.
    #[tsify(optional)]
    pan: Option<String>,
    #[tsify(optional)]
    qr: Option<String>,
}

impl Input for CardInput {
    const FIELDS: &'static [&'static str] = &["pan", "qr"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(CardInput {
            pan: o.opt_str("pan")?,
            qr: o.opt_str("qr")?,
        })
    }
}

impl CardInput {
    pub(crate) fn card(&self) -> Result<Card, PosError> {
        match (&self.pan, &self.qr) {
            (Some(pan), None) => Card::from_pan(bounded("card.pan", pan)?),
            (None, Some(qr)) => Card::from_qr(bounded("card.qr", qr)?),
            _ => Err(PosError::invalid_input(
                "card",
                "exactly one of { pan } or { qr }",
                "both or neither",
            )),
        }
    }
}

#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct OriginalRef {
    #[tsify(optional)]
    id: Option<String>,
    #[tsify(optional)]
    trace_no: Option<String>,
    #[tsify(optional)]
    rrn: Option<String>,
}

impl Input for OriginalRef {
    const FIELDS: &'static [&'static str] = &["id", "traceNo", "rrn"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(OriginalRef {
            id: o.opt_str("id")?,
            trace_no: o.opt_str("traceNo")?,
            rrn: o.opt_str("rrn")?,
        })
    }
}

impl OriginalRef {
    pub(crate) fn new(id: Option<String>, trace_no: Option<String>, rrn: Option<String>) -> Self {
        OriginalRef { id, trace_no, rrn }
    }

    pub(crate) fn selector(&self) -> Result<OriginalSelector, PosError> {
        match (&self.id, &self.trace_no, &self.rrn) {
            (Some(id), None, None) => txn_id("original.id", id).map(OriginalSelector::Id),
            (None, Some(t), None) => TraceNo::parse(t).map(OriginalSelector::TraceNo),
            (None, None, Some(r)) => {
                check_rrn("original.rrn", r)?;
                Ok(OriginalSelector::Rrn(r.clone()))
            }
            _ => Err(PosError::invalid_input(
                "original",
                "exactly one of { id }, { traceNo } or { rrn }",
                "none or several",
            )),
        }
    }
}

// Read by `Approvals::read`; `untagged` gives Tsify `Approval | Approval[]`.
/// One approval, or two for dual control.
#[derive(Tsify)]
#[serde(untagged)]
pub(crate) enum Approvals {
    One(Approval),
    Many(Vec<Approval>),
}

#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Approval {
    operator_id: String,
    pin: String,
}

impl Input for Approval {
    const FIELDS: &'static [&'static str] = &["operatorId", "pin"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(Approval {
            operator_id: o.str("operatorId")?,
            pin: o.str("pin")?,
        })
    }
}

impl Approvals {
    /// Field `approval` of `o`: one object or a list of them.
    pub(crate) fn read(o: &Obj) -> Result<Option<Approvals>, PosError> {
        if o.is_list("approval") {
            Ok(o.opt_list("approval")?.map(Approvals::Many))
        } else {
            Ok(o.opt("approval")?.map(Approvals::One))
        }
    }

    pub(crate) fn approvals(self) -> Result<Vec<ApprovalInput>, PosError> {
        let list = match self {
            Approvals::One(a) => vec![a],
            Approvals::Many(v) if v.len() <= 2 => v,
            Approvals::Many(_) => {
                return Err(PosError::invalid_input(
                    "approval",
                    "one or two approvals",
                    "more",
                ))
            }
        };
        list.into_iter()
            .map(|a| {
                Ok(ApprovalInput {
                    operator_id: bounded("approval.operatorId", &a.operator_id)?.to_owned(),
                    pin: bounded("approval.pin", &a.pin)?.to_owned(),
                })
            })
            .collect()
    }
}

pub(crate) fn approvals(a: Option<Approvals>) -> Result<Vec<ApprovalInput>, PosError> {
    a.map_or(Ok(Vec::new()), Approvals::approvals)
}

pub(crate) fn money(field: &str, text: &str, currency: Currency) -> Result<Money, PosError> {
    Money::parse(bounded(field, text)?, currency)
}

/// `sale` and `preAuth`.
#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SaleInput {
    /// Decimal string in the terminal's currency, e.g. `"100.00"`.
    amount: String,
    card: CardInput,
    /// The caller's idempotency key.
    key: String,
}

impl Input for SaleInput {
    const FIELDS: &'static [&'static str] = &["amount", "card", "key"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(SaleInput {
            amount: o.str("amount")?,
            card: o.req("card")?,
            key: o.str("key")?,
        })
    }
}

impl SaleInput {
    pub(crate) fn sale(self, currency: Currency) -> Result<(Command, String), PosError> {
        Ok((
            Command::Sale {
                amount: money("amount", &self.amount, currency)?,
                card: self.card.card()?,
            },
            key(self.key)?,
        ))
    }

    pub(crate) fn pre_auth(self, currency: Currency) -> Result<(Command, String), PosError> {
        Ok((
            Command::PreAuth {
                amount: money("amount", &self.amount, currency)?,
                card: self.card.card()?,
            },
            key(self.key)?,
        ))
    }
}

/// `void`.
#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct VoidInput {
    original: OriginalRef,
    #[tsify(optional)]
    approval: Option<Approvals>,
    key: String,
}

impl Input for VoidInput {
    const FIELDS: &'static [&'static str] = &["original", "approval", "key"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(VoidInput {
            original: o.req("original")?,
            approval: Approvals::read(o)?,
            key: o.str("key")?,
        })
    }
}

impl VoidInput {
    pub(crate) fn command(self, _: Currency) -> Result<(Command, String), PosError> {
        Ok((
            Command::Void {
                original: self.original.selector()?,
                approvals: approvals(self.approval)?,
            },
            key(self.key)?,
        ))
    }
}

/// `completePreAuth`; `advice: true` for an offline advice.
#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CompletePreAuthInput {
    original: OriginalRef,
    amount: String,
    #[serde(default)]
    #[tsify(optional)]
    advice: bool,
    key: String,
}

impl Input for CompletePreAuthInput {
    const FIELDS: &'static [&'static str] = &["original", "amount", "advice", "key"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(CompletePreAuthInput {
            original: o.req("original")?,
            amount: o.str("amount")?,
            advice: o.opt_bool("advice")?.unwrap_or(false),
            key: o.str("key")?,
        })
    }
}

impl CompletePreAuthInput {
    pub(crate) fn command(self, currency: Currency) -> Result<(Command, String), PosError> {
        Ok((
            Command::Complete {
                original: self.original.selector()?,
                amount: money("amount", &self.amount, currency)?,
                advice: self.advice,
            },
            key(self.key)?,
        ))
    }
}

/// `cancelPreAuth`.
#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CancelPreAuthInput {
    original: OriginalRef,
    key: String,
}

impl Input for CancelPreAuthInput {
    const FIELDS: &'static [&'static str] = &["original", "key"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(CancelPreAuthInput {
            original: o.req("original")?,
            key: o.str("key")?,
        })
    }
}

impl CancelPreAuthInput {
    pub(crate) fn command(self, _: Currency) -> Result<(Command, String), PosError> {
        Ok((
            Command::CancelPreAuth {
                original: self.original.selector()?,
            },
            key(self.key)?,
        ))
    }
}

pub(crate) fn key(text: String) -> Result<String, PosError> {
    bounded("key", &text)?;
    Ok(text)
}

/// `signIn`.
#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SignInInput {
    pub operator_id: String,
    pub pin: String,
}

impl Input for SignInInput {
    const FIELDS: &'static [&'static str] = &["operatorId", "pin"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(SignInInput {
            operator_id: o.str("operatorId")?,
            pin: o.str("pin")?,
        })
    }
}

/// `transactions(filter)`.
#[derive(Default, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TransactionFilter {
    #[tsify(optional, type = "TxnState")]
    pub state: Option<String>,
    #[tsify(optional, type = "TxnKind")]
    pub kind: Option<String>,
    /// Who initiated it.
    #[tsify(optional)]
    pub operator_id: Option<String>,
    /// From (inclusive), ms since the epoch.
    #[tsify(optional)]
    pub from: Option<f64>,
    /// To (exclusive), ms since the epoch.
    #[tsify(optional)]
    pub to: Option<f64>,
    /// This transaction only (`T00000042`): none or one record.
    #[tsify(optional)]
    pub id: Option<String>,
    /// Those made against this original (`T00000042`): its voids, refunds,
    /// completions and cancels.
    #[tsify(optional)]
    pub original: Option<String>,
    /// This trace number (`"000042"`, the voucher's 凭证号); trace numbers
    /// wrap, so there may be several.
    #[tsify(optional)]
    pub trace_no: Option<String>,
    /// This retrieval reference number (12 letters or digits, 参考号).
    #[tsify(optional)]
    pub rrn: Option<String>,
    /// This amount, a decimal string (`"100"` finds `"100.00"`).
    #[tsify(optional)]
    pub amount: Option<String>,
    /// At most this many, the newest; all when absent.
    #[tsify(optional)]
    pub limit: Option<u32>,
}

impl Input for TransactionFilter {
    const FIELDS: &'static [&'static str] = &[
        "state",
        "kind",
        "operatorId",
        "from",
        "to",
        "id",
        "original",
        "traceNo",
        "rrn",
        "amount",
        "limit",
    ];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(TransactionFilter {
            state: o.opt_str("state")?,
            kind: o.opt_str("kind")?,
            operator_id: o.opt_str("operatorId")?,
            from: o.opt_f64("from")?,
            to: o.opt_f64("to")?,
            id: o.opt_str("id")?,
            original: o.opt_str("original")?,
            trace_no: o.opt_str("traceNo")?,
            rrn: o.opt_str("rrn")?,
            amount: o.opt_str("amount")?,
            limit: o.opt_u32("limit")?,
        })
    }
}

/// `journalEntries(query)`: one of the two.
#[derive(Tsify)]
#[serde(deny_unknown_fields)]
pub(crate) struct JournalQueryInput {
    /// A transaction's id: the records about it.
    #[tsify(optional)]
    pub transaction: Option<String>,
    /// The newest records, at most this many (10,000).
    #[tsify(optional)]
    pub last: Option<u32>,
}

impl Input for JournalQueryInput {
    const FIELDS: &'static [&'static str] = &["transaction", "last"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(JournalQueryInput {
            transaction: o.opt_str("transaction")?,
            last: o.opt_u32("last")?,
        })
    }
}

/// What `signIn` resolves with.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignedIn {
    pub operator_id: String,
}

/// What `settle` resolves with.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SettlementReport {
    batch_no: String,
    balanced: bool,
    /// Closed after a batch upload (批上送), the host having disagreed.
    uploaded: bool,
    debit_count: u32,
    debit_amount: String,
    credit_count: u32,
    credit_amount: String,
}

impl SettlementReport {
    pub(crate) fn from_close(c: &BatchClose) -> SettlementReport {
        SettlementReport {
            batch_no: c.batch_no.to_string(),
            balanced: c.balanced,
            uploaded: c.uploaded,
            debit_count: c.summary.debit_count,
            debit_amount: c.summary.debit_amount.to_string(),
            credit_count: c.summary.credit_count,
            credit_amount: c.summary.credit_amount.to_string(),
        }
    }
}

/// A transaction as JS sees it.
// The text fields borrow from the view, and ids, numbers and amounts are
// written as text straight into the JSON: the record is serialized at
// once, so making Strings of them first bought nothing (`to_string` of a
// sale's five was 3 % of its time in the wasm).
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TxnRecord<'a> {
    #[tsify(type = "string")]
    id: IdText,
    #[tsify(type = "TxnKind")]
    kind: &'static str,
    #[tsify(type = "TxnState")]
    state: &'static str,
    #[tsify(type = "string")]
    amount: AmountText,
    currency: &'static str,
    #[tsify(type = "string")]
    trace_no: TraceNo,
    #[tsify(type = "string")]
    batch_no: BatchNo,
    #[tsify(type = "string | null")]
    rrn: Option<&'a str>,
    #[tsify(type = "string | null")]
    auth_code: Option<&'a str>,
    #[tsify(type = "string | null")]
    response_code: Option<&'a str>,
    masked_pan: &'a str,
    #[tsify(type = "\"bank_card\" | \"qr_wallet\" | \"prepaid\"")]
    payment_method: &'static str,
    #[tsify(type = "string")]
    refundable: AmountText,
    /// For an open pre-auth: the most a completion may capture.
    #[tsify(optional, type = "string")]
    #[serde(skip_serializing_if = "Option::is_none")]
    completable: Option<AmountText>,
    operator_id: &'a str,
    #[tsify(type = "string | null")]
    original_id: Option<IdText>,
    #[tsify(type = "string | null")]
    reason: Option<&'a str>,
    approved_by: Vec<&'a str>,
    created_at: f64,
}

/// A transaction id as JS sees it, `T00000042` (what `Display` writes),
/// written without a `String`.
struct IdText(TxnId);

impl Serialize for IdText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.text().as_str())
    }
}

/// An amount as JS sees it, `"12.34"` (what `Display` writes).
struct AmountText(Money);

impl Serialize for AmountText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Serialize::serialize(&self.0.amount(), s)
    }
}

impl<'a> TxnRecord<'a> {
    pub(crate) fn from_view(v: &TxnView<'a>) -> TxnRecord<'a> {
        let t = v.txn;
        let r = &t.request;
        let (rrn, auth_code, response_code) = match &t.state {
            TxnState::Approved { rrn, auth_code, .. } => {
                (rrn.as_deref(), auth_code.as_deref(), Some("00"))
            }
            TxnState::Declined { code } => (None, None, Some(code.as_str())),
            TxnState::Sent
            | TxnState::InDoubt { .. }
            | TxnState::ManualReview { .. }
            | TxnState::Reversed { .. } => (None, None, None),
        };
        TxnRecord {
            id: IdText(t.id),
            kind: r.kind.as_str(),
            state: v.status.as_str(),
            amount: AmountText(r.amount),
            currency: r.amount.currency().code(),
            trace_no: r.trace_no,
            batch_no: r.batch_no,
            rrn,
            auth_code,
            response_code,
            masked_pan: &r.card.masked_pan,
            payment_method: match r.card.method {
                posflow_core::card::PaymentMethod::BankCard => "bank_card",
                posflow_core::card::PaymentMethod::QrWallet => "qr_wallet",
                posflow_core::card::PaymentMethod::Prepaid => "prepaid",
            },
            refundable: AmountText(v.refundable),
            completable: v.completable.map(AmountText),
            operator_id: &r.operator_id,
            original_id: r.original.map(IdText),
            reason: r.reason.as_deref(),
            approved_by: r.approvals.iter().map(|a| a.operator_id.as_str()).collect(),
            created_at: r.at.0 as f64,
        }
    }
}

/// Milliseconds since the epoch from JS, as a `Timestamp`: a whole,
/// non-negative number within `Date`'s range.
pub(crate) fn timestamp(field: &str, ms: f64) -> Result<Timestamp, PosError> {
    if ms.is_finite() && ms.fract() == 0.0 && (0.0..=8.64e15).contains(&ms) {
        Ok(Timestamp(ms as i64))
    } else {
        Err(PosError::invalid_input(
            field,
            "milliseconds since the epoch",
            &ms.to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_written_as_display_writes_it() {
        for n in [
            0,
            1,
            9,
            10,
            42,
            99_999_999,
            100_000_000,
            1_234_567_890,
            u64::MAX,
        ] {
            let json = posflow_core::json::to_string(&IdText(TxnId(n)));
            assert_eq!(json, format!("\"{}\"", TxnId(n)));
            assert_eq!(json, format!("\"T{n:08}\""));
        }
    }

    /// The record's ids, numbers and amounts are the texts `Display` gives
    /// (what they were when they were Strings).
    #[test]
    fn a_record_writes_its_fields_as_their_text() {
        use posflow_core::acquirer::SimulatedAcquirer;
        use posflow_core::driver::{demo_config_with, Driver};
        use posflow_core::policy::Policy;
        use posflow_core::terminal::Terminal as CoreTerminal;

        let now = Timestamp(1_795_140_000_000);
        let config = demo_config_with(Policy {
            pin_hash_iterations: 1,
            ..Policy::default()
        });
        let mut term = CoreTerminal::open(config, Vec::new(), now).unwrap();
        term.sign_in("01", "1234", now).unwrap();
        let mut host = SimulatedAcquirer::new(3);
        let mut d = Driver::new(&mut term, &mut host);
        let card = Card::from_pan("6222020200112233445").unwrap();
        let amount = Money::parse("1234.50", Currency::Cny).unwrap();
        let sale = d.run(Command::Sale { amount, card }, "k1", now).unwrap();
        let refund = d
            .refund(
                &posflow_core::planner::RefundOriginal::Journal(OriginalSelector::Id(sale)),
                Some(Money::parse("0.50", Currency::Cny).unwrap()),
                "return",
                vec![posflow_core::operator::ApprovalInput {
                    operator_id: "90".into(),
                    pin: "246810".into(),
                }],
                None,
                "k2",
                now,
            )
            .unwrap();
        drop(d);
        for id in [sale, refund] {
            let view = term.view(id, now).unwrap();
            let json: serde_json::Value =
                serde_json::from_str(&posflow_core::json::to_string(&TxnRecord::from_view(&view)))
                    .unwrap();
            let r = &view.txn.request;
            assert_eq!(json["id"], id.to_string());
            assert_eq!(json["amount"], r.amount.to_string());
            assert_eq!(json["traceNo"], r.trace_no.to_string());
            assert_eq!(json["batchNo"], r.batch_no.to_string());
            assert_eq!(json["refundable"], view.refundable.to_string());
            match r.original {
                Some(o) => assert_eq!(json["originalId"], o.to_string()),
                None => assert!(json["originalId"].is_null()),
            }
        }
    }
}
