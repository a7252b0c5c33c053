//! JS shapes in and out. Input structs refuse unknown fields and wrong
//! types (a number where an amount string belongs is `INVALID_INPUT`);
//! output structs are camelCase with strings for amounts and ids.

use posflow_core::card::Card;
use posflow_core::error::PosError;
use posflow_core::host::TraceNo;
use posflow_core::money::{Currency, Money};
use posflow_core::operator::ApprovalInput;
use posflow_core::record::TxnId;
use posflow_core::terminal::{OriginalSelector, TxnState, TxnView};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::error::invalid;

/// The longest string any input field may hold; anything longer is refused
/// before it is looked at.
const MAX_FIELD_CHARS: usize = 256;

/// The largest input accepted, as JSON text: no command needs more than a
/// few hundred bytes; a journal import goes through its own path.
const MAX_INPUT_BYTES: usize = 64 * 1024;

/// Deserializes `value` into `T`, as `INVALID_INPUT` naming `what` on failure.
///
/// Goes through `JSON.stringify` and serde_json rather than
/// serde-wasm-bindgen, whose deserializer reads only the fields a struct
/// asks for and so never sees an unknown one (`deny_unknown_fields` would do
/// nothing). JSON also turns `NaN` and `Infinity` into `null`, which no
/// field accepts, and drops functions.
pub(crate) fn parse<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, PosError> {
    if value.is_undefined() || value.is_null() || !value.is_object() {
        return Err(PosError::invalid_input(what, "an object", "something else"));
    }
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
pub(crate) fn to_js<T: Serialize>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .expect("output types serialize")
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CardIn {
    pan: Option<String>,
    qr: Option<String>,
}

impl CardIn {
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct OriginalIn {
    id: Option<String>,
    trace_no: Option<String>,
    rrn: Option<String>,
}

impl OriginalIn {
    pub(crate) fn new(id: Option<String>, trace_no: Option<String>, rrn: Option<String>) -> Self {
        OriginalIn { id, trace_no, rrn }
    }

    pub(crate) fn selector(&self) -> Result<OriginalSelector, PosError> {
        match (&self.id, &self.trace_no, &self.rrn) {
            (Some(id), None, None) => TxnId::parse(id)
                .map(OriginalSelector::Id)
                .ok_or_else(|| PosError::invalid_input("original.id", "an id like T00000042", id)),
            (None, Some(t), None) => TraceNo::parse(t).map(OriginalSelector::TraceNo),
            (None, None, Some(r)) => {
                let ok = r.len() == 12 && r.bytes().all(|b| b.is_ascii_alphanumeric());
                if ok {
                    Ok(OriginalSelector::Rrn(r.clone()))
                } else {
                    Err(PosError::invalid_input(
                        "original.rrn",
                        "12 letters or digits",
                        r,
                    ))
                }
            }
            _ => Err(PosError::invalid_input(
                "original",
                "exactly one of { id }, { traceNo } or { rrn }",
                "none or several",
            )),
        }
    }
}

/// One approval, or two for dual control.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum ApprovalsIn {
    One(ApprovalIn),
    Many(Vec<ApprovalIn>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ApprovalIn {
    operator_id: String,
    pin: String,
}

impl ApprovalsIn {
    pub(crate) fn approvals(self) -> Result<Vec<ApprovalInput>, PosError> {
        let list = match self {
            ApprovalsIn::One(a) => vec![a],
            ApprovalsIn::Many(v) if v.len() <= 2 => v,
            ApprovalsIn::Many(_) => {
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

pub(crate) fn approvals(a: Option<ApprovalsIn>) -> Result<Vec<ApprovalInput>, PosError> {
    a.map_or(Ok(Vec::new()), ApprovalsIn::approvals)
}

pub(crate) fn money(field: &str, text: &str, currency: Currency) -> Result<Money, PosError> {
    Money::parse(bounded(field, text)?, currency)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SaleIn {
    pub amount: String,
    pub card: CardIn,
    pub key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct VoidIn {
    pub original: OriginalIn,
    pub approval: Option<ApprovalsIn>,
    pub key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CompleteIn {
    pub original: OriginalIn,
    pub amount: String,
    #[serde(default)]
    pub advice: bool,
    pub key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CancelIn {
    pub original: OriginalIn,
    pub key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SignInIn {
    pub operator_id: String,
    pub pin: String,
}

/// A transaction as JS sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecordOut {
    id: String,
    kind: &'static str,
    state: &'static str,
    amount: String,
    currency: &'static str,
    trace_no: String,
    batch_no: String,
    rrn: Option<String>,
    auth_code: Option<String>,
    response_code: Option<String>,
    masked_pan: String,
    payment_method: &'static str,
    refundable: String,
    operator_id: String,
    original_id: Option<String>,
    reason: Option<String>,
    approved_by: Vec<String>,
    created_at: f64,
}

impl RecordOut {
    pub(crate) fn from_view(v: &TxnView) -> RecordOut {
        let r = &v.txn.request;
        let (rrn, auth_code, response_code) = match &v.txn.state {
            TxnState::Approved { rrn, auth_code, .. } => {
                (rrn.clone(), auth_code.clone(), Some("00".into()))
            }
            TxnState::Declined { code } => (None, None, Some(code.clone())),
            TxnState::Sent
            | TxnState::InDoubt { .. }
            | TxnState::ManualReview { .. }
            | TxnState::Reversed { .. } => (None, None, None),
        };
        RecordOut {
            id: v.txn.id.to_string(),
            kind: r.kind.as_str(),
            state: v.status.as_str(),
            amount: r.amount.to_string(),
            currency: r.amount.currency().code(),
            trace_no: r.trace_no.to_string(),
            batch_no: r.batch_no.to_string(),
            rrn,
            auth_code,
            response_code,
            masked_pan: r.card.masked_pan.clone(),
            payment_method: match r.card.method {
                posflow_core::card::PaymentMethod::BankCard => "bank_card",
                posflow_core::card::PaymentMethod::QrWallet => "qr_wallet",
                posflow_core::card::PaymentMethod::Prepaid => "prepaid",
            },
            refundable: v.refundable.to_string(),
            operator_id: r.operator_id.clone(),
            original_id: r.original.map(|o| o.to_string()),
            reason: r.reason.clone(),
            approved_by: r.approvals.iter().map(|a| a.operator_id.clone()).collect(),
            created_at: r.at.0 as f64,
        }
    }
}

/// An idempotency key: bounded like every other field.
pub(crate) fn key(field: &str, text: String) -> Result<String, PosError> {
    bounded(field, &text)?;
    Ok(text)
}
