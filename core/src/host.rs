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
use crate::record::Kind;
use crate::terminal::message_type;
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

impl MessageType {
    /// Whether the request moves money on its own: the message of a kind
    /// of transaction ([`message_type`]), not a reversal, a query or the
    /// batch's.
    pub fn is_financial(self) -> bool {
        Kind::ALL.into_iter().any(|k| message_type(k) == self)
    }
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

/// Whether `text` is a retrieval reference number: 12 letters or digits,
/// as acquirers issue them.
pub fn is_rrn(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `text` is a response code (ISO 8583 field 39): two digits or
/// capital letters.
pub fn is_response_code(text: &str) -> bool {
    text.len() == 2
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// Checks a retrieval reference number given for `field` ([`is_rrn`]).
pub fn check_rrn(field: &str, rrn: &str) -> Result<(), crate::error::PosError> {
    if is_rrn(rrn) {
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

impl HostReply {
    /// Checks that the reply can be read: a response code
    /// ([`is_response_code`]); an RRN, where there is one, of 12 letters or
    /// digits ([`is_rrn`]), and one on every approval of a financial
    /// request or of a query (the original route's refunds, the vouchers
    /// and the acquirer's statement name the transaction by it); an auth
    /// code, where there is one, of at most 6 letters, digits or spaces;
    /// `balanced` on every approval of a settlement.
    ///
    /// A reply that cannot be read is no reply: its request stays in doubt
    /// and is reversed (Rule 4); a settlement leaves its batch open, to be
    /// settled again. Taking `"0"` or `"00 "` for a decline
    /// would tell the cashier to ask for the money again while the host may
    /// have taken it. Says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        if !is_response_code(&self.code) {
            return Err(format!(
                "response code {} is not two digits or capital letters",
                shown(&self.code)
            ));
        }
        if let Some(rrn) = self.rrn.as_deref().filter(|r| !is_rrn(r)) {
            return Err(format!("RRN {} is not 12 letters or digits", shown(rrn)));
        }
        let auth_ok = |a: &str| {
            (1..=6).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        };
        if let Some(auth) = self.auth_code.as_deref().filter(|a| !auth_ok(a)) {
            return Err(format!(
                "auth code {} is not 1 to 6 letters, digits or spaces",
                shown(auth)
            ));
        }
        let names_a_transaction = self.message.is_financial() || self.message == MessageType::Query;
        let approved = classify(&self.code) == ResponseClass::Approved;
        if names_a_transaction && approved && self.rrn.is_none() {
            return Err(format!("an approval ({}) without an RRN", self.code));
        }
        // Closing the batch as balanced on a reply that did not say so
        // would skip the batch upload an unbalanced one needs.
        if self.message == MessageType::Settlement && approved && self.balanced.is_none() {
            return Err(format!(
                "a settlement approval ({}) that does not say whether the totals agree",
                self.code
            ));
        }
        Ok(())
    }
}

/// `text` for an error: quoted when short, else its length.
fn shown(text: &str) -> String {
    if text.chars().count() <= 16 {
        format!("{text:?}")
    } else {
        format!("of {} characters", text.chars().count())
    }
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
    fn a_reply_is_read_only_with_a_code_an_rrn_and_an_auth_code_of_their_shapes() {
        let approval = HostReply {
            message: MessageType::Sale,
            trace_no: TraceNo::FIRST,
            amount: None,
            code: "00".into(),
            rrn: Some("1000000000A1".into()),
            auth_code: Some("123456".into()),
            balanced: None,
            host_time: Timestamp(0),
        };
        assert_eq!(approval.check(), Ok(()));
        let with = |change: fn(&mut HostReply)| {
            let mut r = approval.clone();
            change(&mut r);
            r.check()
        };
        // Readable: a decline without an RRN, a short auth code, a reversal
        // or a settlement approved without an RRN.
        for ok in [
            with(|r| (r.code, r.rrn, r.auth_code) = ("51".into(), None, None)),
            with(|r| r.code = "A0".into()),
            with(|r| r.auth_code = Some("12 4".into())),
            with(|r| (r.message, r.rrn, r.auth_code) = (MessageType::Reversal, None, None)),
            with(|r| (r.message, r.rrn, r.balanced) = (MessageType::Settlement, None, Some(false))),
            with(|r| (r.message, r.code, r.rrn) = (MessageType::Settlement, "12".into(), None)),
        ] {
            assert_eq!(ok, Ok(()));
        }
        for (bad, why) in [
            (with(|r| r.code = "0".into()), r#"response code "0" is"#),
            (with(|r| r.code = "00 ".into()), r#"response code "00 " is"#),
            (with(|r| r.code = "a0".into()), r#"response code "a0" is"#),
            (with(|r| r.code = String::new()), r#"response code "" is"#),
            (
                with(|r| r.code = "0".repeat(20)),
                "response code of 20 characters",
            ),
            (with(|r| r.rrn = Some("12345678901".into())), "RRN"),
            (with(|r| r.rrn = Some("1234567890-1".into())), "RRN"),
            (with(|r| r.auth_code = Some("1234567".into())), "auth code"),
            (with(|r| r.auth_code = Some(String::new())), "auth code"),
            (with(|r| r.rrn = None), "an approval (00) without an RRN"),
            (
                with(|r| (r.message, r.rrn) = (MessageType::Query, None)),
                "without an RRN",
            ),
            (
                with(|r| (r.message, r.rrn) = (MessageType::Refund, None)),
                "without an RRN",
            ),
            (
                with(|r| (r.message, r.rrn) = (MessageType::Settlement, None)),
                "whether the totals agree",
            ),
        ] {
            let err = bad.expect_err(why);
            assert!(err.contains(why), "{err:?} should say {why:?}");
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
