//! An acquirer's statement file, as CSV and as JSON: read, reconciled
//! against a terminal with three sales, and written back. Nothing may
//! panic; a bad file is `STATEMENT_MALFORMED`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posflow_core::prelude::*;
use posflow_core::reconcile::{reconcile, Statement};

const T0: Timestamp = Timestamp(1_795_365_000_000);

/// The terminal the seeds' statement was made for (`seeds.rs`).
fn three_sales() -> Terminal {
    let mut term = Terminal::open(demo_config(), Vec::new(), T0).unwrap();
    term.sign_in("01", "1234", T0).unwrap();
    let mut host = SimulatedAcquirer::new(1);
    for (i, amount) in ["100.00", "5.00", "0.01"].into_iter().enumerate() {
        let sale = Command::Sale {
            amount: Money::parse(amount, Currency::Cny).unwrap(),
            card: Card::from_pan("6222020200112233445").unwrap(),
        };
        let now = Timestamp(T0.0 + i as i64 * 60_000);
        Driver::new(&mut term, &mut host)
            .run(sale, &format!("k{i}"), now)
            .unwrap();
    }
    term
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    thread_local! {
        static TERM: Terminal = three_sales();
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
