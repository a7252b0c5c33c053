//! Messages between the terminal and the acquirer host, as values.
//!
//! The core builds a [`HostRequest`]; the caller's transport carries it and
//! hands back a [`HostReply`], or says that none came. Card data travels as
//! the masked PAN: on a smart-POS the card is read and the PIN encrypted by
//! the secure payment module, which exchanges the real card data with the
//! acquirer; this module decides and records, and never needs the PAN.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::card::Card;
use crate::money::Money;
use crate::time::Timestamp;

/// A 6-digit system trace number (凭证号, ISO 8583 field 11), 000001–999999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct TraceNo(u32);

/// A 6-digit batch number (批次号).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct BatchNo(u32);

macro_rules! six_digits {
    ($t:ident, $field:literal) => {
        impl $t {
            /// The first number, 000001.
            pub const FIRST: $t = $t(1);
            /// The last number before wrapping, 999999.
            pub const LAST: $t = $t(999_999);

            /// From a number in 1–999999.
            pub fn new(n: u32) -> Option<$t> {
                (1..=999_999).contains(&n).then_some($t(n))
            }

            /// The number.
            pub fn get(self) -> u32 {
                self.0
            }

            /// The next number, wrapping from 999999 to 000001.
            pub fn next(self) -> $t {
                if self.0 >= 999_999 {
                    $t(1)
                } else {
                    $t(self.0 + 1)
                }
            }

            /// The six digits, zero-padded, without allocating: journal
            /// records carry a few of these each and are serialized for
            /// every hash.
            fn digits(self) -> crate::digits::Digits {
                crate::digits::Digits::new(None, u64::from(self.0), 6)
            }

            /// Parses exactly six digits, 000001–999999.
            pub fn parse(text: &str) -> Result<$t, crate::error::PosError> {
                let ok = text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit());
                ok.then(|| text.parse().ok())
                    .flatten()
                    .and_then($t::new)
                    .ok_or_else(|| {
                        crate::error::PosError::invalid_input(
                            $field,
                            "6 digits, 000001 to 999999",
                            text,
                        )
                    })
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.digits().as_str())
            }
        }

        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.digits().as_str())
            }
        }

        impl TryFrom<String> for $t {
            type Error = crate::error::PosError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $t::parse(&s)
            }
        }

        impl From<$t> for String {
            fn from(t: $t) -> String {
                t.to_string()
            }
        }
    };
}
six_digits!(TraceNo, "traceNo");
six_digits!(BatchNo, "batchNo");

/// What a message asks of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
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
    /// 预授权完成（通知）: approved offline, told to the host afterwards.
    CompletionAdvice,
    /// 预授权完成撤销.
    CompletionVoid,
    /// 冲正: undo the request named by `original`.
    Reversal,
    /// 查询: what happened to the request named by `original`.
    Query,
    /// 结算: close the batch with its totals.
    Settlement,
    /// 批上送: after an unbalanced settlement, some of the batch's records.
    BatchUpload,
    /// 批上送结束: every record is uploaded; the host closes the batch.
    BatchUploadEnd,
}

/// The earlier request a void, refund, completion, reversal or query refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginalRef {
    /// The original's message type.
    pub message: MessageType,
    /// Its trace number.
    pub trace_no: TraceNo,
    /// Its batch number.
    pub batch_no: BatchNo,
    /// Its amount.
    pub amount: Money,
    /// Its RRN, when the host gave one.
    pub rrn: Option<String>,
    /// Its auth code, when the host gave one.
    pub auth_code: Option<String>,
    /// When it was made.
    pub at: Timestamp,
}

/// Totals sent with a settlement request (per type, net).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementSummary {
    /// Approved debits (sales, completions) still standing: count.
    pub debit_count: u32,
    /// Their amount.
    pub debit_amount: Money,
    /// Approved credits (refunds): count.
    pub credit_count: u32,
    /// Their amount.
    pub credit_amount: Money,
}

/// A request for the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostRequest {
    /// What is asked.
    pub message: MessageType,
    /// 15-character merchant id.
    pub merchant_id: String,
    /// 8-character terminal id.
    pub terminal_id: String,
    /// This request's trace number (a reversal or query carries the
    /// original's).
    pub trace_no: TraceNo,
    /// The open batch.
    pub batch_no: BatchNo,
    /// The amount, for financial requests.
    pub amount: Option<Money>,
    /// The card, masked.
    pub card: Option<Card>,
    /// The earlier request this one refers to.
    pub original: Option<OriginalRef>,
    /// Totals, for settlement (and the end of a batch upload).
    pub summary: Option<SettlementSummary>,
    /// Records, for a batch upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<Vec<UploadRecord>>,
    /// When the terminal built it.
    pub sent_at: Timestamp,
}

/// One record of a batch upload (批上送): a financial request as the
/// terminal holds it approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRecord {
    /// What it was.
    pub message: MessageType,
    /// Its trace number.
    pub trace_no: TraceNo,
    /// Its amount.
    pub amount: Money,
    /// The RRN the terminal holds, if any.
    pub rrn: Option<String>,
    /// The auth code the terminal holds, if any.
    pub auth_code: Option<String>,
    /// The original it acted on: batch and trace.
    pub original: Option<(BatchNo, TraceNo)>,
}

/// How a response code is to be treated (one table: [`classify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseClass {
    /// The host did it.
    Approved,
    /// The host definitively refused; retrying the same request will not help.
    Declined,
    /// The host refused for now; a new attempt (with a new key) may succeed.
    Retryable,
    /// The host does not know the outcome; treat as no reply.
    Unknown,
}

/// UnionPay-style response codes (ISO 8583 field 39) this module knows,
/// with their class and meaning. Any other code is `Declined`.
pub const RESPONSE_CODES: [(&str, ResponseClass, &str, &str); 14] = [
    ("00", ResponseClass::Approved, "承兑或交易成功", "approved"),
    ("05", ResponseClass::Declined, "不予承兑", "do not honour"),
    (
        "12",
        ResponseClass::Declined,
        "无效交易",
        "invalid transaction",
    ),
    ("13", ResponseClass::Declined, "无效金额", "invalid amount"),
    ("14", ResponseClass::Declined, "无效卡号", "invalid card"),
    (
        "25",
        ResponseClass::Declined,
        "找不到原始交易",
        "original not found",
    ),
    (
        "51",
        ResponseClass::Retryable,
        "余额不足",
        "insufficient funds",
    ),
    ("54", ResponseClass::Declined, "过期的卡", "expired card"),
    (
        "61",
        ResponseClass::Retryable,
        "超出金额限制",
        "exceeds amount limit",
    ),
    (
        "62",
        ResponseClass::Declined,
        "受限制的卡",
        "restricted card",
    ),
    (
        "94",
        ResponseClass::Declined,
        "重复交易",
        "duplicate transmission",
    ),
    (
        "96",
        ResponseClass::Unknown,
        "系统异常",
        "system malfunction",
    ),
    (
        "98",
        ResponseClass::Unknown,
        "发卡方无应答",
        "no reply from issuer",
    ),
    (
        "A0",
        ResponseClass::Unknown,
        "MAC 校验错",
        "MAC verification failed",
    ),
];

/// Checks a retrieval reference number given for `field`: 12 letters or
/// digits, as acquirers issue them.
pub fn check_rrn(field: &str, rrn: &str) -> Result<(), crate::error::PosError> {
    if rrn.len() == 12 && rrn.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(crate::error::PosError::invalid_input(
            field,
            "12 letters or digits",
            rrn,
        ))
    }
}

/// The class of a response code.
pub fn classify(code: &str) -> ResponseClass {
    RESPONSE_CODES
        .iter()
        .find(|(c, ..)| *c == code)
        .map_or(ResponseClass::Declined, |(_, class, ..)| *class)
}

/// The meaning of a response code, in both languages.
pub fn describe(code: &str) -> (&'static str, &'static str) {
    RESPONSE_CODES
        .iter()
        .find(|(c, ..)| *c == code)
        .map_or(("交易失败", "declined"), |(_, _, zh, en)| (*zh, *en))
}

/// The host's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostReply {
    /// Echoes the request's message type.
    pub message: MessageType,
    /// Echoes the request's trace number.
    pub trace_no: TraceNo,
    /// Echoes the request's amount.
    pub amount: Option<Money>,
    /// The 2-character response code.
    pub code: String,
    /// The 12-character RRN the host assigned.
    pub rrn: Option<String>,
    /// The 6-character auth code, on approvals.
    pub auth_code: Option<String>,
    /// For settlement: whether the host's totals agree.
    pub balanced: Option<bool>,
    /// The host's clock.
    pub host_time: Timestamp,
}

/// Why no reply came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoReply {
    /// Nothing within the policy's host timeout.
    Timeout,
    /// A reply was lost on the way back (the transport knows it sent).
    LostReply,
    /// The transport failed (connection refused, reset, TLS error).
    TransportError,
    /// The terminal restarted while the request was outstanding.
    Restart,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_numbers_wrap_and_parse() {
        assert_eq!(TraceNo::LAST.next(), TraceNo::FIRST);
        assert_eq!(TraceNo::parse("000042").unwrap().get(), 42);
        for bad in ["000000", "42", "1000000", "00004a", "-00001"] {
            assert_eq!(
                TraceNo::parse(bad).unwrap_err().code(),
                "INVALID_INPUT",
                "{bad}"
            );
        }
        assert_eq!(BatchNo::new(7).unwrap().to_string(), "000007");
    }

    #[test]
    fn six_digit_numbers_print_and_serialize_zero_padded() {
        for n in [1, 7, 42, 100_000, 123_456, 999_999] {
            let padded = format!("{n:06}");
            let trace = TraceNo::new(n).unwrap();
            let batch = BatchNo::new(n).unwrap();
            assert_eq!(trace.to_string(), padded);
            assert_eq!(String::from(batch), padded);
            let json = serde_json::to_string(&(trace, batch)).unwrap();
            assert_eq!(json, format!("[\"{padded}\",\"{padded}\"]"));
            assert_eq!(
                serde_json::from_str::<(TraceNo, BatchNo)>(&json).unwrap(),
                (trace, batch)
            );
        }
    }

    #[test]
    fn each_code_has_one_class() {
        assert_eq!(classify("00"), ResponseClass::Approved);
        assert_eq!(classify("51"), ResponseClass::Retryable);
        assert_eq!(classify("96"), ResponseClass::Unknown);
        assert_eq!(classify("Z9"), ResponseClass::Declined);
        let mut codes: Vec<_> = RESPONSE_CODES.iter().map(|r| r.0).collect();
        codes.dedup();
        assert_eq!(codes.len(), RESPONSE_CODES.len());
    }
}
