//! The deterministic fault simulator (issue 5): `N` seeds × `M` random
//! operations against a [`Terminal`] and a [`SimulatedAcquirer`], with
//! swarm-style fault rates chosen per seed, proving that no money is lost or
//! paid twice.
//!
//! One seed decides everything: the fault rates (each kind switched off
//! entirely on some seeds), how often the terminal restarts, every
//! operation, every amount, card and fault draw. So a failing seed is
//! reproduced exactly by [`reproduce_command`].
//!
//! # A seed's run
//!
//! Each operation is one of: sale, pre-auth, void (of a sale or a
//! completion), refund (partial or full, by id, trace number or RRN),
//! completion (online or offline advice), pre-auth cancel, settlement,
//! query of something in doubt, supervisor resolution of a manual review,
//! a repeat of the last command with the same key (same or other
//! parameters), an idle restart, an idle flush, a jump of the clock by days.
//! The simulator drives the terminal the way [`crate::driver::Driver`]
//! does — persist every entry before the request leaves, flush reversals
//! and advices before new work, deliver late replies — and at every
//! exchange it may restart the terminal at one of three points:
//!
//! - before the new entries are durable (they are lost; nothing was sent);
//! - after they are durable but before the request is sent (the request
//!   never reaches the host; on restart it is in doubt and its reversal is
//!   answered "25 not found");
//! - after the host processed the request but before its reply is
//!   appended (the reply dies with the process; the reversal undoes it).
//!
//! A restart reopens the terminal from the persisted journal with
//! [`Terminal::open`] and signs the cashier in again.
//!
//! # Checked after every operation
//!
//! - [`Terminal::check_invariants`]: after a restart and during
//!   convergence on every transaction, otherwise with
//!   [`Terminal::check_invariants_of`] on those the operation's entries
//!   named and every transaction whose checks read them; nothing left
//!   outstanding; every entry persisted;
//! - invariant 2: a definitive outcome never changes;
//! - invariant 4 on the wire: no financial request or settlement goes out
//!   while anything else is in doubt or in review;
//! - against the acquirer's ledger, for every transaction and posting the
//!   operation touched: a standing (approved, unreversed) posting has a
//!   journal record approved for the same type and amount, unless the
//!   terminal still has it in doubt; a journal record approved online has a
//!   standing posting; one declined or reversed has none;
//! - the acquirer saw no request a correct terminal never sends
//!   ([`SimulatedAcquirer::anomalies`]: a second void, refunds beyond the
//!   original, …) and every settlement balanced.
//!
//! # Convergence
//!
//! At the end faults and restarts are switched off, late replies arrive,
//! in-doubt records are queried, reversals and advices flushed, manual
//! reviews resolved with what the acquirer says. Then: nothing in doubt, no
//! reversal or advice pending, the journal and the ledger reconcile exactly
//! both ways, a final settlement balances, and replaying the persisted
//! journal gives the same transactions.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::acquirer::{FaultCounts, FaultRates, Permille, SimulatedAcquirer, SplitMix64};
use crate::card::Card;
use crate::driver::Host;
use crate::error::{Locale, PosError};
use crate::host::{BatchNo, HostRequest, MessageType, TraceNo};
use crate::journal::Entry;
use crate::money::{Currency, Money};
use crate::operator::ApprovalInput;
use crate::planner::{Destination, RefundOriginal};
use crate::policy::Policy;
use crate::record::{Kind, Purpose, Record, Resolution, TxnId};
use crate::terminal::{
    message_type, Command, OriginalSelector, Status, Terminal, TerminalConfig, Transaction,
    TxnState,
};
use crate::time::{Timestamp, DAY_MS};

/// The command that reproduces one seed's run exactly.
pub fn reproduce_command(seed: u64, ops: u32) -> String {
    format!("cargo run --release -p posflow-core --example simulate -- --seed {seed} --ops {ops}")
}

/// The demo terminal (merchant 898440350480001, terminal 10000001, CNY,
/// cashier 01 / 1234, supervisors 90 / 246810 and 91 / 135790) with one
/// PBKDF2 round per PIN, so that thousands of sign-ins and approvals cost
/// nothing. Never for a real terminal.
pub fn fast_config() -> TerminalConfig {
    TerminalConfig {
        locale: Locale::En,
        ..crate::driver::demo_config_with(Policy {
            pin_hash_iterations: 1,
            ..Policy::default()
        })
    }
}

const CASHIER: (&str, &str) = ("01", "1234");
const SUPERVISORS: [(&str, &str); 2] = [("90", "246810"), ("91", "135790")];

fn approvals() -> Vec<ApprovalInput> {
    SUPERVISORS
        .iter()
        .map(|(id, pin)| ApprovalInput {
            operator_id: (*id).into(),
            pin: (*pin).into(),
        })
        .collect()
}

/// Builds every refund command the simulator issues. The one place to adapt
/// when `Command::Refund` takes a `RefundPlan` from `Terminal::plan_refund`.
pub fn refund_command(
    term: &Terminal,
    original: OriginalSelector,
    amount: Money,
    reason: &str,
    now: Timestamp,
) -> Result<Command, PosError> {
    // A customer account for the plans that end in a fallback (a prepaid
    // card, a closed route, a window passed).
    let destination = Destination {
        route: None,
        holder_name: Some("张三".into()),
        bank: Some("中国银行".into()),
        account: Some("6217000010001234567".into()),
    };
    term.refund_command(
        &RefundOriginal::Journal(original),
        Some(amount),
        reason,
        approvals(),
        Some(destination),
        now,
    )
}

/// The cards the simulator pays with, and how often (weights). Test cards
/// of the acquirer's table are included so every host answer comes up.
const CARDS: [(&str, u64); 17] = [
    ("6222021234567890123", 30), // approves
    ("6225887712340987", 10),    // approves
    ("5413330089020011", 5),     // foreign, approves
    ("6210990001234567", 4),     // prepaid: refunds refused 12
    ("QR134567890123456789", 6), // QR wallet
    ("6222020200000051", 2),     // 51 on debits
    ("6222020200000054", 1),     // 54
    ("6222020200000005", 1),     // 05
    ("6222020200000014", 1),     // 14
    ("6222020200000061", 3),     // 61 above 1,000.00
    ("6222020200000062", 1),     // 62
    ("6222020200000071", 3),     // refunds refused 62: route closed
    ("6222020200000072", 3),     // refunds come back returned
    ("6222020200000073", 3),     // sale returned at settlement
    ("6222020200000096", 2),     // 96: unknown
    ("6222020200000098", 1),     // 98: unknown
    ("6222029900112233445", 4),  // approves
];

fn cards() -> Vec<(Card, u64)> {
    CARDS
        .iter()
        .map(|(pan, w)| {
            let card = match pan.strip_prefix("QR") {
                Some(code) => Card::from_qr(code),
                None => Card::from_pan(pan),
            };
            (card.expect("valid simulator card"), *w)
        })
        .collect()
}

/// What one seed ran with: its fault rates and how often it restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swarm {
    /// The acquirer's fault rates.
    pub rates: FaultRates,
    /// Chance of a restart at each exchange.
    pub restart: Permille,
}

impl Swarm {
    /// The swarm of `seed`: each fault kind is off on about a third of the
    /// seeds, and otherwise drawn within issue 5's bounds (timeouts + lost
    /// replies ≤ 30 %, duplicates ≤ 50 %).
    pub fn of_seed(seed: u64) -> Swarm {
        let mut rng = SplitMix64(seed ^ 0x5EED_5A4A_0000_0000);
        let mut pick = |max: u64| -> u16 {
            if rng.below(3) == 0 {
                0
            } else {
                rng.below(max + 1) as u16
            }
        };
        let timeout = pick(200);
        let lost_reply = pick(300 - u64::from(timeout));
        let late = pick(150);
        let transport = pick(150);
        let left = 1000 - timeout - lost_reply - late - transport;
        let duplicate = pick(500).min(left);
        let restart = pick(40);
        // Drawn last, so that the rates above are what each seed had
        // before garbled replies came in.
        let garbled = pick(100).min(left - duplicate);
        Swarm {
            rates: FaultRates {
                timeout: Permille(timeout),
                lost_reply: Permille(lost_reply),
                duplicate: Permille(duplicate),
                late: Permille(late),
                transport: Permille(transport),
                garbled: Permille(garbled),
            },
            restart: Permille(restart),
        }
    }
}

/// Where a restart cut in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPoint {
    /// The new entries were not yet durable: lost, nothing sent.
    BeforePersist,
    /// Durable, not yet sent.
    AfterAppend,
    /// Sent and processed; the reply was never appended.
    AfterSend,
    /// Between operations.
    Idle,
}

impl RestartPoint {
    /// Every point.
    pub const ALL: [RestartPoint; 4] = [
        RestartPoint::BeforePersist,
        RestartPoint::AfterAppend,
        RestartPoint::AfterSend,
        RestartPoint::Idle,
    ];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPoint::BeforePersist => "before_persist",
            RestartPoint::AfterAppend => "after_append_before_send",
            RestartPoint::AfterSend => "after_reply_before_append",
            RestartPoint::Idle => "idle",
        }
    }
}

/// What the runs did, summed over seeds: to show a run is not vacuous.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Seeds run.
    pub seeds: u64,
    /// Operations run.
    pub ops: u64,
    /// Invariant checks made (each check of one rule on one thing counts).
    pub checks: u64,
    /// Faults the acquirer applied, by kind.
    pub faults: FaultCounts,
    /// Restarts, by [`RestartPoint`] (in `RestartPoint::ALL` order).
    pub restarts: [u64; 4],
    /// Commands accepted, by [`Kind`] (in `Kind::ALL` order).
    pub accepted: [u64; 8],
    /// Commands refused with an error code.
    pub refused: u64,
    /// Commands replayed by their key.
    pub replayed: u64,
    /// Requests that ended in doubt.
    pub in_doubt: u64,
    /// Reversals sent.
    pub reversals: u64,
    /// Queries sent.
    pub queries: u64,
    /// Advices sent.
    pub advices: u64,
    /// Manual reviews resolved.
    pub resolved: u64,
    /// Batches closed.
    pub settled: u64,
    /// Late replies delivered.
    pub late_delivered: u64,
}

impl Counters {
    /// Adds `other`.
    pub fn add(&mut self, other: &Counters) {
        self.seeds += other.seeds;
        self.ops += other.ops;
        self.checks += other.checks;
        self.faults.add(&other.faults);
        for (a, b) in self.restarts.iter_mut().zip(other.restarts) {
            *a += b;
        }
        for (a, b) in self.accepted.iter_mut().zip(other.accepted) {
            *a += b;
        }
        self.refused += other.refused;
        self.replayed += other.replayed;
        self.in_doubt += other.in_doubt;
        self.reversals += other.reversals;
        self.queries += other.queries;
        self.advices += other.advices;
        self.resolved += other.resolved;
        self.settled += other.settled;
        self.late_delivered += other.late_delivered;
    }
}

/// A seed that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// Operations asked for.
    pub ops: u32,
    /// The operation at which it broke (`ops` for the convergence phase).
    pub step: u32,
    /// What broke.
    pub what: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} failed at step {}: {}\nreproduce: {}",
            self.seed,
            self.step,
            self.what,
            reproduce_command(self.seed, self.ops)
        )
    }
}

/// The operations and their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Sale,
    PreAuth,
    Void,
    VoidCompletion,
    RefundPartial,
    RefundFull,
    Complete,
    Advice,
    CancelPreAuth,
    Settle,
    Query,
    Resolve,
    Repeat,
    RepeatOther,
    Restart,
    Flush,
    Advance,
}

const OPS: [(Op, u64); 17] = [
    (Op::Sale, 24),
    (Op::PreAuth, 7),
    (Op::Void, 6),
    (Op::VoidCompletion, 2),
    (Op::RefundPartial, 10),
    (Op::RefundFull, 4),
    (Op::Complete, 5),
    (Op::Advice, 3),
    (Op::CancelPreAuth, 2),
    (Op::Settle, 3),
    (Op::Query, 3),
    (Op::Resolve, 3),
    (Op::Repeat, 2),
    (Op::RepeatOther, 1),
    (Op::Restart, 1),
    (Op::Flush, 2),
    (Op::Advance, 1),
];

fn pick<T: Copy>(rng: &mut SplitMix64, table: &[(T, u64)]) -> T {
    let total: u64 = table.iter().map(|(_, w)| w).sum();
    let mut draw = rng.below(total);
    for (item, w) in table {
        if draw < *w {
            return *item;
        }
        draw -= w;
    }
    table[table.len() - 1].0
}

fn money_of(fen: i64) -> Money {
    Money::parse(&format!("{}.{:02}", fen / 100, fen % 100), Currency::Cny)
        .expect("positive fen are money")
}

/// The outcome a transaction reached once it is definitive.
fn definitive(state: &TxnState) -> Option<u8> {
    match state {
        TxnState::Sent | TxnState::InDoubt { .. } | TxnState::ManualReview { .. } => None,
        TxnState::Approved { .. } => Some(0),
        TxnState::Declined { .. } => Some(1),
        TxnState::Reversed { .. } => Some(2),
    }
}

fn unresolved(state: &TxnState) -> bool {
    definitive(state).is_none()
}

/// The last command, to repeat with its key (invariant 2, Rule 9).
struct LastCommand {
    command: Command,
    key: String,
    txn: TxnId,
    /// A sale's amount and card, to repeat it with other parameters.
    sale: Option<(Money, Card)>,
}

type Violation = String;

/// One seed's simulation.
pub struct Sim {
    seed: u64,
    ops: u32,
    rng: SplitMix64,
    swarm: Swarm,
    config: TerminalConfig,
    cards: Vec<(Card, u64)>,
    term: Terminal,
    host: SimulatedAcquirer,
    stored: Vec<Entry<Record>>,
    now: Timestamp,
    crashes: bool,
    /// Journal entries already looked at by the checks.
    seen: usize,
    /// Whether the next check looks at every transaction, not only those
    /// the new entries name: the terminal was rebuilt by a restart.
    check_all: bool,
    settled_seen: usize,
    by_trace: HashMap<(BatchNo, TraceNo), TxnId>,
    outcomes: HashMap<TxnId, u8>,
    debits: Vec<TxnId>,
    pre_auths: Vec<TxnId>,
    last: Option<LastCommand>,
    keys: u64,
    counters: Counters,
    trace: bool,
}

const T0: Timestamp = Timestamp(1_795_365_000_000);

impl Sim {
    /// A fresh terminal and acquirer for `seed`, to run `ops` operations.
    pub fn new(seed: u64, ops: u32) -> Result<Sim, String> {
        let swarm = Swarm::of_seed(seed);
        let mut host = SimulatedAcquirer::new(seed);
        host.set_fault_rates(swarm.rates)
            .map_err(|e| format!("swarm rates: {e}"))?;
        let config = fast_config();
        let mut term =
            Terminal::open(config.clone(), Vec::new(), T0).map_err(|e| format!("open: {e}"))?;
        term.sign_in(CASHIER.0, CASHIER.1, T0)
            .map_err(|e| format!("sign in: {e}"))?;
        let stored = term.take_unpersisted();
        Ok(Sim {
            seed,
            ops,
            rng: SplitMix64(seed),
            swarm,
            config,
            cards: cards(),
            term,
            host,
            stored,
            now: T0,
            crashes: true,
            seen: 0,
            check_all: true,
            settled_seen: 0,
            by_trace: HashMap::new(),
            outcomes: HashMap::new(),
            debits: Vec::new(),
            pre_auths: Vec::new(),
            last: None,
            keys: 0,
            counters: Counters {
                seeds: 1,
                ..Counters::default()
            },
            trace: false,
        })
    }

    /// Prints every operation and exchange to stderr.
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on;
    }

    /// The swarm this seed runs with.
    pub fn swarm(&self) -> Swarm {
        self.swarm
    }

    /// The terminal.
    pub fn terminal(&self) -> &Terminal {
        &self.term
    }

    /// The acquirer.
    pub fn acquirer(&self) -> &SimulatedAcquirer {
        &self.host
    }

    /// Runs every operation, then convergence; the counters, or the first
    /// broken rule.
    pub fn run(mut self) -> Result<Counters, Failure> {
        let fail = |step: u32, what: String, seed, ops| Failure {
            seed,
            ops,
            step,
            what,
        };
        let (seed, ops) = (self.seed, self.ops);
        for step in 0..ops {
            self.step()
                .and_then(|()| self.check())
                .map_err(|what| fail(step, what, seed, ops))?;
        }
        self.converge()
            .map_err(|what| fail(ops, format!("convergence: {what}"), seed, ops))?;
        self.counters.ops = u64::from(ops);
        self.counters.faults = self.host.faults_applied();
        Ok(self.counters)
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("[{}] {}", self.now.0 - T0.0, what());
        }
    }

    // ----- the caller's side of the sans-IO contract -------------------

    fn persist(&mut self) {
        let entries = self.term.take_unpersisted();
        self.stored.extend(entries);
    }

    /// Reopens the terminal from what is durable and signs the cashier in.
    fn restart(&mut self, point: RestartPoint) -> Result<(), Violation> {
        self.counters.restarts[point as usize] += 1;
        self.log(|| format!("restart {}", point.as_str()));
        let durable = self.stored.len();
        // Reopen from what is durable without copying it: the stopped
        // terminal's own entries, cut to the durable ones, are the stored
        // ones hash for hash, and `open` checks every record against its
        // hash, so it sees exactly the stored records.
        // (An empty terminal stands in while the stopped one is taken apart.)
        let empty = Terminal::open(self.config.clone(), Vec::new(), self.now)
            .map_err(|e| format!("open: {e}"))?;
        let mut entries = std::mem::replace(&mut self.term, empty)
            .into_journal()
            .into_entries();
        entries.truncate(durable);
        let same = |(e, s): (&Entry<Record>, &Entry<Record>)| e.seq == s.seq && e.hash == s.hash;
        if entries.len() != durable || !entries.iter().zip(&self.stored).all(same) {
            return Err("the terminal's journal is not what was persisted".into());
        }
        self.term = Terminal::open(self.config.clone(), entries, self.now)
            .map_err(|e| format!("reopen after restart {}: {e}", point.as_str()))?;
        // Transactions created by entries that never became durable are
        // gone; their ids will be reused by the next records.
        let lost = |id: &TxnId| id.0 >= durable as u64;
        self.debits.retain(|id| !lost(id));
        self.pre_auths.retain(|id| !lost(id));
        self.by_trace.retain(|_, id| !lost(id));
        self.outcomes.retain(|id, _| !lost(id));
        if self.last.as_ref().is_some_and(|l| lost(&l.txn)) {
            self.last = None;
        }
        self.seen = self.seen.min(durable);
        // Replay rebuilt every transaction, and those changed by entries
        // that were lost went back: no longer only what new entries name.
        self.check_all = true;
        self.term
            .sign_in(CASHIER.0, CASHIER.1, self.now)
            .map_err(|e| format!("sign in after restart: {e}"))?;
        self.persist();
        Ok(())
    }

    fn crash_point(&mut self) -> Option<RestartPoint> {
        if !self.crashes || !self.rng.chance(self.swarm.restart) {
            return None;
        }
        Some(RestartPoint::ALL[self.rng.below(3) as usize])
    }

    /// One exchange: persist, send, hand back what came, persist; or a
    /// restart at one of its points.
    fn exchange(&mut self, request: &HostRequest) -> Result<(), Violation> {
        match request.message {
            MessageType::Reversal => self.counters.reversals += 1,
            MessageType::Query => self.counters.queries += 1,
            MessageType::CompletionAdvice => self.counters.advices += 1,
            _ => {}
        }
        match self.crash_point() {
            Some(RestartPoint::BeforePersist) => {
                self.term.take_unpersisted_seqs();
                return self.restart(RestartPoint::BeforePersist);
            }
            Some(RestartPoint::AfterAppend) => {
                self.persist();
                return self.restart(RestartPoint::AfterAppend);
            }
            Some(RestartPoint::AfterSend) => {
                self.persist();
                let _ = self.host.send(request, self.now);
                return self.restart(RestartPoint::AfterSend);
            }
            Some(RestartPoint::Idle) | None => {}
        }
        self.persist();
        self.check_channel(request)?;
        let outcome = self.host.send(request, self.now);
        self.log(|| format!("{:?} {} → {outcome:?}", request.message, request.trace_no));
        let was = self.term.outstanding();
        self.term.handle_exchange(outcome, self.now);
        self.persist();
        if let Some(Purpose::Request { txn }) = was {
            if self
                .term
                .transaction(txn)
                .is_some_and(|t| matches!(t.state, TxnState::InDoubt { .. }))
            {
                self.counters.in_doubt += 1;
            }
        }
        Ok(())
    }

    /// Invariant 4 seen on the wire: a financial request or a settlement
    /// goes out only while nothing else is unresolved.
    fn check_channel(&mut self, request: &HostRequest) -> Result<(), Violation> {
        let own = match self.term.outstanding() {
            Some(Purpose::Request { txn }) => Some(txn),
            Some(Purpose::Settlement { .. }) => None,
            // An upload goes out only after a settlement that found nothing
            // unresolved, and nothing new starts until it ends.
            Some(Purpose::Upload { .. } | Purpose::UploadEnd { .. }) => None,
            Some(Purpose::Reversal { .. } | Purpose::Query { .. } | Purpose::Advice { .. })
            | None => return Ok(()),
        };
        self.counters.checks += 1;
        let blocking = self.term.transactions().find(|t| {
            Some(t.id) != own && (unresolved(&t.state) || (own.is_none() && t.advice_pending))
        });
        match blocking {
            Some(t) => Err(format!(
                "{:?} {} went out while {} is {:?} (advice pending {})",
                request.message, request.trace_no, t.id, t.state, t.advice_pending
            )),
            None => Ok(()),
        }
    }

    /// Late replies, then reversals and advices until none is left (an
    /// advice left unacknowledged waits for the next flush).
    fn flush(&mut self) -> Result<(), Violation> {
        for reply in self.host.take_late(self.now) {
            self.counters.late_delivered += 1;
            let _ = self.term.handle_reply(&reply, self.now);
        }
        self.persist();
        // One round; the core sends each advice and upload step once.
        self.term.begin_flush();
        while let Some(request) = self.term.poll_transmit(self.now) {
            let restarts: u64 = self.counters.restarts.iter().sum();
            self.exchange(&request)?;
            if self.counters.restarts.iter().sum::<u64>() != restarts {
                // The process died mid-flush; the next operation goes on.
                return Ok(());
            }
        }
        Ok(())
    }

    /// Runs a command: flush, execute, persist, exchange.
    fn run_command(&mut self, command: Command, key: &str) -> Result<Option<TxnId>, Violation> {
        self.flush()?;
        let durable = self.stored.len();
        let result = self.term.execute(command, key, self.now);
        self.persist();
        match result {
            Err(e) => {
                self.counters.refused += 1;
                self.log(|| format!("refused {}", e.code()));
                // A refused command changes nothing but PIN bookkeeping.
                let created = self.stored[durable..]
                    .iter()
                    .any(|e| matches!(e.record, Record::Requested(_)));
                self.counters.checks += 1;
                if created {
                    return Err(format!("{key} refused with {} but recorded", e.code()));
                }
                Ok(None)
            }
            Ok(submitted) => {
                if submitted.replayed {
                    self.counters.replayed += 1;
                    self.counters.checks += 1;
                    if submitted.request.is_some() || self.stored.len() != durable {
                        return Err(format!("{key} replayed but sent or recorded again"));
                    }
                    return Ok(Some(submitted.txn));
                }
                let kind = self
                    .term
                    .transaction(submitted.txn)
                    .map(|t| t.request.kind)
                    .ok_or("an accepted command has no transaction")?;
                let index = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
                self.counters.accepted[index] += 1;
                self.log(|| format!("accepted {} {}", kind.as_str(), submitted.txn));
                match kind {
                    Kind::Sale | Kind::Completion | Kind::CompletionAdvice => {
                        self.debits.push(submitted.txn)
                    }
                    Kind::PreAuth => self.pre_auths.push(submitted.txn),
                    Kind::Void | Kind::Refund | Kind::PreAuthCancel | Kind::CompletionVoid => {}
                }
                if let Some(request) = submitted.request {
                    self.exchange(&request)?;
                }
                Ok(Some(submitted.txn))
            }
        }
    }

    // ----- operations --------------------------------------------------

    fn new_key(&mut self) -> String {
        self.keys += 1;
        format!("s{}k{}", self.seed, self.keys)
    }

    fn amount(&mut self) -> Money {
        let fen = if self.rng.below(20) == 0 {
            1 + self.rng.below(800_000) as i64
        } else {
            1 + self.rng.below(150_000) as i64
        };
        money_of(fen)
    }

    fn card(&mut self) -> Card {
        let total: u64 = self.cards.iter().map(|(_, w)| w).sum();
        let mut draw = self.rng.below(total);
        for (card, w) in &self.cards {
            if draw < *w {
                return card.clone();
            }
            draw -= w;
        }
        self.cards[0].0.clone()
    }

    /// Picks one of `ids`, mostly recent ones, preferring those `wanted`
    /// accepts (three tries).
    fn choose(
        &mut self,
        ids: &[TxnId],
        wanted: impl Fn(&Terminal, &Transaction) -> bool,
    ) -> Option<TxnId> {
        if ids.is_empty() {
            return None;
        }
        let mut chosen = None;
        for _ in 0..3 {
            let n = ids.len() as u64;
            let i = if self.rng.below(4) == 0 {
                self.rng.below(n)
            } else {
                n - 1 - self.rng.below(n.min(12))
            };
            let id = ids[i as usize];
            chosen = Some(id);
            if self
                .term
                .transaction(id)
                .is_some_and(|t| wanted(&self.term, t))
            {
                break;
            }
        }
        chosen
    }

    fn selector(&mut self, id: TxnId) -> OriginalSelector {
        let t = self
            .term
            .transaction(id)
            .expect("chosen transactions exist");
        match self.rng.below(3) {
            0 => OriginalSelector::TraceNo(t.request.trace_no),
            1 => match &t.state {
                TxnState::Approved { rrn: Some(rrn), .. } => OriginalSelector::Rrn(rrn.clone()),
                _ => OriginalSelector::Id(id),
            },
            _ => OriginalSelector::Id(id),
        }
    }

    fn issue(&mut self, command: Command, sale: Option<(Money, Card)>) -> Result<(), Violation> {
        let key = self.new_key();
        if let Some(txn) = self.run_command(command.clone(), &key)? {
            self.last = Some(LastCommand {
                command,
                key,
                txn,
                sale,
            });
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), Violation> {
        self.now = Timestamp(self.now.0 + 1 + self.rng.below(90_000) as i64);
        let op = pick(&mut self.rng, &OPS);
        self.log(|| format!("op {op:?}"));
        let now = self.now;
        match op {
            Op::Sale | Op::PreAuth => {
                let (amount, card) = (self.amount(), self.card());
                let command = if op == Op::Sale {
                    Command::Sale {
                        amount,
                        card: card.clone(),
                    }
                } else {
                    Command::PreAuth {
                        amount,
                        card: card.clone(),
                    }
                };
                let sale = (op == Op::Sale).then_some((amount, card));
                self.issue(command, sale)?;
            }
            Op::Void | Op::VoidCompletion => {
                let ids = self.debits.clone();
                let completion = op == Op::VoidCompletion;
                let id = self.choose(&ids, |term, t| {
                    (t.request.kind != Kind::Sale) == completion
                        && term.status(t, now) == Status::Approved
                });
                if let Some(id) = id {
                    let original = self.selector(id);
                    self.issue(
                        Command::Void {
                            original,
                            approvals: approvals(),
                        },
                        None,
                    )?;
                }
            }
            Op::RefundPartial | Op::RefundFull => {
                let ids = self.debits.clone();
                let id = self.choose(&ids, |term, t| !term.refundable(t, now).is_zero());
                if let Some(id) = id {
                    let t = self.term.transaction(id).expect("chosen").clone();
                    let left = self.term.refundable(&t, now);
                    let whole = t.request.amount;
                    let amount = match (op, left.minor_units()) {
                        // Now and then more than is left, to be refused.
                        _ if self.rng.below(25) == 0 => {
                            whole.checked_add(money_of(1)).unwrap_or(whole)
                        }
                        (Op::RefundFull, Some(fen)) if fen > 0 => left,
                        (_, Some(fen)) if fen > 1 => {
                            money_of(1 + self.rng.below(fen as u64 - 1) as i64)
                        }
                        _ => whole,
                    };
                    let original = self.selector(id);
                    let command =
                        refund_command(&self.term, original, amount, "customer return", now)
                            .map_err(|e| format!("refund plan: {e}"));
                    match command {
                        Ok(command) => self.issue(command, None)?,
                        Err(_) => self.counters.refused += 1,
                    }
                }
            }
            Op::Complete | Op::Advice => {
                let ids = self.pre_auths.clone();
                let id = self.choose(&ids, |term, t| term.status(t, now) == Status::Approved);
                if let Some(id) = id {
                    let frozen = self.term.transaction(id).expect("chosen").request.amount;
                    let fen = frozen.minor_units().unwrap_or(1);
                    // 50 %–120 % of the frozen amount: above 115 % is refused.
                    let permille = 500 + self.rng.below(701) as i64;
                    let amount = money_of((fen * permille / 1000).max(1));
                    let original = self.selector(id);
                    self.issue(
                        Command::Complete {
                            original,
                            amount,
                            advice: op == Op::Advice,
                        },
                        None,
                    )?;
                }
            }
            Op::CancelPreAuth => {
                let ids = self.pre_auths.clone();
                let id = self.choose(&ids, |term, t| term.status(t, now) == Status::Approved);
                if let Some(id) = id {
                    let original = self.selector(id);
                    self.issue(Command::CancelPreAuth { original }, None)?;
                }
            }
            Op::Settle => self.settle()?,
            Op::Query => {
                let doubt = self
                    .term
                    .transactions()
                    .find(|t| {
                        matches!(
                            t.state,
                            TxnState::InDoubt { .. } | TxnState::ManualReview { .. }
                        )
                    })
                    .map(|t| t.id);
                if let Some(id) = doubt {
                    self.query(id)?;
                }
            }
            Op::Resolve => self.resolve_reviews()?,
            Op::Repeat | Op::RepeatOther => self.repeat(op == Op::RepeatOther)?,
            Op::Restart => self.restart(RestartPoint::Idle)?,
            Op::Flush => self.flush()?,
            Op::Advance => {
                self.now = Timestamp(self.now.0 + (1 + self.rng.below(40) as i64) * DAY_MS);
            }
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<(), Violation> {
        self.flush()?;
        let result = self.term.settle(self.now);
        self.persist();
        match result {
            Ok(request) => {
                let closed = self.term.closed_batches().len();
                self.exchange(&request)?;
                if self.term.closed_batches().len() > closed {
                    self.counters.settled += 1;
                    let last = self.term.closed_batches().last().expect("just closed");
                    self.counters.checks += 1;
                    if !last.balanced {
                        return Err(format!("batch {} closed unbalanced", last.batch_no));
                    }
                }
            }
            Err(e) => {
                self.counters.refused += 1;
                self.log(|| format!("settle refused {}", e.code()));
            }
        }
        Ok(())
    }

    fn query(&mut self, id: TxnId) -> Result<(), Violation> {
        let result = self.term.query(&OriginalSelector::Id(id), self.now);
        self.persist();
        match result {
            Ok(request) => self.exchange(&request),
            Err(e) => {
                self.counters.refused += 1;
                self.log(|| format!("query refused {}", e.code()));
                Ok(())
            }
        }
    }

    /// A supervisor resolves every manual review with what the acquirer says.
    fn resolve_reviews(&mut self) -> Result<(), Violation> {
        let reviews: Vec<(TxnId, BatchNo, TraceNo)> = self
            .term
            .transactions()
            .filter(|t| matches!(t.state, TxnState::ManualReview { .. }))
            .map(|t| (t.id, t.request.batch_no, t.request.trace_no))
            .collect();
        for (id, batch, trace) in reviews {
            let tid = self.config.terminal_id.clone();
            let resolution = match self.host.posting(&tid, batch, trace) {
                Some(p) if p.stands() => Resolution::Approved {
                    rrn: p.rrn.clone(),
                    auth_code: p.auth_code.clone(),
                },
                Some(_) | None => Resolution::Reversed,
            };
            let approval = [ApprovalInput {
                operator_id: SUPERVISORS[1].0.into(),
                pin: SUPERVISORS[1].1.into(),
            }];
            self.term
                .resolve_review(&OriginalSelector::Id(id), resolution, &approval, self.now)
                .map_err(|e| format!("resolve {id}: {e}"))?;
            self.persist();
            self.counters.resolved += 1;
        }
        Ok(())
    }

    /// The last command again with its key: the same parameters return the
    /// recorded transaction; other ones are refused.
    fn repeat(&mut self, other: bool) -> Result<(), Violation> {
        let Some(last) = self.last.take() else {
            return Ok(());
        };
        let exists = self
            .term
            .by_key(&last.key)
            .is_some_and(|t| t.id == last.txn);
        let command = match (&last.sale, other) {
            (Some((amount, card)), true) => Command::Sale {
                amount: amount.checked_add(money_of(1)).unwrap_or(*amount),
                card: card.clone(),
            },
            _ => last.command.clone(),
        };
        let changed = other && last.sale.is_some();
        self.flush()?;
        let durable = self.stored.len();
        let result = self.term.execute(command, &last.key, self.now);
        self.persist();
        self.counters.checks += 1;
        if exists {
            match (&result, changed) {
                (Ok(s), false) if s.replayed && s.txn == last.txn && s.request.is_none() => {
                    self.counters.replayed += 1;
                }
                (Err(e), true) if e.code() == "IDEMPOTENCY_KEY_REUSED" => {
                    self.counters.refused += 1;
                }
                _ => {
                    return Err(format!(
                        "key {} repeated (other parameters: {changed}): {result:?}",
                        last.key
                    ))
                }
            }
            if self.stored.len() != durable {
                return Err(format!("key {} repeated but recorded again", last.key));
            }
        } else if let Ok(s) = result {
            // The first attempt never became durable: this is a new one.
            if let Some(request) = s.request {
                self.exchange(&request)?;
            }
        }
        self.last = Some(last);
        Ok(())
    }

    // ----- checks ------------------------------------------------------

    /// Everything checked after every operation.
    fn check(&mut self) -> Result<(), Violation> {
        let now = self.now;
        // Transactions touched by the new entries.
        let mut touched = Vec::new();
        for entry in &self.term.journal().entries()[self.seen..] {
            if let Record::Requested(request) = &entry.record {
                self.by_trace
                    .insert((request.batch_no, request.trace_no), TxnId(entry.seq));
            }
            touched.extend(entry.record.txn(entry.seq));
        }
        self.seen = self.term.journal().len();
        touched.sort_unstable();
        touched.dedup();
        if std::mem::take(&mut self.check_all) {
            self.term.check_invariants(now)?;
        } else {
            self.term.check_invariants_of(&touched, now)?;
        }
        self.counters.checks += 1;
        if let Some(purpose) = self.term.outstanding() {
            return Err(format!("left outstanding: {purpose:?}"));
        }
        if self.stored.len() != self.term.journal().len()
            || self.stored.last().map(|e| &e.hash)
                != self.term.journal().entries().last().map(|e| &e.hash)
        {
            return Err("the stored entries are not the journal".into());
        }
        self.counters.checks += 1;
        for id in touched {
            let t = self
                .term
                .transaction(id)
                .ok_or_else(|| format!("{id} named by the journal is missing"))?;
            if let Some(outcome) = definitive(&t.state) {
                let first = *self.outcomes.entry(id).or_insert(outcome);
                self.counters.checks += 1;
                if first != outcome {
                    return Err(format!("{id}: definitive outcome changed to {:?}", t.state));
                }
            }
            self.check_txn(t, false)?;
        }
        let tid = self.config.terminal_id.clone();
        for (terminal, batch, trace) in self.host.take_touched() {
            if terminal == tid {
                self.check_posting(batch, trace)?;
            }
        }
        self.counters.checks += 1;
        if let Some(a) = self.host.anomalies().first() {
            return Err(format!(
                "the acquirer saw {} at {}/{}",
                a.what, a.batch_no, a.trace_no
            ));
        }
        for (_, batch, balanced) in &self.host.settled[self.settled_seen..] {
            self.counters.checks += 1;
            if !balanced {
                return Err(format!("the acquirer found batch {batch} unbalanced"));
            }
        }
        self.settled_seen = self.host.settled.len();
        Ok(())
    }

    /// [`Sim::check`] with the invariants of every transaction, as the
    /// convergence phase runs it: the seed ends on a full check.
    fn check_everything(&mut self) -> Result<(), Violation> {
        self.check_all = true;
        self.check()
    }

    /// A journal record against its posting. `strict`: nothing may still be
    /// unknown.
    fn check_txn(&self, t: &Transaction, strict: bool) -> Result<(), Violation> {
        let r = &t.request;
        let p = self
            .host
            .posting(&self.config.terminal_id, r.batch_no, r.trace_no);
        let stands = p.is_some_and(|p| p.stands());
        match &t.state {
            TxnState::Sent | TxnState::InDoubt { .. } | TxnState::ManualReview { .. } => {
                if strict {
                    return Err(format!("{} still unresolved: {:?}", t.id, t.state));
                }
            }
            TxnState::Approved { .. } => {
                if let Some(f) = &r.fallback {
                    // Settled outside the card network: the host never
                    // hears of it, and must not have it (invariant 6).
                    if p.is_some() {
                        return Err(format!("{} is a fallback, yet the host has {p:?}", t.id));
                    }
                    if f.reasons.is_empty() {
                        return Err(format!("{} fallback without a reason", t.id));
                    }
                    return Ok(());
                }
                if t.advice_pending {
                    if strict {
                        return Err(format!("{} advice still pending", t.id));
                    }
                    return Ok(());
                }
                let p = p.filter(|p| p.stands()).ok_or_else(|| {
                    format!(
                        "{} ({}) approved in the journal; the acquirer has {p:?}",
                        t.id,
                        r.kind.as_str()
                    )
                })?;
                if p.message != message_type(r.kind) || p.amount != Some(r.amount) {
                    return Err(format!("{} is {r:?}; the acquirer has {p:?}", t.id));
                }
            }
            TxnState::Declined { .. } | TxnState::Reversed { .. } => {
                if stands {
                    return Err(format!(
                        "{} ({}) is {:?} in the journal; the acquirer holds it approved: {p:?}",
                        t.id,
                        r.kind.as_str(),
                        t.state
                    ));
                }
            }
        }
        Ok(())
    }

    /// A posting against the journal: a standing one must be there.
    fn check_posting(&mut self, batch: BatchNo, trace: TraceNo) -> Result<(), Violation> {
        self.counters.checks += 1;
        let tid = &self.config.terminal_id;
        let Some(p) = self.host.posting(tid, batch, trace) else {
            return Ok(());
        };
        if !p.stands() {
            return Ok(());
        }
        let t = self
            .by_trace
            .get(&(batch, trace))
            .and_then(|id| self.term.transaction(*id))
            .ok_or_else(|| format!("the acquirer holds {p:?}; the journal has no such record"))?;
        self.check_txn(t, false)
    }

    /// Faults off; resolve everything; reconcile both ways; settle; replay.
    fn converge(&mut self) -> Result<(), Violation> {
        self.crashes = false;
        self.host.clear_faults();
        self.host
            .set_fault_rates(FaultRates::NONE)
            .map_err(|e| e.to_string())?;
        // Every late reply is due.
        self.now = Timestamp(self.now.0 + i64::from(*crate::acquirer::LATE_REPLY_MS.end()) + 1);
        for _ in 0..4 {
            let doubt: Vec<TxnId> = self
                .term
                .transactions()
                .filter(|t| unresolved(&t.state))
                .map(|t| t.id)
                .collect();
            for id in doubt {
                self.query(id)?;
            }
            self.flush()?;
            self.resolve_reviews()?;
            self.check_everything()?;
            let pending = self
                .term
                .transactions()
                .any(|t| unresolved(&t.state) || t.advice_pending);
            if !pending {
                break;
            }
        }
        if self.host.late_pending() > 0 {
            return Err(format!(
                "{} late replies never delivered",
                self.host.late_pending()
            ));
        }
        if self.term.has_pending_transmit() {
            return Err("a reversal or advice is still pending".into());
        }
        // The journal against the ledger, every record.
        for t in self.term.transactions() {
            self.check_txn(t, true)?;
        }
        // The ledger against the journal, every posting.
        let tid = self.config.terminal_id.clone();
        let standing: Vec<(BatchNo, TraceNo)> = self
            .host
            .ledger()
            .filter(|p| p.terminal_id == tid && p.stands())
            .map(|p| (p.batch_no, p.trace_no))
            .collect();
        for (batch, trace) in standing {
            self.check_posting(batch, trace)?;
        }
        self.counters.checks += self.term.transactions().count() as u64;
        // A final settlement closes balanced.
        let closed = self.term.closed_batches().len();
        self.settle()?;
        self.check_everything()?;
        if self.term.closed_batches().len() != closed + 1 {
            return Err("the final settlement did not close the batch".into());
        }
        self.reconcile_day()?;
        // Replaying what is durable gives the same transactions. Nothing
        // is persisted after this, so the entries move instead of a copy.
        let durable = std::mem::take(&mut self.stored);
        let replayed = Terminal::open(self.config.clone(), durable, self.now)
            .map_err(|e| format!("final replay: {e}"))?;
        self.counters.checks += 1;
        if !replayed.transactions().eq(self.term.transactions())
            || replayed.closed_batches() != self.term.closed_batches()
            || replayed.batch_no() != self.term.batch_no()
        {
            return Err("replaying the journal gives other transactions".into());
        }
        Ok(())
    }
}

impl Sim {
    /// Issue 6's reconciliation of the whole run against the acquirer's
    /// statement: the only differences left may be money the acquirer
    /// returned after approving it (a card cancelled, a batch upload that
    /// left a posting out) — nothing on one side only, no other amount,
    /// nothing unresolved. The refunds it finds move to credited/returned.
    fn reconcile_day(&mut self) -> Result<(), Violation> {
        use crate::reconcile::{reconcile, statement_from_acquirer, Category, Finding};
        let file = self.host.statement(&self.config.terminal_id, self.now);
        let statement = statement_from_acquirer(
            &file,
            &self.config.merchant_id,
            self.config.currency,
            self.config.policy.utc_offset_minutes,
        )
        .map_err(|e| format!("statement: {e}"))?;
        let report =
            reconcile(&self.term, &statement, self.now).map_err(|e| format!("reconcile: {e}"))?;
        self.counters.checks += report.items.len() as u64;
        for item in &report.items {
            let explained = match item.category {
                Category::Matched
                | Category::RefundCredited
                | Category::RefundReturned
                | Category::RefundPending => true,
                Category::ReturnedOrReversed => item.finding == Finding::Returned,
                Category::TerminalOnly
                | Category::AcquirerOnly
                | Category::AmountMismatch
                | Category::Unresolved => false,
            };
            if !explained {
                return Err(format!("reconciliation: {item:?}"));
            }
        }
        self.term
            .apply_reconciliation(&report, self.now)
            .map_err(|e| format!("applying the reconciliation: {e}"))?;
        self.persist();
        self.check_everything()
    }
}

/// Runs one seed.
pub fn run_seed(seed: u64, ops: u32) -> Result<Counters, Failure> {
    match Sim::new(seed, ops) {
        Ok(sim) => sim.run(),
        Err(what) => Err(Failure {
            seed,
            ops,
            step: 0,
            what,
        }),
    }
}

/// What a run of many seeds found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Summed over the seeds that passed.
    pub counters: Counters,
    /// Seeds that failed, in seed order.
    pub failures: Vec<Failure>,
}

/// Runs seeds `first..first + count` on `threads` threads (at least one).
pub fn run_seeds(first: u64, count: u64, ops: u32, threads: usize) -> Summary {
    let next = AtomicU64::new(first);
    let end = first.saturating_add(count);
    let summary = Mutex::new(Summary::default());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                let mut mine = Summary::default();
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    match run_seed(seed, ops) {
                        Ok(c) => mine.counters.add(&c),
                        Err(f) => mine.failures.push(f),
                    }
                }
                let mut all = summary.lock().expect("no thread panics holding it");
                all.counters.add(&mine.counters);
                all.failures.extend(mine.failures);
            });
        }
    });
    let mut summary = summary.into_inner().expect("no thread panicked");
    summary.failures.sort_by_key(|f| f.seed);
    summary
}
