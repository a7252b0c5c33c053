//! Whatever a host sends back: any replies (JSON, one per line) handed to
//! a terminal waiting for one. Afterwards the invariants hold and a replay
//! of the journal gives the same state.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posflow_core::prelude::*;

#[path = "common.rs"]
mod common;
use common::{waiting, T0};

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
        static BASE: (TerminalConfig, Terminal) = {
            let (config, term, _, _) = waiting();
            (config, term)
        };
    }
    let (config, mut term) = BASE.with(|b| b.clone());
    let now = Timestamp(T0.0 + 1_000);
    term.handle_exchange(Ok(replies), now);
    term.check_invariants(now).unwrap();
    let replayed = Terminal::replay(config, term.journal().entries().to_vec(), now).unwrap();
    assert!(replayed.state() == term.state(), "replay differs");
});
