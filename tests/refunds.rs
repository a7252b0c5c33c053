//! The refund side of the JS API, headless in Chromium: the planner's
//! decision before anything is sent, a void and a refund carried out from
//! plans, a fallback recorded masked and confirmed, and a refund by time
//! range.
#![cfg(target_arch = "wasm32")]

use posflow::{SimulatedAcquirer, Terminal};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

mod common;
use common::{get, json, text};

wasm_bindgen_test_configure!(run_in_browser);

const DAY_MS: f64 = 86_400_000.0;

/// A terminal whose clock is `clock` (ms), read on every call.
async fn open(clock: &js_sys::Float64Array) -> Terminal {
    let config = json(
        r#"{"merchantId":"898440350480001","terminalId":"10000001","currency":"CNY",
            "storage":{"kind":"memory"},"locale":"en",
            "policy":{"pinHashIterations":1000},
            "operators":[{"id":"01","role":"cashier","pin":"1234"},
                         {"id":"90","role":"supervisor","pin":"246810"},
                         {"id":"91","role":"supervisor","pin":"135790"}]}"#,
    );
    let host = SimulatedAcquirer::new(json(r#"{"seed":3}"#)).unwrap();
    js_sys::Reflect::set(&config, &"host".into(), &JsValue::from(host)).unwrap();
    let now = js_sys::Function::new_with_args("", "return this[0]").bind0(clock);
    js_sys::Reflect::set(&config, &"now".into(), &now).unwrap();
    let term = Terminal::open(config).await.expect("opens");
    JsFuture::from(term.sign_in(json(r#"{"operatorId":"01","pin":"1234"}"#)))
        .await
        .expect("signs in");
    term
}

async fn sale(term: &Terminal, amount: &str, key: &str) -> JsValue {
    let body =
        format!(r#"{{"amount":"{amount}","card":{{"pan":"6222020200112233445"}},"key":"{key}"}}"#);
    JsFuture::from(term.sale(json(&body))).await.expect("sale")
}

const SUP: &str = r#"{"operatorId":"90","pin":"246810"}"#;
const TWO: &str = r#"[{"operatorId":"90","pin":"246810"},{"operatorId":"91","pin":"135790"}]"#;

#[wasm_bindgen_test]
async fn a_plan_says_void_then_refund_then_fallback() {
    // Friday 2026-11-20, 10:00 in Beijing.
    let clock = js_sys::Float64Array::new_with_length(1);
    clock.set_index(0, 1_795_140_000_000.0);
    let term = open(&clock).await;
    let s = sale(&term, "100.00", "k1").await;
    let id = text(&s, "id");

    let plan = term
        .plan_refund(json(&format!(r#"{{"original":{{"id":"{id}"}}}}"#)))
        .unwrap();
    assert_eq!(text(&plan, "action"), "void");
    assert_eq!(text(&plan, "status"), "awaiting_approval");
    assert_eq!(text(&plan, "amount"), "100.00");
    let reasons = js_sys::Array::from(&get(&plan, "reasons"));
    assert_eq!(text(&reasons.get(0), "code"), "VOID_SAME_BATCH");

    // A partial refund goes back on the original route, arriving in 1–3
    // business days: Monday to Wednesday.
    let plan = term
        .plan_refund(json(&format!(
            r#"{{"original":{{"id":"{id}"}},"amount":"30.00"}}"#
        )))
        .unwrap();
    assert_eq!(text(&plan, "action"), "refund");
    let arrival = get(&plan, "expectedArrival");
    assert_eq!(text(&arrival, "earliest"), "2026-11-23");
    assert_eq!(text(&arrival, "latest"), "2026-11-25");
    let r = JsFuture::from(term.refund(json(&format!(
        r#"{{"original":{{"id":"{id}"}},"amount":"30.00","reason":"wrong size",
            "approval":{SUP},"key":"r1"}}"#
    ))))
    .await
    .expect("refund");
    assert_eq!(text(&r, "kind"), "refund");
    assert_eq!(text(&r, "state"), "approved");
    // The refund management list: by operator and time range.
    let mine = js_sys::Array::from(
        &term
            .transactions(json(r#"{"operatorId":"01","kind":"refund"}"#))
            .unwrap(),
    );
    assert_eq!(mine.length(), 1);
    let others = js_sys::Array::from(&term.transactions(json(r#"{"operatorId":"02"}"#)).unwrap());
    assert_eq!(others.length(), 0);
    let later = js_sys::Array::from(
        &term
            .transactions(json(r#"{"from":1895140000000}"#))
            .unwrap(),
    );
    assert_eq!(later.length(), 0);
    let bad = term.transactions(json(r#"{"from":1.5}"#)).unwrap_err();
    assert_eq!(text(&bad, "code"), "INVALID_INPUT");
    // The refused value is named.
    assert!(
        text(&bad, "message").contains("1.5"),
        "{}",
        text(&bad, "message")
    );
    let list = js_sys::Array::from(&term.refunds(JsValue::UNDEFINED).unwrap());
    assert_eq!(list.length(), 1);
    assert_eq!(text(&list.get(0), "status"), "accepted");
    assert_eq!(
        text(&get(&list.get(0), "nextStep"), "code"),
        "WAIT_FOR_ARRIVAL"
    );

    // 31 days on, the window has passed: a fallback, two approvers, and the
    // customer's account recorded masked.
    clock.set_index(0, 1_795_140_000_000.0 + 31.0 * DAY_MS);
    let plan = term
        .plan_refund(json(&format!(
            r#"{{"original":{{"id":"{id}"}},"amount":"20.00"}}"#
        )))
        .unwrap();
    assert_eq!(text(&plan, "action"), "fallback");
    assert_eq!(js_sys::Array::from(&get(&plan, "approvals")).length(), 2);
    let missing = JsFuture::from(term.refund(json(&format!(
        r#"{{"original":{{"id":"{id}"}},"amount":"20.00","reason":"late return",
            "approval":{TWO},"key":"r2"}}"#
    ))))
    .await
    .unwrap_err();
    assert_eq!(text(&missing, "code"), "FALLBACK_DETAILS_REQUIRED");
    let f = JsFuture::from(term.refund(json(&format!(
        r#"{{"original":{{"id":"{id}"}},"amount":"20.00","reason":"late return",
            "approval":{TWO},"key":"r2",
            "destination":{{"route":"settlement_account","holderName":"张三",
                            "bank":"中国银行","account":"6217000010001234567"}}}}"#
    ))))
    .await
    .expect("fallback recorded");
    let fid = text(&f, "id");
    assert!(!term
        .export_journal()
        .unwrap()
        .contains("6217000010001234567"));
    let tracked = js_sys::Array::from(&term.refunds(json(r#"{"status":"accepted"}"#)).unwrap());
    let fallback = tracked.get(0);
    assert_eq!(text(&fallback, "route"), "settlement_account");
    assert_eq!(text(&fallback, "destinationAccount"), "***************4567");
    assert_eq!(
        text(&get(&fallback, "nextStep"), "code"),
        "TRANSFER_AND_CONFIRM"
    );
    let done = JsFuture::from(term.confirm_fallback(json(&format!(
        r#"{{"refund":{{"id":"{fid}"}},"reference":"BOC20261221001"}}"#
    ))))
    .await
    .expect("confirmed");
    assert_eq!(text(&done, "status"), "credited");
    assert_eq!(text(&done, "reference"), "BOC20261221001");
}

#[wasm_bindgen_test]
async fn a_time_range_refund_says_what_it_did_and_skipped() {
    let clock = js_sys::Float64Array::new_with_length(1);
    let start = 1_795_140_000_000.0;
    clock.set_index(0, start);
    let term = open(&clock).await;
    sale(&term, "10.00", "a").await;
    sale(&term, "20.00", "b").await;
    let declined = JsFuture::from(term.sale(json(
        r#"{"amount":"5.00","card":{"pan":"6222020200000051"},"key":"c"}"#,
    )))
    .await
    .expect("answered");
    assert_eq!(text(&declined, "state"), "declined");
    clock.set_index(0, start + 60_000.0);
    let body = format!(
        r#"{{"from":{start},"to":{},"reason":"event cancelled","approval":{SUP},"keyPrefix":"evt"}}"#,
        start + 1.0
    );
    let summary = JsFuture::from(term.refund_range(json(&body)))
        .await
        .expect("summary");
    let refunded = js_sys::Array::from(&get(&summary, "refunded"));
    let skipped = js_sys::Array::from(&get(&summary, "skipped"));
    assert_eq!(refunded.length(), 2, "both approved sales are voided");
    assert_eq!(text(&refunded.get(0), "action"), "void");
    assert_eq!(skipped.length(), 1);
    let plan = get(&skipped.get(0), "plan");
    let reasons = js_sys::Array::from(&get(&plan, "reasons"));
    assert_eq!(text(&reasons.get(0), "code"), "ORIGINAL_DECLINED");
    // Run again: nothing is refunded twice; the summary names the same
    // transactions.
    let journal = term.export_journal().unwrap();
    let again = JsFuture::from(term.refund_range(json(&body)))
        .await
        .expect("summary");
    let again = js_sys::Array::from(&get(&again, "refunded"));
    assert_eq!(again.length(), 2);
    for i in 0..2 {
        let id = |a: &js_sys::Array| text(&get(&a.get(i), "record"), "id");
        assert_eq!(id(&again), id(&refunded));
    }
    assert_eq!(term.export_journal().unwrap(), journal);
}
