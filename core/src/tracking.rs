//! Refund tracking (DESIGN.md Rule 8): every refund has a status, an
//! expected arrival and a next step, in both languages, until the money has
//! arrived.
//!
//! ```text
//!  draft ─(approvals needed)→ awaiting_approval ─submit→ submitted
//!  submitted ─00→ accepted ─statement / confirmation→ credited
//!      │            └─statement: came back→ returned ─re-plan→ fallback
//!      ├─timeout / lost / crash→ in_doubt ─query / reversal→ accepted | failed
//!      └─declined→ failed (definitive; a retryable code is resubmitted
//!                  as a new attempt with a new key)
//!  accepted or submitted past the expected date → overdue (a flag)
//! ```
//!
//! `draft` and `awaiting_approval` are the statuses of a plan (nothing is
//! recorded before submission); the others derive from the journal. A void
//! or pre-auth cancel made by the planner is credited at once: the money
//! never moved. A fallback is accepted when recorded and credited when an
//! operator confirms it with the transfer's reference.

use serde::{Deserialize, Serialize};

use crate::error::{Locale, PosError};
use crate::host::{classify, ResponseClass, TraceNo};
use crate::money::Money;
use crate::planner::{Action, Arrival, Route};
use crate::record::{Kind, Outcome, Record, TxnId};
use crate::terminal::{OriginalSelector, Status, Terminal, Transaction, TxnState};
use crate::time::Timestamp;

/// A refund's status (Rule 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Planned, nothing recorded; no approval needed.
    Draft,
    /// Planned; waiting for the approvals the plan lists.
    AwaitingApproval,
    /// Sent to the host; waiting for its answer.
    Submitted,
    /// The host's answer is unknown; reversal or query pending.
    InDoubt,
    /// The host (or, for a fallback, the approvers) accepted it; the money
    /// is on its way.
    Accepted,
    /// The money arrived (statement, or a fallback's confirmation).
    Credited,
    /// Refused or reversed; definitive.
    Failed,
    /// Accepted, then the money came back.
    Returned,
}

impl RefundStatus {
    /// Every status.
    pub const ALL: [RefundStatus; 8] = [
        RefundStatus::Draft,
        RefundStatus::AwaitingApproval,
        RefundStatus::Submitted,
        RefundStatus::InDoubt,
        RefundStatus::Accepted,
        RefundStatus::Credited,
        RefundStatus::Failed,
        RefundStatus::Returned,
    ];

    /// The snake_case name used in JS.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Draft => "draft",
            RefundStatus::AwaitingApproval => "awaiting_approval",
            RefundStatus::Submitted => "submitted",
            RefundStatus::InDoubt => "in_doubt",
            RefundStatus::Accepted => "accepted",
            RefundStatus::Credited => "credited",
            RefundStatus::Failed => "failed",
            RefundStatus::Returned => "returned",
        }
    }

    /// Parses [`RefundStatus::as_str`]'s names.
    pub fn parse(text: &str) -> Option<RefundStatus> {
        RefundStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What to do next about a refund, as a stable code with both messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NextStep {
    /// Submit it.
    Submit,
    /// A supervisor approves it.
    Approve,
    /// Wait for the host's answer.
    WaitForHost,
    /// The terminal reverses or queries it before new work.
    AwaitReversal,
    /// A supervisor resolves it with the acquirer.
    ResolveReview,
    /// Wait for the money; nothing to do before the expected date.
    WaitForArrival,
    /// Send the money by the fallback route and confirm with its reference.
    TransferAndConfirm,
    /// Nothing: the money arrived.
    Done,
    /// Resubmit as a new attempt with a new key.
    Resubmit,
    /// Plan again: the planner offers another route if the original is closed.
    Replan,
    /// Plan a fallback: the refund came back.
    PlanFallback,
    /// Overdue: query the host, then contact the acquirer with the RRN.
    QueryThenContactAcquirer,
}

impl NextStep {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            NextStep::Submit => "SUBMIT",
            NextStep::Approve => "APPROVE",
            NextStep::WaitForHost => "WAIT_FOR_HOST",
            NextStep::AwaitReversal => "AWAIT_REVERSAL",
            NextStep::ResolveReview => "RESOLVE_REVIEW",
            NextStep::WaitForArrival => "WAIT_FOR_ARRIVAL",
            NextStep::TransferAndConfirm => "TRANSFER_AND_CONFIRM",
            NextStep::Done => "DONE",
            NextStep::Resubmit => "RESUBMIT",
            NextStep::Replan => "REPLAN",
            NextStep::PlanFallback => "PLAN_FALLBACK",
            NextStep::QueryThenContactAcquirer => "QUERY_THEN_CONTACT_ACQUIRER",
        }
    }

    /// The message in `locale`.
    pub fn message(self, locale: Locale) -> &'static str {
        let (zh, en) = match self {
            NextStep::Submit => ("提交退款", "submit the refund"),
            NextStep::Approve => ("请主管输入密码授权", "a supervisor approves with their PIN"),
            NextStep::WaitForHost => ("等待主机应答", "wait for the host's answer"),
            NextStep::AwaitReversal => (
                "结果未知：终端将在下一笔交易前自动冲正或查询",
                "outcome unknown: the terminal reverses or queries it before new work",
            ),
            NextStep::ResolveReview => (
                "冲正多次失败：请主管向收单机构核实后处理",
                "reversals failed: a supervisor resolves it with the acquirer",
            ),
            NextStep::WaitForArrival => (
                "款项在途，预计到账日前无需处理",
                "the money is on its way; nothing to do before the expected date",
            ),
            NextStep::TransferAndConfirm => (
                "请按所选途径转账，并录入转账流水号确认",
                "send the money by the chosen route and confirm with the transfer's reference",
            ),
            NextStep::Done => ("已到账，无需处理", "the money arrived; nothing to do"),
            NextStep::Resubmit => (
                "可重试的失败：用新的请求号重新提交",
                "a retryable failure: resubmit as a new attempt with a new key",
            ),
            NextStep::Replan => (
                "退款失败：请重新规划，原路不可退时将提供其他途径",
                "the refund failed: plan again; another route is offered if the original is closed",
            ),
            NextStep::PlanFallback => (
                "退款被退回：请改用其他途径退款",
                "the refund came back: plan a fallback route",
            ),
            NextStep::QueryThenContactAcquirer => (
                "已超过预计到账日：请先查询，再凭参考号联系收单机构",
                "overdue: query the host, then contact the acquirer with the RRN",
            ),
        };
        locale.pick(zh, en)
    }
}

/// One refund as the refund tracker shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundView {
    /// The refund (or void, or pre-auth cancel) transaction.
    pub txn: Transaction,
    /// Its status.
    pub status: RefundStatus,
    /// Past its expected arrival and not yet credited.
    pub overdue: bool,
    /// Where the money goes.
    pub route: Route,
    /// When it should arrive.
    pub expected_arrival: Arrival,
    /// For a failure: whether a new attempt may succeed.
    pub retryable: bool,
    /// The confirmation's reference (fallbacks), if any.
    pub reference: Option<String>,
    /// What to do next.
    pub next_step: NextStep,
}

/// A filter for transaction and refund lists; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Transaction status.
    pub status: Option<Status>,
    /// Refund status (refund lists only).
    pub refund_status: Option<RefundStatus>,
    /// Kind.
    pub kind: Option<Kind>,
    /// Who initiated it.
    pub operator_id: Option<String>,
    /// From (inclusive).
    pub from: Option<Timestamp>,
    /// To (exclusive).
    pub to: Option<Timestamp>,
    /// This transaction only.
    pub id: Option<TxnId>,
    /// Those made against this original (its voids, refunds, completions).
    pub original: Option<TxnId>,
    /// This trace number (the voucher's 凭证号); trace numbers wrap, so
    /// there may be several.
    pub trace_no: Option<TraceNo>,
    /// This retrieval reference number (参考号): the approved transaction
    /// the acquirer gave it.
    pub rrn: Option<String>,
    /// This amount (`100` is `100.00`).
    pub amount: Option<Money>,
}

impl Filter {
    fn admits(&self, t: &Transaction) -> bool {
        self.id.is_none_or(|id| id == t.id)
            && self.original.is_none_or(|o| t.request.original == Some(o))
            && self.kind.is_none_or(|k| k == t.request.kind)
            && self
                .operator_id
                .as_ref()
                .is_none_or(|o| *o == t.request.operator_id)
            && self.from.is_none_or(|f| t.request.at >= f)
            && self.to.is_none_or(|to| t.request.at < to)
            && self.trace_no.is_none_or(|n| n == t.request.trace_no)
            && self.amount.is_none_or(|a| a == t.request.amount)
            && self.rrn.as_ref().is_none_or(|wanted| {
                matches!(&t.state, TxnState::Approved { rrn: Some(rrn), .. } if rrn == wanted)
            })
    }
}

/// The kinds the refund tracker follows: everything that gives money back.
pub const REFUND_KINDS: [Kind; 4] = [
    Kind::Refund,
    Kind::Void,
    Kind::CompletionVoid,
    Kind::PreAuthCancel,
];

impl Terminal {
    /// The newest `limit` transactions matching `filter`, newest first,
    /// with their status now. A view is built only for what is returned,
    /// and the search stops at the `limit`th (at once for a filter by id):
    /// a screen showing the latest page, one transaction or the few in
    /// doubt costs that, not a view of every transaction in the journal.
    pub fn list_newest(
        &self,
        filter: &Filter,
        now: Timestamp,
        limit: usize,
    ) -> Vec<crate::terminal::TxnView<'_>> {
        use std::ops::Bound::{Included, Unbounded};
        // The narrowest index that holds every match: one id, one RRN's,
        // those with a trace number, what was made against an original, or
        // the open set for the states only open transactions are in; else
        // every transaction, newest first (a search by amount alone reads
        // them until it has `limit`).
        let in_open_set = matches!(
            filter.status,
            Some(Status::Sent | Status::InDoubt | Status::ManualReview)
        );
        let few: Option<Vec<&Transaction>> = match (filter.id, &filter.rrn, filter.trace_no) {
            (Some(_), _, _) => None,
            (None, Some(rrn), _) => Some(
                self.state
                    .rrns
                    .get(rrn)
                    .and_then(|id| self.state.txns.get(id))
                    .map(|t| &**t)
                    .into_iter()
                    .collect(),
            ),
            (None, None, Some(trace_no)) => Some(self.with_trace(trace_no).collect()),
            (None, None, None) => match filter.original {
                Some(original) => Some(self.children(original).collect()),
                None if in_open_set => Some(self.state.open_txns().collect()),
                None => None,
            },
        };
        if let Some(few) = few {
            return self.pick(few.into_iter().rev(), filter, now, limit);
        }
        let ids = filter
            .id
            .map_or((Unbounded, Unbounded), |id| (Included(id), Included(id)));
        let all = self.state.txns.range(ids).rev().map(|(_, t)| &**t);
        self.pick(all, filter, now, limit)
    }

    /// The views of those of `candidates` (newest first) that `filter`
    /// admits, at most `limit`.
    fn pick<'a>(
        &'a self,
        candidates: impl Iterator<Item = &'a Transaction>,
        filter: &Filter,
        now: Timestamp,
        limit: usize,
    ) -> Vec<crate::terminal::TxnView<'a>> {
        candidates
            .filter(|t| filter.admits(t))
            .filter_map(|t| {
                // Judged once: for the filter and for the view.
                let status = self.status(t, now);
                filter
                    .status
                    .is_none_or(|s| s == status)
                    .then(|| self.view_of(t, status, now))
            })
            .take(limit)
            .collect()
    }

    /// Refunds (and voids and pre-auth cancels) matching `filter`, oldest
    /// first, with their tracking status.
    pub fn refunds(&self, filter: &Filter, now: Timestamp) -> Vec<RefundView> {
        self.transactions()
            .filter(|t| REFUND_KINDS.contains(&t.request.kind) && filter.admits(t))
            .filter_map(|t| self.refund_view(t.id, now))
            .filter(|v| filter.refund_status.is_none_or(|s| s == v.status))
            .filter(|v| filter.status.is_none_or(|s| s == self.status(&v.txn, now)))
            .collect()
    }

    /// The tracking view of one refund, void or pre-auth cancel.
    pub fn refund_view(&self, id: TxnId, now: Timestamp) -> Option<RefundView> {
        let t = self.transaction(id)?;
        if !REFUND_KINDS.contains(&t.request.kind) {
            return None;
        }
        let route = t
            .request
            .fallback
            .as_ref()
            .map_or(Route::Original, |f| f.route);
        let action = t.refund_action();
        let policy = &self.config().policy;
        let expected_arrival =
            Arrival::for_route(policy, action, route, t.request.card.method, t.request.at);
        let outcome = t.outcome.as_ref();
        let mut retryable = false;
        let status = match &t.state {
            TxnState::Sent => RefundStatus::Submitted,
            TxnState::InDoubt { .. } | TxnState::ManualReview { .. } => RefundStatus::InDoubt,
            TxnState::Declined { code } => {
                retryable = classify(code) == ResponseClass::Retryable;
                RefundStatus::Failed
            }
            TxnState::Reversed { .. } => {
                retryable = true;
                RefundStatus::Failed
            }
            TxnState::Approved { .. } => match (outcome.map(|o| o.outcome), action) {
                (Some(Outcome::Returned), _) => RefundStatus::Returned,
                (Some(Outcome::Credited), _) | (None, Action::Void | Action::PreAuthCancel) => {
                    RefundStatus::Credited
                }
                (None, _) => RefundStatus::Accepted,
            },
        };
        let today = now.local_date(policy.utc_offset_minutes);
        let overdue = matches!(status, RefundStatus::Submitted | RefundStatus::Accepted)
            && today > expected_arrival.latest;
        let next_step = match status {
            _ if overdue => NextStep::QueryThenContactAcquirer,
            RefundStatus::Draft => NextStep::Submit,
            RefundStatus::AwaitingApproval => NextStep::Approve,
            RefundStatus::Submitted => NextStep::WaitForHost,
            RefundStatus::InDoubt if matches!(t.state, TxnState::ManualReview { .. }) => {
                NextStep::ResolveReview
            }
            RefundStatus::InDoubt => NextStep::AwaitReversal,
            RefundStatus::Accepted if action == Action::Fallback => NextStep::TransferAndConfirm,
            RefundStatus::Accepted => NextStep::WaitForArrival,
            RefundStatus::Credited => NextStep::Done,
            RefundStatus::Failed if retryable => NextStep::Resubmit,
            RefundStatus::Failed => NextStep::Replan,
            RefundStatus::Returned => NextStep::PlanFallback,
        };
        Some(RefundView {
            status,
            overdue,
            route,
            expected_arrival,
            retryable,
            reference: outcome.and_then(|o| o.reference.clone()),
            next_step,
            txn: t.clone(),
        })
    }

    /// Confirms that a fallback refund's money was sent, with the transfer's
    /// reference (bank serial number, wallet order id, cash receipt no.).
    /// Needs a signed-in operator; the fallback becomes `credited`.
    pub fn confirm_fallback(
        &mut self,
        refund: &OriginalSelector,
        reference: &str,
        now: Timestamp,
    ) -> Result<(), PosError> {
        self.check_running()?;
        let operator = self.signed_in().ok_or(PosError::NotSignedIn)?.to_owned();
        let reference = reference.trim();
        if reference.is_empty() || reference.chars().count() > 64 {
            return Err(PosError::invalid_input(
                "reference",
                "1 to 64 characters",
                reference,
            ));
        }
        let t = self.find(refund)?;
        let view = self
            .refund_view(t.id, now)
            .filter(|v| v.route.is_fallback() && v.status == RefundStatus::Accepted)
            .ok_or_else(|| PosError::OutcomeNotAllowed {
                what: "confirm".into(),
                state: self
                    .refund_view(t.id, now)
                    .map_or("not a refund", |v| v.status.as_str())
                    .into(),
            })?;
        let txn = view.txn.id;
        self.append_record(Record::RefundOutcome {
            txn,
            outcome: Outcome::Credited,
            reference: Some(reference.to_owned()),
            operator_id: Some(operator),
            approvals: Vec::new(),
            at: now,
        });
        Ok(())
    }

    /// Records what the acquirer's statement (or the host) said became of an
    /// accepted original-route refund: credited, or returned. A returned
    /// refund frees its headroom for a fallback and closes the original
    /// route. Repeating the same outcome changes nothing.
    pub fn record_refund_outcome(
        &mut self,
        refund: TxnId,
        outcome: Outcome,
        reference: Option<String>,
        now: Timestamp,
    ) -> Result<bool, PosError> {
        self.check_running()?;
        let view = self
            .refund_view(refund, now)
            .ok_or_else(|| PosError::OriginalNotFound {
                reference: refund.to_string(),
            })?;
        let same = matches!(
            (view.status, outcome),
            (RefundStatus::Credited, Outcome::Credited)
                | (RefundStatus::Returned, Outcome::Returned)
        );
        if same {
            return Ok(false);
        }
        if view.status != RefundStatus::Accepted
            || view.route != Route::Original
            || view.txn.request.kind != Kind::Refund
        {
            return Err(PosError::OutcomeNotAllowed {
                what: outcome.as_str().into(),
                state: view.status.as_str().into(),
            });
        }
        self.append_record(Record::RefundOutcome {
            txn: refund,
            outcome,
            reference,
            operator_id: None,
            approvals: Vec::new(),
            at: now,
        });
        Ok(true)
    }
}

impl Terminal {
    /// Moves refunds to `credited` or `returned` as a reconciliation found
    /// them (one `refund_outcome` record each; ones already there are left
    /// alone). Returns how many changed.
    pub fn apply_reconciliation(
        &mut self,
        report: &crate::reconcile::ReconReport,
        now: Timestamp,
    ) -> Result<usize, PosError> {
        let reference = Some(format!("statement {}", report.dates.join(",")));
        let mut changed = 0;
        let moves = report
            .credited
            .iter()
            .map(|id| (*id, Outcome::Credited))
            .chain(report.returned.iter().map(|id| (*id, Outcome::Returned)));
        for (id, outcome) in moves {
            if self.record_refund_outcome(id, outcome, reference.clone(), now)? {
                changed += 1;
            }
        }
        Ok(changed)
    }
}
