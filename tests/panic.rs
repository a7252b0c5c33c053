//! After a panic the module refuses further work with `INTERNAL`. Its own
//! suite: a panic poisons the whole wasm instance, as it should.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use posflow::Terminal;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_panic_halts_the_terminal_and_later_calls_answer_internal() {
    let term = open(r#"{ kind: "memory" }"#, &recording_host(sim())).await;
    sign_in(&term).await;
    sale(&term, "1.00", "before").await.unwrap();
    let journal = term.export_journal().unwrap();

    // Through JS, as a page would meet it: the trap is a thrown RuntimeError.
    let panics = Closure::<dyn Fn()>::new(posflow::panic_for_test);
    let thrown = panics
        .as_ref()
        .unchecked_ref::<js_sys::Function>()
        .call0(&JsValue::NULL)
        .expect_err("a panic traps");
    assert!(!get(&thrown, "message").is_undefined());

    let err = sale(&term, "2.00", "after").await.unwrap_err();
    assert_eq!(code(&err), "INTERNAL");
    assert!(text(&err, "message").contains("posflow test panic"));
    assert_eq!(code(&term.export_journal().unwrap_err()), "INTERNAL");
    assert_eq!(
        code(&term.transactions(JsValue::UNDEFINED).unwrap_err()),
        "INTERNAL"
    );
    let err = Terminal::open(config(r#"{ kind: "memory" }"#, &recording_host(sim())))
        .await
        .err()
        .expect("open refused");
    assert_eq!(code(&err), "INTERNAL");
    assert!(!journal.is_empty());
}
