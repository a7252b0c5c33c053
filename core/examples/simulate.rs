//! Runs the fault simulator (issue 5).
//!
//! ```text
//! cargo run --release -p posflow-core --example simulate -- --seeds 10000 --ops 200
//! cargo run --release -p posflow-core --example simulate -- --seed 1234 --ops 200 [--trace]
//! ```
//!
//! `--seeds N` runs seeds 0..N (from `--first F`, default 0) on `--threads T`
//! threads (default: the machine's parallelism); `--seed S` runs that one
//! seed. Prints seeds/s, operations/s, faults injected by kind, restarts by
//! point, invariant checks made, and for each failing seed the one command
//! that reproduces it. Exits 1 if any seed failed.

use std::process::ExitCode;
use std::time::Instant;

use posflow_core::acquirer::FaultKind;
use posflow_core::record::Kind;
use posflow_core::sim::{run_seeds, RestartPoint, Sim, Summary};

struct Args {
    first: u64,
    seeds: u64,
    ops: u32,
    threads: usize,
    trace: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        first: 0,
        seeds: 1000,
        ops: 200,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        trace: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("{name} takes a number"))
        };
        match flag.as_str() {
            "--seeds" => args.seeds = value("--seeds")?,
            "--first" => args.first = value("--first")?,
            "--seed" => {
                args.first = value("--seed")?;
                args.seeds = 1;
            }
            "--ops" => args.ops = u32::try_from(value("--ops")?).map_err(|e| e.to_string())?,
            "--threads" => args.threads = value("--threads")? as usize,
            "--trace" => args.trace = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: simulate [--seeds N [--first F] | --seed S] [--ops M] [--threads T] [--trace]");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let summary = if args.trace && args.seeds == 1 {
        let mut summary = Summary::default();
        match Sim::new(args.first, args.ops) {
            Ok(mut sim) => {
                sim.set_trace(true);
                eprintln!("swarm: {:?}", sim.swarm());
                match sim.run() {
                    Ok(c) => summary.counters.add(&c),
                    Err(f) => summary.failures.push(f),
                }
            }
            Err(e) => eprintln!("{e}"),
        }
        summary
    } else {
        run_seeds(args.first, args.seeds, args.ops, args.threads)
    };
    let secs = started.elapsed().as_secs_f64();
    let c = &summary.counters;
    println!(
        "{} seeds × {} ops on {} threads in {secs:.2} s: {:.0} seeds/s, {:.0} ops/s",
        args.seeds,
        args.ops,
        args.threads,
        args.seeds as f64 / secs,
        c.ops as f64 / secs,
    );
    println!("invariant checks made: {}", c.checks);
    let faults: Vec<String> = FaultKind::ALL
        .iter()
        .map(|k| format!("{} {}", k.as_str(), c.faults.get(*k)))
        .collect();
    println!(
        "faults injected: {} ({})",
        c.faults.total(),
        faults.join(", ")
    );
    let restarts: Vec<String> = RestartPoint::ALL
        .iter()
        .zip(c.restarts)
        .map(|(p, n)| format!("{} {n}", p.as_str()))
        .collect();
    println!("restarts: {}", restarts.join(", "));
    let accepted: Vec<String> = Kind::ALL
        .iter()
        .zip(c.accepted)
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect();
    println!("accepted: {}", accepted.join(", "));
    println!(
        "refused {}, replayed by key {}, in doubt {}, reversals {}, queries {}, advices {}, reviews resolved {}, batches closed {}, late replies {}",
        c.refused, c.replayed, c.in_doubt, c.reversals, c.queries, c.advices, c.resolved, c.settled, c.late_delivered
    );
    if summary.failures.is_empty() {
        println!("all {} seeds converged, no violations", args.seeds);
        ExitCode::SUCCESS
    } else {
        for f in &summary.failures {
            println!("{f}");
        }
        println!("{} of {} seeds failed", summary.failures.len(), args.seeds);
        ExitCode::FAILURE
    }
}
