//! The terminals the targets run against, shared with `seeds.rs` so that
//! the corpus is made for the very terminal each target opens.
#![allow(dead_code)]
use posflow_core::host::HostRequest;
use posflow_core::prelude::*;

/// 2026-11-23 02:30 UTC.
pub const T0: Timestamp = Timestamp(1_795_365_000_000);

/// A sale on the demo's debit card.
pub fn sale(amount: &str) -> Command {
    Command::Sale {
        amount: Money::parse(amount, Currency::Cny).unwrap(),
        card: Card::from_pan("6222020200112233445").unwrap(),
    }
}

/// The demo terminal signed in at `T0`, and its acquirer.
fn opened(config: TerminalConfig) -> (Terminal, SimulatedAcquirer) {
    let mut term = Terminal::open(config, Vec::new(), T0).unwrap();
    term.sign_in("01", "1234", T0).unwrap();
    (term, SimulatedAcquirer::new(1))
}

/// Three approved sales a minute apart: what the statements reconcile against.
pub fn three_sales() -> (Terminal, SimulatedAcquirer) {
    let (mut term, mut host) = opened(demo_config());
    for (i, amount) in ["100.00", "5.00", "0.01"].into_iter().enumerate() {
        let now = Timestamp(T0.0 + i as i64 * 60_000);
        Driver::new(&mut term, &mut host)
            .run(sale(amount), &format!("k{i}"), now)
            .unwrap();
    }
    (term, host)
}

/// One approved sale, and a second one sent and waiting for its reply:
/// the terminal's config, the terminal, the request and its acquirer.
pub fn waiting() -> (TerminalConfig, Terminal, HostRequest, SimulatedAcquirer) {
    let config = demo_config();
    let (mut term, mut host) = opened(config.clone());
    Driver::new(&mut term, &mut host)
        .run(sale("100.00"), "k1", T0)
        .unwrap();
    let request = term
        .execute(sale("5.00"), "k2", T0)
        .unwrap()
        .request
        .unwrap();
    (config, term, request, host)
}
