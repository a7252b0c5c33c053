//! The JSON of journal records and acquirer statement lines, pinned.
//!
//! Their deserializers are written by hand (serde's derive for tagged and
//! flattened enums buffers every object, and was the largest code in the
//! wasm), while serialization stays derived. The texts below were written
//! by the derived serializer and read by the derived deserializer before
//! the change; each must still read, and write back byte for byte.

use posflow_core::acquirer::{LineStatus, StatementLine};
use posflow_core::record::{Purpose, Record, TxnId};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One record of each type, in the journal's format.
const RECORDS: [&str; 13] = [
    r#"{"type":"opened","merchant_id":"898310148160001","terminal_id":"00000001","currency":"CNY","at":1700000000000}"#,
    r#"{"type":"signed_in","operator_id":"01","at":1700000000001}"#,
    r#"{"type":"pin_rejected","operator_id":"02","at":1700000000002}"#,
    r#"{"type":"operator_locked","operator_id":"02","until":1700000900000,"at":1700000000003}"#,
    r#"{"type":"requested","kind":"refund","key":"k1","fingerprint":"refund|100.00|T00000003","amount":{"amount":"100.00","currency":"CNY"},"card":{"maskedPan":"622202*********3445","method":"bank_card","foreign":false},"traceNo":"000004","batchNo":"000001","original":3,"operatorId":"01","approvals":[{"operatorId":"09","role":"supervisor"}],"reason":"returned goods","fallback":{"route":"settlement_account","holderName":"张*","bank":"ICBC","account":"****1234","reasons":["WINDOW_PASSED"]},"voucher":{"date":"2023-11-14","amount":{"amount":"100.00","currency":"CNY"},"rrn":"123456789012","authCode":"A1B2C3","traceNo":"000003","batchNo":"000001","card":{"maskedPan":"622202*********3445","method":"bank_card","foreign":false}},"at":1700000000004}"#,
    r#"{"type":"sent","purpose":{"for":"request","txn":4},"at":1700000000005}"#,
    r#"{"type":"settlement_sent","batch_no":"000001","summary":{"debitCount":2,"debitAmount":{"amount":"200.00","currency":"CNY"},"creditCount":1,"creditAmount":{"amount":"100.00","currency":"CNY"}},"at":1700000000006}"#,
    r#"{"type":"answered","purpose":{"for":"settlement","batch_no":"000001"},"code":"00","rrn":"123456789013","auth_code":"A1B2C4","balanced":true,"at":1700000000007}"#,
    r#"{"type":"unanswered","purpose":{"for":"reversal","txn":4,"attempt":2},"cause":"lost_reply","at":1700000000008}"#,
    r#"{"type":"late_reply","txn":4,"code":"00","at":1700000000009}"#,
    r#"{"type":"manual_review","txn":4,"at":1700000000010}"#,
    r#"{"type":"refund_outcome","txn":4,"outcome":"credited","reference":"TR-1","operator_id":"01","approvals":[{"operatorId":"09","role":"supervisor"},{"operatorId":"10","role":"admin"}],"at":1700000000011}"#,
    r#"{"type":"review_resolved","txn":4,"resolution":{"approved":{"rrn":"123456789014","auth_code":null}},"approvals":[{"operatorId":"09","role":"supervisor"}],"at":1700000000012}"#,
];

/// Optional fields left out or null, and the other shapes of nested enums.
const MORE_RECORDS: [&str; 6] = [
    r#"{"type":"requested","kind":"sale","key":"k2","fingerprint":"sale|1.00","amount":{"amount":"1.00","currency":"CNY"},"card":{"maskedPan":"622202*********3445","method":"bank_card","foreign":true},"traceNo":"000005","batchNo":"000001","original":null,"operatorId":"01","approvals":[],"reason":null,"at":1700000000013}"#,
    r#"{"type":"answered","purpose":{"for":"request","txn":4},"code":"05","rrn":null,"auth_code":null,"balanced":null,"at":1700000000014}"#,
    r#"{"type":"refund_outcome","txn":4,"outcome":"returned","reference":null,"operator_id":null,"approvals":[],"at":1700000000015}"#,
    r#"{"type":"review_resolved","txn":4,"resolution":"reversed","approvals":[],"at":1700000000016}"#,
    r#"{"type":"sent","purpose":{"for":"upload","batch_no":"000001","from":8},"at":1700000000017}"#,
    r#"{"type":"unanswered","purpose":{"for":"upload_end","batch_no":"000001"},"cause":"timeout","at":1700000000018}"#,
];

/// One purpose of each kind.
const PURPOSES: [&str; 7] = [
    r#"{"for":"request","txn":4}"#,
    r#"{"for":"reversal","txn":4,"attempt":1}"#,
    r#"{"for":"query","txn":4}"#,
    r#"{"for":"advice","txn":7}"#,
    r#"{"for":"settlement","batch_no":"000001"}"#,
    r#"{"for":"upload","batch_no":"000001","from":0}"#,
    r#"{"for":"upload_end","batch_no":"000002"}"#,
];

/// One statement line of each status, and a status alone.
const LINES: [&str; 4] = [
    r#"{"batchNo":"000001","traceNo":"000001","message":"sale","amount":{"amount":"100.00","currency":"CNY"},"maskedPan":"622202*********3445","method":"bank_card","foreign":false,"rrn":"123456789012","authCode":"A1B2C3","status":"approved","at":1700000000000}"#,
    r#"{"batchNo":"000001","traceNo":"000002","message":"refund","amount":null,"maskedPan":null,"method":null,"foreign":false,"rrn":null,"authCode":null,"status":"declined","code":"51","at":1700000000001}"#,
    r#"{"batchNo":"000001","traceNo":"000003","message":"sale","amount":{"amount":"1.00","currency":"CNY"},"maskedPan":"622202*********0073","method":"bank_card","foreign":true,"rrn":"123456789013","authCode":"A1B2C4","status":"reversed","at":1700000000002}"#,
    r#"{"batchNo":"000002","traceNo":"000004","message":"refund","amount":{"amount":"1.00","currency":"CNY"},"maskedPan":"622202*********0072","method":"bank_card","foreign":false,"rrn":"123456789014","authCode":null,"status":"returned","reason":"card_cancelled","at":1700000000003}"#,
];

const STATUSES: [&str; 4] = [
    r#"{"status":"approved"}"#,
    r#"{"status":"declined","code":"05"}"#,
    r#"{"status":"reversed"}"#,
    r#"{"status":"returned","reason":"batch_not_uploaded"}"#,
];

/// Reads `text`, writes it back identical, and reads that back equal.
fn pinned<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(text: &str) -> T {
    let value: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let written = serde_json::to_string(&value).unwrap();
    assert_eq!(written, text);
    // The journal writes (and hashes) through posflow's own writer.
    assert_eq!(posflow_core::json::to_string(&value), text);
    assert_eq!(serde_json::from_str::<T>(&written).unwrap(), value);
    value
}

fn refused<T: DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
    match serde_json::from_str::<T>(text) {
        Ok(v) => panic!("{text} was read as {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_record_type_keeps_its_format() {
    let mut seen: Vec<&str> = RECORDS
        .iter()
        .map(|text| pinned::<Record>(text).type_name())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), RECORDS.len(), "one text per type");
    for text in MORE_RECORDS {
        pinned::<Record>(text);
    }
}

/// The history kept as text is indexed by transaction without parsing
/// it: the text gives the same answer as the record.
#[test]
fn a_record_names_its_transaction_in_its_text() {
    for text in RECORDS.iter().chain(&MORE_RECORDS) {
        let record = pinned::<Record>(text);
        assert_eq!(Record::txn_of_json(9, text), record.txn(9), "{text}");
    }
    assert_eq!(
        Record::txn_of_json(9, RECORDS[4]),
        Some(TxnId(9)),
        "a request is its own transaction"
    );
    // A reason, a reference or a key holding the same characters is
    // escaped in the text, and not taken for the key.
    let tricky = r#"{"type":"refund_outcome","txn":4,"outcome":"credited","reference":"\"txn\":77","operator_id":null,"approvals":[],"at":1}"#;
    assert_eq!(Record::txn_of_json(9, tricky), Some(TxnId(4)));
    let first = r#"{"type":"settlement_sent","batch_no":"\"txn\":5","summary":{"debitCount":0,"debitAmount":{"amount":"0.00","currency":"CNY"},"creditCount":0,"creditAmount":{"amount":"0.00","currency":"CNY"}},"at":1}"#;
    assert_eq!(Record::txn_of_json(9, first), None);
}

#[test]
fn every_purpose_keeps_its_format() {
    let purposes: Vec<Purpose> = PURPOSES.iter().map(|t| pinned(t)).collect();
    for (i, p) in purposes.iter().enumerate() {
        assert!(!purposes[..i].contains(p));
    }
}

#[test]
fn every_line_status_keeps_its_format() {
    let lines: Vec<StatementLine> = LINES.iter().map(|t| pinned(t)).collect();
    let statuses: Vec<LineStatus> = STATUSES.iter().map(|t| pinned(t)).collect();
    let of_lines: Vec<LineStatus> = lines.into_iter().map(|l| l.status).collect();
    assert_eq!(of_lines[0], statuses[0]);
    assert_eq!(of_lines[2], statuses[2]);
    assert!(matches!(of_lines[1], LineStatus::Declined { ref code } if code == "51"));
    assert!(matches!(of_lines[3], LineStatus::Returned { .. }));
}

#[test]
fn optional_fields_may_be_left_out_and_unknown_ones_are_ignored() {
    // As with the derived readers: a missing `Option` is `None`, and
    // fields no variant has are skipped.
    let short = r#"{"type":"answered","purpose":{"for":"query","txn":4},"code":"00","at":1}"#;
    let full = r#"{"type":"answered","purpose":{"for":"query","txn":4},"code":"00","rrn":null,"auth_code":null,"balanced":null,"at":1}"#;
    assert_eq!(
        serde_json::from_str::<Record>(short).unwrap(),
        serde_json::from_str::<Record>(full).unwrap()
    );
    let extra = r#"{"type":"manual_review","txn":4,"note":{"deep":[1,2]},"at":1}"#;
    let plain = r#"{"type":"manual_review","txn":4,"at":1}"#;
    assert_eq!(
        serde_json::from_str::<Record>(extra).unwrap(),
        serde_json::from_str::<Record>(plain).unwrap()
    );
    let extra = r#"{"for":"advice","txn":7,"attempt":3}"#;
    assert_eq!(
        serde_json::from_str::<Purpose>(extra).unwrap(),
        serde_json::from_str::<Purpose>(PURPOSES[3]).unwrap()
    );
    let line = LINES[0].replace(r#""at":"#, r#""note":"x","at":"#);
    assert_eq!(
        serde_json::from_str::<StatementLine>(&line).unwrap(),
        serde_json::from_str::<StatementLine>(LINES[0]).unwrap()
    );
}

#[test]
fn malformed_records_are_refused() {
    let cases: [(&str, &str); 9] = [
        (
            r#"{"at":1,"type":"manual_review","txn":4}"#,
            r#"the "type" field must come first, found "at""#,
        ),
        (
            r#"{"purpose":{"for":"request","txn":4},"type":"sent","at":1}"#,
            "must come first",
        ),
        (r#"{"type":"closed","at":1}"#, "unknown variant `closed`"),
        (r#"{"type":"manual_review","at":1}"#, "missing field `txn`"),
        (
            r#"{"type":"manual_review","txn":"4","at":1}"#,
            "invalid type",
        ),
        (r#"{"type":7,"txn":4,"at":1}"#, "expected value"),
        (r#"{}"#, "missing field `type`"),
        (r#"["manual_review",4,1]"#, "invalid type"),
        (r#""opened""#, "invalid type"),
    ];
    for (text, expected) in cases {
        let error = refused::<Record>(text);
        assert!(error.contains(expected), "{text}: {error}");
    }
    let nested = r#"{"type":"sent","purpose":{"txn":4,"for":"request"},"at":1}"#;
    assert!(refused::<Record>(nested).contains(r#"the "for" field must come first"#));
    for text in [
        r#"{"for":"reversal","txn":4}"#,
        r#"{"for":"refund","txn":4}"#,
        r#"{"for":"upload","batch_no":1,"from":0}"#,
        r#"{"txn":4}"#,
    ] {
        refused::<Purpose>(text);
    }
}

#[test]
fn inconsistent_line_statuses_are_refused() {
    let cases: [(&str, &str); 6] = [
        (r#"{"status":"declined"}"#, "missing field `code`"),
        (r#"{"status":"returned"}"#, "missing field `reason`"),
        (r#"{"status":"approved","code":"05"}"#, "code"),
        (
            r#"{"status":"reversed","reason":"card_cancelled"}"#,
            "reason",
        ),
        (r#"{"status":"settled"}"#, "unknown variant `settled`"),
        (r#"{"code":"05"}"#, "missing field `status`"),
    ];
    assert!(refused::<LineStatus>(r#"["declined","05"]"#).contains("invalid type"));
    let array =
        r#"["000001","000001","sale",null,null,null,false,null,null,"approved",null,null,1]"#;
    assert!(refused::<StatementLine>(array).contains("invalid type"));
    for (text, expected) in cases {
        let error = refused::<LineStatus>(text);
        assert!(error.contains(expected), "{text}: {error}");
        let line = LINES[0].replace(r#""status":"approved""#, &text[1..text.len() - 1]);
        let error = refused::<StatementLine>(&line);
        assert!(error.contains(expected), "{line}: {error}");
    }
}
