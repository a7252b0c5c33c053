//! The fault simulator (issue 5) as a test: `POSFLOW_SIM_SEEDS` seeds
//! (default 10,000) × `POSFLOW_SIM_OPS` operations (default 200), every
//! seed with its own swarm of fault rates and restarts, zero violations and
//! every seed converging. A failing seed prints the one command that
//! reproduces it; seeds that once failed are kept below as regression tests.
//!
//! Run it optimised: `cargo test -p posflow-core --release --test simulator`.

use posflow_core::acquirer::FaultKind;
use posflow_core::record::Kind;
use posflow_core::sim::{reproduce_command, run_seed, run_seeds, RestartPoint, Swarm};

fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|s| s.parse().unwrap_or_else(|_| panic!("{name} is a number")))
        .unwrap_or(default)
}

#[test]
fn every_seed_converges_with_no_violation() {
    let seeds = env_count("POSFLOW_SIM_SEEDS", 10_000);
    let ops = env_count("POSFLOW_SIM_OPS", 200) as u32;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = std::time::Instant::now();
    let summary = run_seeds(0, seeds, ops, threads);
    let c = &summary.counters;
    eprintln!(
        "{seeds} seeds × {ops} ops in {:.1?} on {threads} threads: {} checks, {} faults, restarts {:?}",
        started.elapsed(),
        c.checks,
        c.faults.total(),
        c.restarts
    );
    for f in &summary.failures {
        eprintln!("{f}");
    }
    assert!(
        summary.failures.is_empty(),
        "{} of {seeds} seeds failed; the first: {}",
        summary.failures.len(),
        summary.failures[0]
    );
    assert_eq!(c.seeds, seeds);
    assert_eq!(c.ops, seeds * u64::from(ops));
    if seeds >= 1_000 && ops >= 100 {
        // Not vacuous: every fault drawn by rate, every restart point, every
        // kind of transaction, and the resolutions all came up.
        // Every kind drawn by rate: a decline is only ever injected.
        for kind in FaultKind::ALL
            .into_iter()
            .filter(|k| *k != FaultKind::Decline)
        {
            assert!(c.faults.get(kind) > 0, "no {kind:?}");
        }
        for (point, n) in RestartPoint::ALL.iter().zip(c.restarts) {
            assert!(n > 0, "no restart {point:?}");
        }
        for (kind, n) in Kind::ALL.iter().zip(c.accepted) {
            assert!(n > 0, "no {kind:?} accepted");
        }
        for (what, n) in [
            ("refused", c.refused),
            ("replayed", c.replayed),
            ("in doubt", c.in_doubt),
            ("reversals", c.reversals),
            ("queries", c.queries),
            ("advices", c.advices),
            ("resolved reviews", c.resolved),
            ("settled", c.settled),
            ("late replies", c.late_delivered),
        ] {
            assert!(n > 0, "no {what}");
        }
    }
}

#[test]
fn a_seed_runs_the_same_every_time() {
    for seed in [0, 1, 77, 4_000_000_007] {
        let a = run_seed(seed, 120).unwrap_or_else(|f| panic!("{f}"));
        let b = run_seed(seed, 120).unwrap_or_else(|f| panic!("{f}"));
        assert_eq!(a, b, "seed {seed}");
    }
}

#[test]
fn swarms_switch_each_fault_kind_off_on_some_seeds_and_stay_in_bounds() {
    let swarms: Vec<Swarm> = (0..300).map(Swarm::of_seed).collect();
    let rates = |f: fn(&Swarm) -> u16| swarms.iter().map(f).collect::<Vec<_>>();
    for (name, values) in [
        ("timeout", rates(|s| s.rates.timeout.0)),
        ("lost", rates(|s| s.rates.lost_reply.0)),
        ("duplicate", rates(|s| s.rates.duplicate.0)),
        ("late", rates(|s| s.rates.late.0)),
        ("transport", rates(|s| s.rates.transport.0)),
        ("restart", rates(|s| s.restart.0)),
    ] {
        assert!(values.contains(&0), "{name} never off");
        assert!(values.iter().any(|v| *v > 0), "{name} never on");
    }
    for s in &swarms {
        assert!(s.rates.validate().is_ok(), "{s:?}");
        assert!(s.rates.timeout.0 + s.rates.lost_reply.0 <= 300);
        assert!(s.rates.duplicate.0 <= 500);
    }
}

#[test]
fn a_failure_names_the_command_that_reproduces_it() {
    assert_eq!(
        reproduce_command(1234, 200),
        "cargo run --release -p posflow-core --example simulate -- --seed 1234 --ops 200"
    );
}
