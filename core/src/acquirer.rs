//! The simulated acquirer: a reference host that behaves like a real one,
//! deterministic from a seed. The demo's default host and every test's
//! counterpart.
//!
//! It keeps its own ledger of what it approved, reversed and settled, keyed
//! by terminal + batch + trace number; honours reversals ("25 not found" is
//! a valid answer); answers queries from the ledger; and can be told to
//! misbehave with [`Fault`]s.
//!
//! Test cards, by the last four digits of the PAN:
//!
//! | last 4 | behaviour |
//! |---|---|
//! | `0051` | declined 51, insufficient funds |
//! | `0054` | declined 54, expired card |
//! | `0014` | declined 14, invalid card |
//! | `0062` | declined 62, restricted card |
//! | `0096` | answers 96, system malfunction (outcome unknown) |
//! | anything else | approved |

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::driver::Host;
use crate::host::{BatchNo, HostReply, HostRequest, MessageType, NoReply, TraceNo};
use crate::money::Money;
use crate::time::Timestamp;

/// A misbehaviour for the next request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The host processes the request; no reply arrives in time.
    Timeout,
    /// The host processes the request; the reply is lost.
    LostReply,
    /// The host processes the request; the reply arrives twice.
    DuplicateReply,
    /// The host processes the request; the reply arrives after the timeout.
    LateReply,
    /// The request never reaches the host.
    TransportError,
    /// The host refuses with this response code without processing.
    Decline(String),
}

/// One posting in the acquirer's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Posting {
    /// Terminal id.
    pub terminal_id: String,
    /// Batch.
    pub batch_no: BatchNo,
    /// Trace number.
    pub trace_no: TraceNo,
    /// What it was.
    pub message: MessageType,
    /// Amount.
    pub amount: Option<Money>,
    /// The answer given.
    pub code: String,
    /// RRN given.
    pub rrn: Option<String>,
    /// Auth code given.
    pub auth_code: Option<String>,
    /// Undone by a reversal.
    pub reversed: bool,
    /// Approved, but the money came back later: the issuer returned it (a
    /// card cancelled after the sale) or the batch was never uploaded. The
    /// terminal saw success; only the statement shows this.
    pub returned: bool,
    /// When.
    pub at: Timestamp,
}

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same RRNs and auth codes.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The simulated acquirer host.
#[derive(Debug, Clone)]
pub struct SimulatedAcquirer {
    rng: SplitMix64,
    ledger: BTreeMap<(String, BatchNo, TraceNo), Posting>,
    faults: VecDeque<Fault>,
    late: Vec<HostReply>,
    next_rrn: u64,
    /// Batches settled, with whether they balanced.
    pub settled: Vec<(String, BatchNo, bool)>,
}

impl SimulatedAcquirer {
    /// A host whose RRNs and auth codes follow from `seed`.
    pub fn new(seed: u64) -> SimulatedAcquirer {
        SimulatedAcquirer {
            rng: SplitMix64(seed),
            ledger: BTreeMap::new(),
            faults: VecDeque::new(),
            late: Vec::new(),
            next_rrn: 1,
            settled: Vec::new(),
        }
    }

    /// Queues a fault for the next request (faults apply in order).
    pub fn inject(&mut self, fault: Fault) {
        self.faults.push_back(fault);
    }

    /// The ledger, in key order.
    pub fn ledger(&self) -> impl Iterator<Item = &Posting> {
        self.ledger.values()
    }

    /// Processes a request as the host would, with no fault.
    pub fn process(&mut self, req: &HostRequest, now: Timestamp) -> HostReply {
        let mut reply = HostReply {
            message: req.message,
            trace_no: req.trace_no,
            amount: req.amount,
            code: "00".into(),
            rrn: None,
            auth_code: None,
            balanced: None,
            host_time: now,
        };
        let key = |trace| (req.terminal_id.clone(), req.batch_no, trace);
        match req.message {
            MessageType::Reversal | MessageType::Query => {
                let Some(o) = &req.original else {
                    reply.code = "12".into();
                    return reply;
                };
                let k = (req.terminal_id.clone(), o.batch_no, o.trace_no);
                match self.ledger.get_mut(&k) {
                    Some(p) if req.message == MessageType::Reversal => {
                        p.reversed = true;
                    }
                    Some(p) if !p.reversed => {
                        reply.code = p.code.clone();
                        reply.rrn = p.rrn.clone();
                        reply.auth_code = p.auth_code.clone();
                    }
                    _ => reply.code = "25".into(),
                }
            }
            MessageType::Settlement => {
                let balanced = req.summary.as_ref().is_some_and(|s| {
                    let (mut debit, mut credit) = (0u32, 0u32);
                    for p in self.ledger.values().filter(|p| {
                        p.terminal_id == req.terminal_id
                            && p.batch_no == req.batch_no
                            && p.code == "00"
                            && !p.reversed
                    }) {
                        match p.message {
                            MessageType::Sale
                            | MessageType::Completion
                            | MessageType::CompletionAdvice => debit += 1,
                            MessageType::Refund => credit += 1,
                            MessageType::Void | MessageType::CompletionVoid => {
                                debit = debit.saturating_sub(1)
                            }
                            _ => {}
                        }
                    }
                    s.debit_count == debit && s.credit_count == credit
                });
                reply.balanced = Some(balanced);
                self.settled
                    .push((req.terminal_id.clone(), req.batch_no, balanced));
            }
            MessageType::Sale
            | MessageType::Void
            | MessageType::Refund
            | MessageType::PreAuth
            | MessageType::PreAuthCancel
            | MessageType::Completion
            | MessageType::CompletionAdvice
            | MessageType::CompletionVoid => {
                if self.ledger.contains_key(&key(req.trace_no)) {
                    reply.code = "94".into();
                    return reply;
                }
                reply.code = self.decide(req);
                if reply.code == "00" {
                    reply.rrn = Some(format!("{:012}", self.next_rrn));
                    self.next_rrn += 1;
                    reply.auth_code = Some(format!("{:06}", self.rng.next() % 1_000_000));
                }
                self.ledger.insert(
                    key(req.trace_no),
                    Posting {
                        terminal_id: req.terminal_id.clone(),
                        batch_no: req.batch_no,
                        trace_no: req.trace_no,
                        message: req.message,
                        amount: req.amount,
                        code: reply.code.clone(),
                        rrn: reply.rrn.clone(),
                        auth_code: reply.auth_code.clone(),
                        reversed: false,
                        returned: false,
                        at: now,
                    },
                );
            }
        }
        reply
    }

    fn decide(&self, req: &HostRequest) -> String {
        let last4 = req
            .card
            .as_ref()
            .map_or("", |c| &c.masked_pan[c.masked_pan.len() - 4..]);
        let by_card = match last4 {
            "0051" if req.message.is_debit() => Some("51"),
            "0054" => Some("54"),
            "0014" => Some("14"),
            "0062" => Some("62"),
            "0096" => Some("96"),
            _ => None,
        };
        if let Some(code) = by_card {
            return code.into();
        }
        // Acts on an original: it must be here, approved and not reversed.
        if let Some(o) = &req.original {
            let found = self
                .ledger
                .get(&(req.terminal_id.clone(), o.batch_no, o.trace_no))
                .is_some_and(|p| p.code == "00" && !p.reversed);
            if !found {
                return "25".into();
            }
        }
        "00".into()
    }
}

impl MessageType {
    fn is_debit(self) -> bool {
        matches!(
            self,
            MessageType::Sale | MessageType::PreAuth | MessageType::Completion
        )
    }
}

impl Host for SimulatedAcquirer {
    fn send(&mut self, request: &HostRequest, now: Timestamp) -> Result<Vec<HostReply>, NoReply> {
        match self.faults.pop_front() {
            None => Ok(vec![self.process(request, now)]),
            Some(Fault::Timeout) => {
                self.process(request, now);
                Err(NoReply::Timeout)
            }
            Some(Fault::LostReply) => {
                self.process(request, now);
                Err(NoReply::LostReply)
            }
            Some(Fault::DuplicateReply) => {
                let reply = self.process(request, now);
                Ok(vec![reply.clone(), reply])
            }
            Some(Fault::LateReply) => {
                let reply = self.process(request, now);
                self.late.push(reply);
                Err(NoReply::Timeout)
            }
            Some(Fault::TransportError) => Err(NoReply::TransportError),
            Some(Fault::Decline(code)) => {
                let mut reply = self.process_nothing(request, now);
                reply.code = code;
                Ok(vec![reply])
            }
        }
    }

    fn take_late(&mut self, _now: Timestamp) -> Vec<HostReply> {
        std::mem::take(&mut self.late)
    }
}

impl SimulatedAcquirer {
    fn process_nothing(&self, req: &HostRequest, now: Timestamp) -> HostReply {
        HostReply {
            message: req.message,
            trace_no: req.trace_no,
            amount: req.amount,
            code: "05".into(),
            rrn: None,
            auth_code: None,
            balanced: None,
            host_time: now,
        }
    }
}
