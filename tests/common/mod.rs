//! Helpers shared by the browser test suites.
#![allow(dead_code)] // each suite uses its own subset

use posflow::{SimulatedAcquirer, Terminal};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Evaluates a JS expression, so inputs can hold what JSON cannot
/// (`NaN`, `undefined`, `10n`, getters).
pub fn js(expr: &str) -> JsValue {
    js_sys::Function::new_no_args(&format!("return ({expr});"))
        .call0(&JsValue::NULL)
        .unwrap_or_else(|e| panic!("bad test JS {expr}: {e:?}"))
}

/// Parses JSON text (inputs that JSON can hold).
pub fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).expect("test JSON")
}

pub fn get(v: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(v, &name.into()).unwrap()
}

pub fn text(v: &JsValue, name: &str) -> String {
    get(v, name)
        .as_string()
        .unwrap_or_else(|| panic!("{name} is not a string in {v:?}"))
}

/// The `code` of a thrown `PosError` (and checks it is one).
pub fn code(err: &JsValue) -> String {
    assert_eq!(text(err, "name"), "PosError", "{err:?}");
    assert!(get(err, "details").is_object(), "{err:?}");
    text(err, "code")
}

pub async fn wait(p: js_sys::Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

/// A unique name, so suites do not see each other's storage.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        js_sys::Date::now(),
        (js_sys::Math::random() * 1e9) as u64
    )
}

/// `{ log, send }`: passes requests to a simulated acquirer and records
/// each one's message type in `log`, in order.
pub fn recording_host(sim: SimulatedAcquirer) -> JsValue {
    js_sys::Function::new_with_args(
        "sim",
        "return { log: [], send(r) { this.log.push(r.message); return sim.send(r); } };",
    )
    .call1(&JsValue::NULL, &JsValue::from(sim))
    .unwrap()
}

/// A host whose promise never settles (the connection hangs); records too.
pub fn hanging_host() -> JsValue {
    js("{ log: [], send(r) { this.log.push(r.message); return new Promise(() => {}); } }")
}

pub fn log(host: &JsValue) -> Vec<String> {
    js_sys::Array::from(&get(host, "log"))
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect()
}

pub fn sim() -> SimulatedAcquirer {
    SimulatedAcquirer::new(js("{ seed: 7 }")).unwrap()
}

/// The open config with `storage` (a JS expression) and `host`.
pub fn config(storage: &str, host: &JsValue) -> JsValue {
    let config = js(&format!(
        r#"{{ merchantId: "898440350480001", terminalId: "10000001", currency: "CNY",
             storage: {storage}, locale: "en",
             policy: {{ pinHashIterations: 1000, hostTimeoutMs: 60000 }},
             operators: [{{ id: "01", role: "cashier", pin: "1234" }},
                         {{ id: "90", role: "supervisor", pin: "246810" }},
                         {{ id: "91", role: "supervisor", pin: "135790" }}] }}"#
    ));
    js_sys::Reflect::set(&config, &"host".into(), host).unwrap();
    config
}

pub async fn open(storage: &str, host: &JsValue) -> Terminal {
    Terminal::open(config(storage, host)).await.expect("opens")
}

pub async fn sign_in(term: &Terminal) {
    wait(term.sign_in(js(r#"{ operatorId: "01", pin: "1234" }"#)))
        .await
        .expect("signs in");
}

pub async fn sale(term: &Terminal, amount: &str, key: &str) -> Result<JsValue, JsValue> {
    wait(term.sale(js(&format!(
        r#"{{ amount: "{amount}", card: {{ pan: "6222020200112233445" }}, key: "{key}" }}"#
    ))))
    .await
}

pub fn states(term: &Terminal) -> Vec<(String, String)> {
    js_sys::Array::from(&term.transactions(JsValue::UNDEFINED).unwrap())
        .iter()
        .map(|r| (text(&r, "kind"), text(&r, "state")))
        .collect()
}

/// Closes and waits until the writer lock is free.
pub async fn close(term: &Terminal) {
    wait(term.close()).await.unwrap();
}

/// Waits until no page holds any lock: how a page that went away (a crash,
/// a reload) lets go of its journal.
pub async fn locks_released() {
    let poll = js(r#"async () => {
        for (let i = 0; i < 100; i++) {
            const { held } = await navigator.locks.query();
            if (held.length === 0) return;
            await new Promise((r) => setTimeout(r, 10));
        }
        throw new Error("a lock is still held");
    }"#);
    let poll: js_sys::Function = poll.unchecked_into();
    wait(poll.call0(&JsValue::NULL).unwrap().unchecked_into())
        .await
        .unwrap();
}
