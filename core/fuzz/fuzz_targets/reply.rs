//! Whatever a host sends back: any replies (JSON, one per line) handed to
//! a terminal waiting for one. Afterwards the invariants hold and a replay
//! of the journal gives the same state.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posflow_core::prelude::*;

const T0: Timestamp = Timestamp(1_795_365_000_000);

/// A terminal with one approved sale, and a second sale sent and waiting
/// for its reply.
fn waiting() -> (TerminalConfig, Terminal) {
    let config = demo_config();
    let mut term = Terminal::open(config.clone(), Vec::new(), T0).unwrap();
    term.sign_in("01", "1234", T0).unwrap();
    let mut host = SimulatedAcquirer::new(1);
    let sale = |amount| Command::Sale {
        amount: Money::parse(amount, Currency::Cny).unwrap(),
        card: Card::from_pan("6222020200112233445").unwrap(),
    };
    Driver::new(&mut term, &mut host)
        .run(sale("100.00"), "k1", T0)
        .unwrap();
    let submitted = term.execute(sale("5.00"), "k2", T0).unwrap();
    assert!(submitted.request.is_some());
    (config, term)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // What one exchange brought back: a reply per line.
    let replies: Vec<HostReply> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if replies.is_empty() {
        return;
    }
    thread_local! {
        static BASE: (TerminalConfig, Terminal) = waiting();
    }
    let (config, mut term) = BASE.with(|b| b.clone());
    let now = Timestamp(T0.0 + 1_000);
    term.handle_exchange(Ok(replies), now);
    term.check_invariants(now).unwrap();
    let replayed = Terminal::replay(config, term.journal().entries().to_vec(), now).unwrap();
    assert!(replayed.state() == term.state(), "replay differs");
});
