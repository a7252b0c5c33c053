//! What the scenario table, the model, the tamper and snapshot tests share: a
//! fast terminal configuration, a host that records the wire, the replay
//! check of DESIGN.md invariant 7, and a seeded generator.
//!
//! Each test file uses a different part of this, hence the `dead_code` allow.
#![allow(dead_code)]

use std::collections::VecDeque;

use posflow_core::acquirer::Fault;
use posflow_core::host::{HostReply, HostRequest, MessageType, NoReply};
use posflow_core::prelude::*;

/// The demo operators and their PINs.
pub const OPERATORS: [(&str, Role, &str); 3] = [
    ("01", Role::Cashier, "1234"),
    ("90", Role::Supervisor, "246810"),
    ("91", Role::Supervisor, "135790"),
];

/// The PIN of a demo operator.
pub fn pin_of(operator_id: &str) -> &'static str {
    OPERATORS
        .iter()
        .find(|(id, ..)| *id == operator_id)
        .map(|(_, _, pin)| *pin)
        .unwrap_or_else(|| panic!("no demo operator {operator_id}"))
}

/// `demo_config()`'s shape in `currency`, with one PBKDF2 round per PIN so
/// that thousands of sign-ins and approvals cost nothing.
pub fn fast_config(currency: Currency) -> TerminalConfig {
    TerminalConfig {
        currency,
        ..posflow_core::driver::demo_config_with(Policy {
            pin_hash_iterations: 1,
            ..Policy::default()
        })
    }
}

/// One thing that crossed the wire, as the host side saw it.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Wire {
    /// A request went out, with the fault the host applied to it.
    Sent {
        /// The request.
        request: HostRequest,
        /// The fault, if one was queued.
        fault: Option<Fault>,
    },
    /// The replies that came back to it (two when duplicated).
    Replies(Vec<HostReply>),
    /// No reply came.
    NoReply(NoReply),
    /// Replies that arrived late and were handed to the terminal.
    Late(Vec<HostReply>),
}

/// A [`SimulatedAcquirer`] that records every request and answer, owns the
/// fault queue (so it knows which fault hit which request), and can hold
/// late replies back until a test delivers them.
pub struct Recorder {
    /// The simulated acquirer behind it.
    pub inner: SimulatedAcquirer,
    /// Faults for the next requests, in order.
    pub faults: VecDeque<Fault>,
    /// Everything that crossed the wire, in order.
    pub log: Vec<Wire>,
    /// While set, `take_late` hands nothing to the driver.
    pub hold_late: bool,
}

impl Recorder {
    /// A recorder in front of `SimulatedAcquirer::new(seed)`.
    pub fn new(seed: u64) -> Recorder {
        Recorder {
            inner: SimulatedAcquirer::new(seed),
            faults: VecDeque::new(),
            log: Vec::new(),
            hold_late: false,
        }
    }

    /// Queues a fault for the next request.
    pub fn inject(&mut self, fault: Fault) {
        self.faults.push_back(fault);
    }

    /// The message types sent, in order.
    pub fn messages(&self) -> Vec<MessageType> {
        self.log
            .iter()
            .filter_map(|w| match w {
                Wire::Sent { request, .. } => Some(request.message),
                _ => None,
            })
            .collect()
    }

    /// The last reply the host gave, if any.
    pub fn last_reply(&self) -> Option<&HostReply> {
        self.log.iter().rev().find_map(|w| match w {
            Wire::Replies(r) | Wire::Late(r) => r.last(),
            _ => None,
        })
    }

    /// Late replies the acquirer holds, taken regardless of `hold_late`.
    pub fn release_late(&mut self, now: Timestamp) -> Vec<HostReply> {
        let late = self.inner.take_late(now);
        if !late.is_empty() {
            self.log.push(Wire::Late(late.clone()));
        }
        late
    }
}

impl Host for Recorder {
    fn send(&mut self, request: &HostRequest, now: Timestamp) -> Result<Vec<HostReply>, NoReply> {
        let fault = self.faults.pop_front();
        if let Some(f) = &fault {
            self.inner.inject(f.clone());
        }
        self.log.push(Wire::Sent {
            request: request.clone(),
            fault,
        });
        let result = self.inner.send(request, now);
        self.log.push(match &result {
            Ok(replies) => Wire::Replies(replies.clone()),
            Err(cause) => Wire::NoReply(*cause),
        });
        result
    }

    fn take_late(&mut self, now: Timestamp) -> Vec<HostReply> {
        if self.hold_late {
            Vec::new()
        } else {
            self.release_late(now)
        }
    }
}

/// Invariant 7: the terminal's state is what replaying its journal produces.
///
/// `Terminal::open` does two things besides replaying, and the comparison
/// accounts for both by doing the same to a clone of the live terminal
/// rather than by skipping fields:
///
/// - it recovers an exchange that was outstanding (appends "unanswered:
///   restart"), so the clone gets `handle_no_reply(NoReply::Restart)` at the
///   same `now`, which appends the same record;
/// - it forgets who was signed in, so whoever was signed in signs in again on
///   both (the same record on both sides; it also zeroes that operator's
///   wrong-PIN count on both, the one thing this normalisation could hide).
///
/// Then the whole `State` and the whole journal must be equal. A halted
/// terminal cannot do either, so it must equal the replayed one as it stands
/// (the scenario table halts only when nothing is outstanding).
pub fn check_replay(term: &Terminal, config: TerminalConfig, now: Timestamp) -> Result<(), String> {
    let replayed = replay(term, config, now)?;
    compare_replay(term, &replayed, now)
}

/// The first half of [`check_replay`]: the journal reopened at `now`, with
/// whoever is signed in on `term` signed in again. A pure function of the
/// journal, `now` and who is signed in, so a caller may reuse it while those
/// stay the same.
pub fn replay(term: &Terminal, config: TerminalConfig, now: Timestamp) -> Result<Terminal, String> {
    same_text_as_serde_json(term)?;
    let mut replayed = Terminal::open(config, term.journal().entries().to_vec(), now)
        .map_err(|e| format!("the journal does not reopen: {e}"))?;
    if let Some(op) = term.signed_in() {
        replayed
            .sign_in(op, pin_of(op), now)
            .map_err(|e| format!("sign-in after replay: {e}"))?;
    }
    Ok(replayed)
}

/// Every entry as posflow writes (and hashes) it is the text serde_json
/// writes: the journals of earlier builds, written by serde_json, must
/// still check. The last 32 entries: a caller checks after each step.
fn same_text_as_serde_json(term: &Terminal) -> Result<(), String> {
    let entries = term.journal().entries();
    for entry in &entries[entries.len().saturating_sub(32)..] {
        let ours = posflow_core::json::to_string(entry);
        let theirs = serde_json::to_string(entry).map_err(|e| e.to_string())?;
        if ours != theirs {
            return Err(format!("posflow writes {ours}\nserde_json writes {theirs}"));
        }
    }
    Ok(())
}

/// The second half of [`check_replay`].
pub fn compare_replay(term: &Terminal, replayed: &Terminal, now: Timestamp) -> Result<(), String> {
    // Fast path, without cloning the live terminal: nothing was outstanding
    // and the replayed side, signed in again, already equals the live one.
    // Then signing the live side in too would change nothing but append the
    // same record, so the full comparison below would pass as well.
    let n = term.journal().len();
    let fast = term.outstanding().is_none()
        && replayed.journal().len() == n + usize::from(term.signed_in().is_some())
        && replayed.journal().entries()[..n] == *term.journal().entries()
        && replayed.state() == term.state();
    if fast {
        return Ok(());
    }
    let mut live = term.clone();
    let running = live.halted().is_none();
    if running && live.outstanding().is_some() {
        live.handle_no_reply(NoReply::Restart, now)
            .map_err(|e| format!("restart recovery on the live terminal: {e}"))?;
    }
    if let Some(op) = term.signed_in() {
        if running {
            live.sign_in(op, pin_of(op), now)
                .map_err(|e| format!("sign-in on the live terminal: {e}"))?;
        }
    }
    if replayed.journal().entries() != live.journal().entries() {
        return Err(format!(
            "replay appended other records: live has {}, replay {}",
            live.journal().len(),
            replayed.journal().len()
        ));
    }
    if replayed.state() != live.state() {
        let cut = |s: String| s.chars().take(6000).collect::<String>();
        return Err(format!(
            "replayed state differs\n--- live ---\n{}\n--- replayed ---\n{}",
            cut(format!("{:#?}", live.state())),
            cut(format!("{:#?}", replayed.state()))
        ));
    }
    Ok(())
}

/// A small deterministic generator (SplitMix64) for seeded tests.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An index into something `len` long (len > 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}
