//! DESIGN.md invariant 7: a changed, dropped or reordered record is detected.
//!
//! A realistic day is produced through the Driver (sales, a void, refunds, a
//! timeout and its reversal, pre-auths with a completion, a cancel and an
//! offline advice, a declined card, a duplicated and a late reply, a wrong
//! PIN, a settlement, work in the next batch): about fifty records. Its
//! export then takes 10,000 random single mutations — a character changed to
//! another printable one, a record dropped, two records swapped, a record
//! duplicated, the text cut at a random point, the entries cut to fewer
//! records — and every mutated text must fail `Journal::import_json` with
//! `JOURNAL_DAMAGED`. A mutation that leaves the text as it was is skipped
//! (and counted).
//!
//! The same holds for a restore as the binding runs it, in steps: the
//! export cut into its entries (`ExportReader`) and each replayed from its
//! text (`Replay::push_text`); it names the same damage as the import.
//!
//! Rewriting the header's `head` hash along with a cut is not among the
//! mutations: whoever can recompute hashes can forge the whole chain, which
//! the journal's docs say it does not defend against.
//!
//! Deterministic: `POSFLOW_TAMPER_SEED` (default below) seeds a SplitMix64,
//! and each mutation's generator is derived from the seed and its index, so
//! a failure names both and reproduces alone.

mod common;

use common::{fast_config, Recorder, SplitMix64};
use posflow_core::acquirer::Fault;
use posflow_core::error::JournalDamage;
use posflow_core::journal::{Export, ExportReader, Journal};
use posflow_core::prelude::*;
use posflow_core::terminal::Replay;

const MUTATIONS: u64 = 10_000;
const DEFAULT_SEED: u64 = 0x5EED_2026_1122;
const T0: Timestamp = Timestamp(1_795_365_000_000);

/// A day at a till, through the Driver, as `export_json` hands it out.
fn realistic_day() -> Journal<Record> {
    let config = fast_config(Currency::Cny);
    let mut term = Terminal::open(config, Vec::new(), T0).unwrap();
    term.sign_in("01", "1234", T0).unwrap();
    let mut host = Recorder::new(11);
    let cny = |s: &str| Money::parse(s, Currency::Cny).unwrap();
    let card = |pan: &str| Card::from_pan(pan).unwrap();
    let sup = || {
        vec![
            ApprovalInput {
                operator_id: "90".into(),
                pin: "246810".into(),
            },
            ApprovalInput {
                operator_id: "91".into(),
                pin: "135790".into(),
            },
        ]
    };
    let trace = |n| OriginalSelector::TraceNo(TraceNo::new(n).unwrap());
    let mut at = T0;
    let mut tick = || {
        at = Timestamp(at.0 + 97_000);
        at
    };
    let sale = |amount: &str, pan: &str| Command::Sale {
        amount: cny(amount),
        card: card(pan),
    };
    let refund = |d: &mut Driver<'_>, n, amount: &str, reason: &str, key: &str, at| {
        d.refund(
            &RefundOriginal::Journal(trace(n)),
            Some(cny(amount)),
            reason,
            sup(),
            None,
            key,
            at,
        )
    };

    let mut d = Driver::new(&mut term, &mut host);
    let pan = "6222021234567890123";
    // 1: a wrong amount, voided (2).
    d.run(sale("1000.00", pan), "k1", tick()).unwrap();
    d.run(
        Command::Void {
            original: trace(1),
            approvals: sup(),
        },
        "k2",
        tick(),
    )
    .unwrap();
    // 3, 4, and a partial refund of 4 (5) with a reason in Chinese.
    d.run(sale("100.00", pan), "k3", tick()).unwrap();
    d.run(sale("200.00", "5413330089020011"), "k4", tick())
        .unwrap();
    refund(&mut d, 4, "50.00", "顾客退货 customer return", "k5", tick()).unwrap();
    // 6 times out; the next sale (7) goes after its reversal.
    drop(d);
    host.inject(Fault::Timeout);
    let mut d = Driver::new(&mut term, &mut host);
    d.run(sale("300.00", pan), "k6", tick()).unwrap();
    d.run(sale("88.80", pan), "k7", tick()).unwrap();
    // 8: declined, insufficient funds.
    d.run(sale("9.99", "6222020200000051"), "k8", tick())
        .unwrap();
    // Pre-auths: 9 completed (10) at 104 %, 11 cancelled (12), 13 advised (14).
    let pre_auth = |amount: &str| Command::PreAuth {
        amount: cny(amount),
        card: card(pan),
    };
    d.run(pre_auth("500.00"), "k9", tick()).unwrap();
    d.run(
        Command::Complete {
            original: trace(9),
            amount: cny("520.00"),
            advice: false,
        },
        "k10",
        tick(),
    )
    .unwrap();
    d.run(pre_auth("100.00"), "k11", tick()).unwrap();
    d.run(
        Command::CancelPreAuth {
            original: trace(11),
        },
        "k12",
        tick(),
    )
    .unwrap();
    d.run(pre_auth("80.00"), "k13", tick()).unwrap();
    d.run(
        Command::Complete {
            original: trace(13),
            amount: cny("80.00"),
            advice: true,
        },
        "k14",
        tick(),
    )
    .unwrap();
    // A wrong supervisor PIN on a refund, then the right one (15).
    let wrong = vec![ApprovalInput {
        operator_id: "90".into(),
        pin: "999999".into(),
    }];
    let original = RefundOriginal::Journal(trace(3));
    let cents = Some(cny("10.00"));
    let refused = d.refund(&original, cents, "wrong item", wrong, None, "k15", tick());
    assert_eq!(refused.unwrap_err().code(), "WRONG_PIN");
    refund(&mut d, 3, "10.00", "wrong item", "k15", tick()).unwrap();
    drop(d);
    // 16: the reply comes twice; 17: the reply comes late, after its
    // reversal went out with the next sale (18).
    host.inject(Fault::DuplicateReply);
    host.inject(Fault::LateReply);
    let mut d = Driver::new(&mut term, &mut host);
    d.run(sale("12.34", pan), "k16", tick()).unwrap();
    d.run(sale("56.78", pan), "k17", tick()).unwrap();
    d.run(sale("90.12", pan), "k18", tick()).unwrap();
    // End of day, then the next batch: a refund of yesterday's sale (19)
    // and two more sales.
    d.settle(tick()).unwrap();
    refund(&mut d, 3, "20.00", "return after settlement", "k19", tick()).unwrap();
    d.run(sale("66.00", pan), "k20", tick()).unwrap();
    d.run(sale("77.00", pan), "k21", tick()).unwrap();
    drop(d);
    term.check_invariants(tick()).unwrap();
    assert!(term.closed_batches()[0].balanced);
    let journal = term.journal().clone();
    for kind in [
        "late_reply",
        "pin_rejected",
        "unanswered",
        "settlement_sent",
    ] {
        assert!(
            journal
                .entries()
                .iter()
                .any(|e| e.record.type_name() == kind),
            "the day has a {kind} record"
        );
    }
    journal
}

/// An export restored as the binding restores one, an entry at a time.
fn restore(text: &str) -> Result<Terminal, PosError> {
    let mut export = ExportReader::new(text)?;
    let mut replay = Replay::new(fast_config(Currency::Cny))?;
    while let Some(row) = export.next_entry()? {
        replay.push_text(row)?;
    }
    Ok(replay.open(T0))
}

#[test]
fn a_restore_in_steps_is_the_replay_of_the_journal() {
    let journal = realistic_day();
    let text = journal.export_json();
    let restored = restore(&text).unwrap();
    let replayed =
        Terminal::open(fast_config(Currency::Cny), journal.entries().to_vec(), T0).unwrap();
    assert_eq!(restored.state(), replayed.state());
    assert_eq!(restored.journal(), replayed.journal());
    assert_eq!(restored.journal().export_json(), text);

    // An empty export restores a new terminal, as an empty journal opens one.
    let empty = Journal::<Record>::new().export_json();
    assert_eq!(
        restore(&empty).unwrap().journal().len(),
        Terminal::open(fast_config(Currency::Cny), Vec::new(), T0)
            .unwrap()
            .journal()
            .len()
    );

    // Another terminal's journal is refused at its first record.
    let other = TerminalConfig {
        terminal_id: "10000002".into(),
        ..fast_config(Currency::Cny)
    };
    let mut export = ExportReader::new(&text).unwrap();
    let mut replay = Replay::new(other).unwrap();
    let first = export.next_entry().unwrap().unwrap();
    assert_eq!(
        replay.push_text(first).unwrap_err().code(),
        "JOURNAL_MISMATCH"
    );

    // An entry's text must be the one the journal wrote, not only the same
    // values: a space after a colon is a change.
    let mut replay = Replay::new(fast_config(Currency::Cny)).unwrap();
    let spaced = first.replacen(r#""seq":"#, r#""seq": "#, 1);
    match replay.push_text(&spaced) {
        Err(PosError::JournalDamaged { damage, seq: 0, .. }) => {
            assert_eq!(damage, JournalDamage::Changed)
        }
        other => panic!("expected JOURNAL_DAMAGED, got {other:?}"),
    }
    replay.push_text(first).unwrap();
    assert_eq!(replay.len(), 1);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    ChangeChar,
    DropRecord,
    SwapRecords,
    DuplicateRecord,
    CutText,
    CutRecords,
}

const ALL: [Mutation; 6] = [
    Mutation::ChangeChar,
    Mutation::DropRecord,
    Mutation::SwapRecords,
    Mutation::DuplicateRecord,
    Mutation::CutText,
    Mutation::CutRecords,
];

/// Applies one mutation; returns its kind, the text, what was done, and the damage
/// the import must name (for the structural ones).
fn mutate(
    text: &str,
    export: &Export<Record>,
    rng: &mut SplitMix64,
) -> (Mutation, String, String, Option<JournalDamage>) {
    let n = export.entries.len();
    let encode = |e: &Export<Record>| serde_json::to_string(e).unwrap();
    let kind = ALL[rng.index(ALL.len())];
    let (text, what, damage) = match kind {
        Mutation::ChangeChar => {
            let chars: Vec<char> = text.chars().collect();
            let at = rng.index(chars.len());
            let mut to = chars[at];
            while to == chars[at] {
                to = char::from(b' ' + rng.index(95) as u8);
            }
            let mut changed = chars.clone();
            changed[at] = to;
            let what = format!("char {at}: {:?} -> {to:?}", chars[at]);
            (changed.into_iter().collect(), what, None)
        }
        Mutation::DropRecord => {
            let i = rng.index(n);
            let fix_count = rng.index(2) == 1;
            let mut e = export.clone();
            e.entries.remove(i);
            if fix_count {
                e.count -= 1;
            }
            let damage = if i + 1 == n {
                JournalDamage::Truncated
            } else {
                JournalDamage::Dropped
            };
            let what = format!("drop record {i} of {n} (count fixed: {fix_count})");
            (encode(&e), what, Some(damage))
        }
        Mutation::SwapRecords => {
            let i = rng.index(n);
            let mut j = rng.index(n);
            while j == i {
                j = rng.index(n);
            }
            let mut e = export.clone();
            e.entries.swap(i, j);
            (
                encode(&e),
                format!("swap records {i} and {j}"),
                Some(JournalDamage::Reordered),
            )
        }
        Mutation::DuplicateRecord => {
            let i = rng.index(n);
            let mut e = export.clone();
            let copy = e.entries[i].clone();
            e.entries.insert(i + 1, copy);
            (
                encode(&e),
                format!("duplicate record {i}"),
                Some(JournalDamage::Reordered),
            )
        }
        Mutation::CutText => {
            let mut at = rng.index(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            (
                text[..at].to_owned(),
                format!("cut the text at byte {at} of {}", text.len()),
                Some(JournalDamage::Malformed),
            )
        }
        Mutation::CutRecords => {
            let keep = rng.index(n);
            let fix_count = rng.index(2) == 1;
            let mut e = export.clone();
            e.entries.truncate(keep);
            if fix_count {
                e.count = keep as u64;
            }
            let what = format!("keep {keep} of {n} records (count fixed: {fix_count})");
            (encode(&e), what, Some(JournalDamage::Truncated))
        }
    };
    (kind, text, what, damage)
}

#[test]
fn every_single_mutation_of_an_export_is_detected() {
    let seed = std::env::var("POSFLOW_TAMPER_SEED")
        .ok()
        .map(|s| {
            let s = s.trim_start_matches("0x");
            u64::from_str_radix(s, 16).expect("POSFLOW_TAMPER_SEED is hex")
        })
        .unwrap_or(DEFAULT_SEED);
    let journal = realistic_day();
    let text = journal.export_json();
    let export = journal.export();
    let n = export.entries.len();
    assert!(
        (45..=60).contains(&n),
        "a day of about fifty records, got {n}"
    );
    assert_eq!(Journal::<Record>::import_json(&text).unwrap(), journal);
    assert_eq!(
        Journal::<Record>::import_json(&format!("\n{text}\n")).unwrap(),
        journal,
        "surrounding whitespace is not a change"
    );

    let mut skipped = 0;
    let mut per_kind = std::collections::BTreeMap::new();
    for index in 0..MUTATIONS {
        let mut rng = SplitMix64(seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F));
        let (kind, mutated, what, damage) = mutate(&text, &export, &mut rng);
        if mutated == text {
            skipped += 1;
            continue;
        }
        *per_kind.entry(format!("{kind:?}")).or_insert(0) += 1;
        let reproduce = format!("POSFLOW_TAMPER_SEED={seed:x}, mutation #{index}: {what}");
        let imported = match Journal::<Record>::import_json(&mutated) {
            Ok(_) => panic!("{reproduce}: the damaged journal was accepted"),
            Err(e @ PosError::JournalDamaged { damage: found, .. }) => {
                if let Some(expected) = damage {
                    assert_eq!(found, expected, "{reproduce}: {e}");
                }
                e
            }
            Err(e) => panic!(
                "{reproduce}: expected JOURNAL_DAMAGED, got {}: {e}",
                e.code()
            ),
        };
        match restore(&mutated) {
            Ok(_) => panic!("{reproduce}: the damaged journal was restored"),
            Err(e) => assert_eq!(e, imported, "{reproduce}: restored in steps"),
        }
    }
    eprintln!(
        "seed {seed:x}: {n} records, {MUTATIONS} mutations, {skipped} no-ops skipped, by kind {per_kind:?}"
    );
    assert!(per_kind.values().all(|&c| c > 1000), "{per_kind:?}");
}
