//! Opening a terminal by replaying its journal an entry at a time, so a
//! caller can replay a long journal in steps (issue 9: restoring a year's
//! backup must not freeze the screen for seconds). Each entry is checked
//! against the chain as it comes ([`crate::journal::read_entry`] for text,
//! [`crate::journal::check_entry`] for a parsed entry) and then applied;
//! [`Terminal::open`] and [`Terminal::replay`] are this in one go.

use super::{State, Terminal, TerminalConfig};
use crate::error::{JournalDamage, PosError};
use crate::journal::{self, Entry, Journal};
use crate::record::Record;
use crate::time::Timestamp;

/// A terminal being rebuilt from its journal, entry by entry.
#[derive(Debug)]
pub struct Replay {
    terminal: Terminal,
    /// A buffer for the entries' texts, reused.
    scratch: Vec<u8>,
}

impl Replay {
    /// A replay for the terminal `config` describes, with no entry yet.
    pub fn new(config: TerminalConfig) -> Result<Replay, PosError> {
        config.validate()?;
        Ok(Replay {
            terminal: Terminal::from_parts(config, State::new(), Journal::new()),
            scratch: Vec::with_capacity(1024),
        })
    }

    /// How many entries have been replayed.
    pub fn len(&self) -> u64 {
        self.terminal.journal.len() as u64
    }

    /// Whether no entry has been replayed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replays the next entry from its text (a storage row, or an entry of
    /// an export): refused with `JOURNAL_DAMAGED` unless it is the text
    /// the journal wrote for the entry that follows, and with
    /// `JOURNAL_MISMATCH` when the journal is another terminal's.
    pub fn push_text(&mut self, text: &str) -> Result<(), PosError> {
        let journal = &self.terminal.journal;
        let entry = journal::read_entry(
            journal.len() as u64,
            journal.head(),
            text,
            &mut self.scratch,
        )?;
        self.apply(entry)
    }

    /// Replays the next entry, parsed: [`Replay::push_text`] for an entry
    /// that is not text.
    pub fn push(&mut self, entry: Entry<Record>) -> Result<(), PosError> {
        let journal = &self.terminal.journal;
        journal::check_entry(
            journal.len() as u64,
            journal.head(),
            &entry,
            &mut self.scratch,
        )?;
        self.apply(entry)
    }

    fn apply(&mut self, entry: Entry<Record>) -> Result<(), PosError> {
        if entry.seq == 0 {
            match &entry.record {
                Record::Opened {
                    merchant_id,
                    terminal_id,
                    currency,
                    ..
                } => super::snapshot::check_identity(
                    &self.terminal.config,
                    merchant_id,
                    terminal_id,
                    *currency,
                )?,
                other => {
                    return Err(PosError::JournalDamaged {
                        damage: JournalDamage::Malformed,
                        seq: 0,
                        what: format!("first record is {}, not opened", other.type_name()),
                    })
                }
            }
        }
        self.terminal.state.apply(entry.seq, &entry.record);
        self.terminal.journal.push_checked(entry);
        Ok(())
    }

    /// The terminal exactly as its journal leaves it: an exchange that was
    /// outstanding stays so ([`Terminal::replay`]). A new terminal (no
    /// entry) begins its journal with `opened` at `now`, not yet taken to
    /// persist.
    pub fn finish(self, now: Timestamp) -> Terminal {
        let mut terminal = self.terminal;
        if terminal.journal.is_empty() {
            terminal.append(Record::Opened {
                merchant_id: terminal.config.merchant_id.clone(),
                terminal_id: terminal.config.terminal_id.clone(),
                currency: terminal.config.currency,
                at: now,
            });
        } else {
            terminal.taken = terminal.journal.len();
        }
        terminal
    }

    /// The terminal as a restart leaves it ([`Terminal::open`]): what
    /// [`Replay::finish`] gives, with an outstanding financial request in
    /// doubt (its reversal goes out first) and nobody signed in.
    pub fn open(self, now: Timestamp) -> Terminal {
        let mut terminal = self.finish(now);
        terminal.recover(now);
        terminal
    }
}
