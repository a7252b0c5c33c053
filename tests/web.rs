//! What crosses the JS boundary, headless in Chromium: a sale end to end,
//! errors as `PosError` objects, and the reversal going out first.
#![cfg(target_arch = "wasm32")]

use posflow::{SimulatedAcquirer, Terminal};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).expect("test JSON")
}

fn get(v: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(v, &name.into()).unwrap()
}

fn text(v: &JsValue, name: &str) -> String {
    get(v, name)
        .as_string()
        .unwrap_or_else(|| panic!("{name} is not a string"))
}

async fn open(host: SimulatedAcquirer) -> Terminal {
    let config = json(
        r#"{"merchantId":"898440350480001","terminalId":"10000001","currency":"CNY",
            "storage":{"kind":"memory"},"locale":"en",
            "policy":{"pinHashIterations":1000},
            "operators":[{"id":"01","role":"cashier","pin":"1234"},
                         {"id":"90","role":"supervisor","pin":"246810"}]}"#,
    );
    js_sys::Reflect::set(&config, &"host".into(), &JsValue::from(host)).unwrap();
    let term = Terminal::open(config).await.expect("opens");
    JsFuture::from(term.sign_in(json(r#"{"operatorId":"01","pin":"1234"}"#)))
        .await
        .expect("signs in");
    term
}

async fn sale(term: &Terminal, body: &str) -> Result<JsValue, JsValue> {
    JsFuture::from(term.sale(json(body))).await
}

#[wasm_bindgen_test]
async fn a_sale_crosses_as_strings_and_comes_back_approved() {
    let term = open(SimulatedAcquirer::new(json(r#"{"seed":7}"#)).unwrap()).await;
    let r = sale(
        &term,
        r#"{"amount":"88.8","card":{"pan":"6222020200112233445"},"key":"k1"}"#,
    )
    .await
    .expect("approved");
    assert_eq!(text(&r, "state"), "approved");
    assert_eq!(text(&r, "kind"), "sale");
    assert_eq!(text(&r, "amount"), "88.80");
    assert_eq!(text(&r, "currency"), "CNY");
    assert_eq!(text(&r, "traceNo"), "000001");
    assert_eq!(text(&r, "batchNo"), "000001");
    assert_eq!(text(&r, "maskedPan"), "622202*********3445");
    assert_eq!(text(&r, "refundable"), "88.80");
    assert_eq!(text(&r, "rrn").len(), 12);
    assert_eq!(text(&r, "authCode").len(), 6);
    assert!(!term.export_journal().unwrap().contains("6222020200112233445"));
}

#[wasm_bindgen_test]
async fn bad_input_is_a_pos_error_and_changes_nothing() {
    let term = open(SimulatedAcquirer::new(JsValue::UNDEFINED).unwrap()).await;
    let before = term.export_journal().unwrap();
    let cases = [
        (
            r#"{"amount":88.8,"card":{"pan":"6222020200112233445"},"key":"k"}"#,
            "INVALID_INPUT",
        ),
        (
            r#"{"amount":"10.001","card":{"pan":"6222020200112233445"},"key":"k"}"#,
            "INVALID_AMOUNT",
        ),
        (
            r#"{"amount":"NaN","card":{"pan":"6222020200112233445"},"key":"k"}"#,
            "INVALID_AMOUNT",
        ),
        (
            r#"{"amount":"1","card":{"pan":"1234"},"key":"k"}"#,
            "INVALID_INPUT",
        ),
        (
            r#"{"amount":"1","card":{"pan":"6222020200112233445"},"key":"k","extra":1}"#,
            "INVALID_INPUT",
        ),
        (
            r#"{"amount":"1","card":{"pan":"6222020200112233445"}}"#,
            "INVALID_INPUT",
        ),
        (r#"null"#, "INVALID_INPUT"),
    ];
    for (body, code) in cases {
        let err = sale(&term, body).await.expect_err(body);
        assert_eq!(text(&err, "name"), "PosError", "{body}");
        assert_eq!(text(&err, "code"), code, "{body}");
        assert!(get(&err, "details").is_object());
    }
    assert_eq!(term.export_journal().unwrap(), before);
}

#[wasm_bindgen_test]
async fn a_timeout_is_in_doubt_and_the_reversal_goes_first() {
    let host = SimulatedAcquirer::new(JsValue::UNDEFINED).unwrap();
    host.inject(json(r#"{"next":"timeout"}"#)).unwrap();
    let term = open(host).await;
    let first = sale(
        &term,
        r#"{"amount":"10.00","card":{"pan":"6222020200112233445"},"key":"a"}"#,
    )
    .await
    .unwrap();
    assert_eq!(text(&first, "state"), "in_doubt");
    let second = sale(
        &term,
        r#"{"amount":"20.00","card":{"pan":"6222020200112233445"},"key":"b"}"#,
    )
    .await
    .unwrap();
    assert_eq!(text(&second, "state"), "approved");
    let all = term.transactions(JsValue::UNDEFINED).unwrap();
    let first_now = js_sys::Array::from(&all).get(1);
    assert_eq!(text(&first_now, "state"), "reversed");
}
