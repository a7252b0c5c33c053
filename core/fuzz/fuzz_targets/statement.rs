//! An acquirer's statement file, as CSV and as JSON: read, reconciled
//! against a terminal with three sales, and written back. Nothing may
//! panic; a bad file is `STATEMENT_MALFORMED`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posflow_core::prelude::*;
use posflow_core::reconcile::{reconcile, Statement};

#[path = "common.rs"]
mod common;
use common::{three_sales, T0};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    thread_local! {
        static TERM: Terminal = three_sales().0;
    }
    let now = Timestamp(T0.0 + 2 * 86_400_000);
    for read in [
        Statement::from_csv(text, Currency::Cny),
        Statement::from_json(text),
    ] {
        if let Ok(statement) = read {
            TERM.with(|term| {
                let _ = reconcile(term, &statement, now);
            });
            let _ = statement.to_csv();
            let _ = statement.to_json();
        }
    }
});
