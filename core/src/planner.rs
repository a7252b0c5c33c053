//! The refund planner (DESIGN.md Rules 1–3 and 5–7): for any refund request
//! it decides what should happen, who must approve it, where the money goes
//! and when it should arrive — before anything is sent.
//!
//! [`Terminal::plan_refund`] returns a [`RefundPlan`]. Its fields are
//! private and it cannot be deserialized, so the only way to build one is to
//! ask the planner: `Command::Refund` carries a plan, and `execute` plans
//! again and refuses with `PLAN_STALE` if the decision changed in between.
//! No refund runs unplanned.
//!
//! The decision, in order:
//!
//! 1. the original is a pre-auth → `pre_auth_cancel` while it is open,
//!    otherwise `reject`;
//! 2. the original (or anything done to it, or another refund of it) is in
//!    doubt, declined, voided or reversed, the amount exceeds what is left,
//!    or the refund count is used up → `reject`;
//! 3. same terminal, open batch, full amount, nothing refunded → `void`
//!    (cheapest: the money never moves);
//! 4. the original route is open → `refund`;
//! 5. otherwise (method cannot refund, card closed, window passed, acquirer
//!    forbids, host refused) → `fallback`, offering the policy's routes in
//!    order — only once the original route is definitively closed or ruled
//!    out (invariant 6).

use serde::{Deserialize, Serialize};

use crate::card::{Card, PaymentMethod};
use crate::error::{Locale, PosError};
use crate::host::{BatchNo, TraceNo};
use crate::money::Money;
use crate::operator::Role;
use crate::policy::Policy;
use crate::record::{Kind, TxnId};
use crate::terminal::{
    check_transition, Command, Operation, OriginalSelector, Status, Terminal, TxnState,
};
use crate::time::{Date, Timestamp};

/// What the planner decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 撤销: same terminal, open batch, full amount; the money never moves.
    Void,
    /// 退货 on the original route.
    Refund,
    /// A non-original route (Rule 5).
    Fallback,
    /// 预授权撤销: the original is an open pre-authorisation.
    PreAuthCancel,
    /// Not possible; the reasons say why.
    Reject,
}

impl Action {
    /// The snake_case name used in JS.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Void => "void",
            Action::Refund => "refund",
            Action::Fallback => "fallback",
            Action::PreAuthCancel => "pre_auth_cancel",
            Action::Reject => "reject",
        }
    }
}

/// Where the money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// 原路退回: back to the card or wallet that paid.
    Original,
    /// 入账账户: from the merchant's settlement account to the customer's
    /// bank account, by bank transfer.
    SettlementAccount,
    /// To another bank card of the customer.
    OtherCard,
    /// A transfer to the customer's wallet account.
    WalletTransfer,
    /// Cash at the counter.
    Cash,
    /// Nowhere (a rejected plan).
    None,
}

impl Route {
    /// The fallback routes, in DESIGN.md Rule 5's order.
    pub const FALLBACKS: [Route; 4] = [
        Route::SettlementAccount,
        Route::OtherCard,
        Route::WalletTransfer,
        Route::Cash,
    ];

    /// The snake_case name used in JS.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Original => "original",
            Route::SettlementAccount => "settlement_account",
            Route::OtherCard => "other_card",
            Route::WalletTransfer => "wallet_transfer",
            Route::Cash => "cash",
            Route::None => "none",
        }
    }

    /// Parses [`Route::as_str`]'s names.
    pub fn parse(text: &str) -> Option<Route> {
        [Route::Original, Route::None]
            .into_iter()
            .chain(Route::FALLBACKS)
            .find(|r| r.as_str() == text)
    }

    /// The names printed on vouchers and screens.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Route::Original => ("原路退回", "original route"),
            Route::SettlementAccount => ("入账账户转账", "settlement account transfer"),
            Route::OtherCard => ("退至他行卡", "another bank card"),
            Route::WalletTransfer => ("钱包转账", "wallet transfer"),
            Route::Cash => ("现金退款", "cash"),
            Route::None => ("无", "none"),
        }
    }

    /// Whether this is a non-original route.
    pub fn is_fallback(self) -> bool {
        Route::FALLBACKS.contains(&self)
    }

    /// The customer details a fallback needs (stored masked).
    pub fn needs(self) -> &'static [Detail] {
        match self {
            Route::SettlementAccount => &[Detail::HolderName, Detail::Bank, Detail::Account],
            Route::OtherCard => &[Detail::HolderName, Detail::Account],
            Route::WalletTransfer => &[Detail::Account],
            Route::Cash | Route::Original | Route::None => &[],
        }
    }
}

/// A customer detail a fallback route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Detail {
    /// The account holder's name (stored as its first character and `*`).
    HolderName,
    /// The bank's name.
    Bank,
    /// The account, card number or wallet id (stored masked).
    Account,
}

impl Detail {
    /// The camelCase field name used in JS.
    pub fn as_str(self) -> &'static str {
        match self {
            Detail::HolderName => "holderName",
            Detail::Bank => "bank",
            Detail::Account => "account",
        }
    }
}

/// Why the planner decided what it did. Each is a stable code with a zh-CN
/// and an en message; screens show them before anything is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// Same terminal, open batch, full amount, nothing refunded: a void.
    VoidSameBatch,
    /// The refund goes back the way the money came.
    OriginalRouteOpen,
    /// The payment method cannot take a refund back (prepaid, cash).
    MethodCannotRefund,
    /// The card is cancelled or frozen: the host said so, or a refund came back.
    CardClosed,
    /// The original-route refund window has passed.
    WindowPassed,
    /// The acquirer forbids original-route refunds of this kind (policy).
    AcquirerForbids,
    /// The host refused the refund on the original route.
    HostRefusedRoute,
    /// The original is a pre-authorisation: it is cancelled, not refunded.
    OriginalIsPreAuth,
    /// The pre-authorisation already ended (completed, cancelled, expired).
    PreAuthEnded,
    /// The amount is more than what is left to refund.
    ExceedsRefundable,
    /// Nothing is left to refund.
    NothingLeft,
    /// The original already has the policy's maximum number of refunds.
    RefundLimitReached,
    /// The original, or something done to it, has an unknown outcome.
    OriginalInDoubt,
    /// Another refund of the same original has an unknown outcome.
    RefundInDoubt,
    /// The original was declined.
    OriginalDeclined,
    /// The original was voided.
    OriginalVoided,
    /// The original was reversed.
    OriginalReversed,
    /// The original is not a sale or completion.
    NotRefundable,
    /// A fallback is needed but the policy lists no fallback route.
    NoFallbackRoute,
    /// The original is not in this journal: the voucher's data is used.
    NotInJournal,
    /// No auth code: a supervisor must approve and a reason is required.
    NoAuthCode,
    /// At or above the dual-control threshold: two different approvers.
    DualControl,
}

impl Reason {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::VoidSameBatch => "VOID_SAME_BATCH",
            Reason::OriginalRouteOpen => "ORIGINAL_ROUTE_OPEN",
            Reason::MethodCannotRefund => "METHOD_CANNOT_REFUND",
            Reason::CardClosed => "CARD_CLOSED",
            Reason::WindowPassed => "WINDOW_PASSED",
            Reason::AcquirerForbids => "ACQUIRER_FORBIDS",
            Reason::HostRefusedRoute => "HOST_REFUSED_ROUTE",
            Reason::OriginalIsPreAuth => "ORIGINAL_IS_PRE_AUTH",
            Reason::PreAuthEnded => "PRE_AUTH_ENDED",
            Reason::ExceedsRefundable => "EXCEEDS_REFUNDABLE",
            Reason::NothingLeft => "NOTHING_LEFT",
            Reason::RefundLimitReached => "REFUND_LIMIT_REACHED",
            Reason::OriginalInDoubt => "ORIGINAL_IN_DOUBT",
            Reason::RefundInDoubt => "REFUND_IN_DOUBT",
            Reason::OriginalDeclined => "ORIGINAL_DECLINED",
            Reason::OriginalVoided => "ORIGINAL_VOIDED",
            Reason::OriginalReversed => "ORIGINAL_REVERSED",
            Reason::NotRefundable => "NOT_REFUNDABLE",
            Reason::NoFallbackRoute => "NO_FALLBACK_ROUTE",
            Reason::NotInJournal => "NOT_IN_JOURNAL",
            Reason::NoAuthCode => "NO_AUTH_CODE",
            Reason::DualControl => "DUAL_CONTROL",
        }
    }

    /// Every reason.
    pub const ALL: [Reason; 22] = [
        Reason::VoidSameBatch,
        Reason::OriginalRouteOpen,
        Reason::MethodCannotRefund,
        Reason::CardClosed,
        Reason::WindowPassed,
        Reason::AcquirerForbids,
        Reason::HostRefusedRoute,
        Reason::OriginalIsPreAuth,
        Reason::PreAuthEnded,
        Reason::ExceedsRefundable,
        Reason::NothingLeft,
        Reason::RefundLimitReached,
        Reason::OriginalInDoubt,
        Reason::RefundInDoubt,
        Reason::OriginalDeclined,
        Reason::OriginalVoided,
        Reason::OriginalReversed,
        Reason::NotRefundable,
        Reason::NoFallbackRoute,
        Reason::NotInJournal,
        Reason::NoAuthCode,
        Reason::DualControl,
    ];

    /// Whether this reason closes or rules out the original route.
    pub fn closes_route(self) -> bool {
        matches!(
            self,
            Reason::MethodCannotRefund
                | Reason::CardClosed
                | Reason::WindowPassed
                | Reason::AcquirerForbids
                | Reason::HostRefusedRoute
        )
    }

    /// The message in `locale`.
    pub fn message(self, locale: Locale) -> &'static str {
        let (zh, en) = match self {
            Reason::VoidSameBatch => (
                "同一终端、当前批次、全额且未退货：做消费撤销，资金不出账",
                "same terminal, open batch, full amount, nothing refunded: a void; the money never moves",
            ),
            Reason::OriginalRouteOpen => ("原路退回可用", "the original route can take the refund"),
            Reason::MethodCannotRefund => (
                "该支付方式不支持原路退回（预付卡或现金）",
                "the payment method cannot take a refund back (prepaid or cash)",
            ),
            Reason::CardClosed => (
                "原卡已注销或冻结（主机拒绝或退款被退回）",
                "the card is cancelled or frozen (the host refused, or a refund came back)",
            ),
            Reason::WindowPassed => ("已超过原路退回期限", "the original-route refund window has passed"),
            Reason::AcquirerForbids => (
                "收单机构不允许此类交易原路退回",
                "the acquirer forbids original-route refunds of this kind",
            ),
            Reason::HostRefusedRoute => (
                "主机拒绝了原路退货",
                "the host refused the refund on the original route",
            ),
            Reason::OriginalIsPreAuth => (
                "原交易是预授权：应撤销预授权，不能退货",
                "the original is a pre-authorisation: cancel it, it is not refunded",
            ),
            Reason::PreAuthEnded => (
                "预授权已完成、撤销或过期；如已完成，请对完成交易退货",
                "the pre-authorisation has ended (completed, cancelled or expired); refund its completion instead",
            ),
            Reason::ExceedsRefundable => ("退货金额超过可退金额", "the amount exceeds what is left to refund"),
            Reason::NothingLeft => ("已无可退金额", "nothing is left to refund"),
            Reason::RefundLimitReached => ("退货次数已达上限", "the original already has the maximum number of refunds"),
            Reason::OriginalInDoubt => (
                "原交易或其后续交易结果未知，待冲正或查询后再试",
                "the original, or something done to it, has an unknown outcome; wait for the reversal or query",
            ),
            Reason::RefundInDoubt => (
                "同一原交易的另一笔退货结果未知，待其确定后再试",
                "another refund of this original has an unknown outcome; wait until it is resolved",
            ),
            Reason::OriginalDeclined => ("原交易被拒绝，无需退款", "the original was declined; nothing to refund"),
            Reason::OriginalVoided => ("原交易已撤销", "the original was voided"),
            Reason::OriginalReversed => ("原交易已冲正", "the original was reversed"),
            Reason::NotRefundable => ("原交易不是消费或预授权完成", "the original is not a sale or completion"),
            Reason::NoFallbackRoute => (
                "原路不可退且未配置其他退款途径",
                "the original route is closed and the policy lists no fallback route",
            ),
            Reason::NotInJournal => (
                "本终端无原交易记录，按签购单信息退货",
                "the original is not in this journal; the voucher's data is used",
            ),
            Reason::NoAuthCode => (
                "无授权码：需主管授权并填写原因",
                "no auth code: a supervisor must approve and a reason is required",
            ),
            Reason::DualControl => (
                "需两名不同人员授权（金额达到双人复核标准，或非原路退款）",
                "two different approvers: at or above the dual-control threshold, or not the original route",
            ),
        };
        locale.pick(zh, en)
    }
}

/// An expected arrival window, as dates in the terminal's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    /// The earliest day.
    pub earliest: Date,
    /// The latest day; after it the refund is overdue.
    pub latest: Date,
}

impl Arrival {
    /// The window for `route` (paying `method`) starting at `at`, in business
    /// days (Rule 8).
    pub fn for_route(
        policy: &Policy,
        action: Action,
        route: Route,
        method: PaymentMethod,
        at: Timestamp,
    ) -> Arrival {
        let [lo, hi] = policy.arrival_days(action, route, method);
        let day = at.local_date(policy.utc_offset_minutes);
        Arrival {
            earliest: day.plus_business_days(lo, &policy.holidays),
            latest: day.plus_business_days(hi, &policy.holidays),
        }
    }
}

/// What the operator reads off the voucher (签购单) when the original is not
/// in this journal (Rule 6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Voucher {
    /// The date printed.
    pub date: Date,
    /// The amount printed.
    pub amount: Money,
    /// The RRN (参考号) printed.
    pub rrn: String,
    /// The auth code (授权码), when the voucher shows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_code: Option<String>,
    /// The trace number (凭证号) printed.
    pub trace_no: TraceNo,
    /// The batch number (批次号) printed.
    pub batch_no: BatchNo,
    /// The card, masked as printed (or as read again).
    pub card: Card,
}

impl Voucher {
    /// Checks the fields the voucher must show.
    pub fn validate(&self) -> Result<(), PosError> {
        crate::host::check_rrn("original.voucher.rrn", &self.rrn)?;
        if let Some(code) = &self.auth_code {
            if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(PosError::invalid_input(
                    "original.voucher.authCode",
                    "6 letters or digits",
                    code,
                ));
            }
        }
        Ok(())
    }
}

/// The original a refund is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOriginal {
    /// A transaction in this journal.
    Journal(OriginalSelector),
    /// Not in this journal: what the voucher shows.
    Voucher(Voucher),
}

/// A fallback route on offer, with what it needs and when the money arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FallbackOption {
    /// The route.
    pub route: Route,
    /// The customer details it needs.
    pub needs: &'static [Detail],
    /// When the money should arrive if it is sent today.
    pub expected_arrival: Arrival,
}

/// The customer's destination for a fallback, as the operator typed it. It
/// is masked before it is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Destination {
    /// The chosen route (one of the plan's fallbacks).
    pub route: Option<Route>,
    /// The account holder's name.
    #[serde(default)]
    pub holder_name: Option<String>,
    /// The bank.
    #[serde(default)]
    pub bank: Option<String>,
    /// The account number, card number or wallet id.
    #[serde(default)]
    pub account: Option<String>,
}

/// A fallback refund as recorded: route, masked destination, and why the
/// original route was closed or ruled out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FallbackRecord {
    /// The route.
    pub route: Route,
    /// Holder name, masked (`张*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<String>,
    /// Bank name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    /// Account, masked (last 4 visible).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Why the original route was not used.
    pub reasons: Vec<Reason>,
}

/// Masks an account number, card number or wallet id: the last 4 visible.
pub fn mask_account(account: &str) -> String {
    let chars: Vec<char> = account.chars().filter(|c| !c.is_whitespace()).collect();
    let keep = if chars.len() > 8 { 4 } else { chars.len() / 2 };
    let hidden = chars.len() - keep;
    "*".repeat(hidden) + &chars[hidden..].iter().collect::<String>()
}

/// Masks a name: its first character, then one `*` per other character.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

impl Destination {
    /// Checks the details `route` needs and masks them for the record.
    pub fn to_record(&self, route: Route, reasons: &[Reason]) -> Result<FallbackRecord, PosError> {
        let text = |field: &str, value: &Option<String>| -> Result<Option<String>, PosError> {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() && v.chars().count() <= 64 => Ok(Some(v.to_owned())),
                Some(v) if !v.is_empty() => Err(PosError::invalid_input(
                    &format!("destination.{field}"),
                    "at most 64 characters",
                    v,
                )),
                _ => Ok(None),
            }
        };
        let holder = text("holderName", &self.holder_name)?;
        let bank = text("bank", &self.bank)?;
        let account = text("account", &self.account)?;
        let missing: Vec<&str> = route
            .needs()
            .iter()
            .filter(|d| match d {
                Detail::HolderName => holder.is_none(),
                Detail::Bank => bank.is_none(),
                Detail::Account => account.is_none(),
            })
            .map(|d| d.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(PosError::FallbackDetailsRequired {
                route: route.as_str().to_owned(),
                missing: missing.join(","),
            });
        }
        if let Some(a) = &account {
            let ok = a
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "@._-+ ".contains(c));
            if !ok || a.chars().filter(|c| !c.is_whitespace()).count() < 4 {
                // Never echo an account number.
                return Err(PosError::invalid_input(
                    "destination.account",
                    "an account, card number or wallet id of at least 4 characters",
                    &format!("{} characters", a.chars().count()),
                ));
            }
        }
        Ok(FallbackRecord {
            route,
            holder_name: holder.map(|h| mask_name(&h)),
            bank,
            account: account.map(|a| mask_account(&a)),
            reasons: reasons
                .iter()
                .copied()
                .filter(|r| r.closes_route())
                .collect(),
        })
    }
}

/// A refund plan: the proof that a refund was planned. Built only by
/// [`Terminal::plan_refund`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundPlan {
    action: Action,
    original: Option<TxnId>,
    voucher: Option<Voucher>,
    requested: Option<Money>,
    amount: Money,
    refundable: Money,
    route: Route,
    fallbacks: Vec<FallbackOption>,
    approvals: Vec<Role>,
    reasons: Vec<Reason>,
    expected_arrival: Option<Arrival>,
    #[serde(skip)]
    rejection: Option<PosError>,
}

impl RefundPlan {
    /// What to do.
    pub fn action(&self) -> Action {
        self.action
    }
    /// The original in this journal, if it is there.
    pub fn original(&self) -> Option<TxnId> {
        self.original
    }
    /// The voucher's data, when the original is not in this journal.
    pub fn voucher(&self) -> Option<&Voucher> {
        self.voucher.as_ref()
    }
    /// The amount as asked (`None`: the full refundable amount).
    pub fn requested(&self) -> Option<Money> {
        self.requested
    }
    /// The amount the action moves.
    pub fn amount(&self) -> Money {
        self.amount
    }
    /// What is left to refund before this plan.
    pub fn refundable(&self) -> Money {
        self.refundable
    }
    /// Where the money goes (the first fallback for a fallback plan).
    pub fn route(&self) -> Route {
        self.route
    }
    /// The fallback routes on offer, in policy order.
    pub fn fallbacks(&self) -> &[FallbackOption] {
        &self.fallbacks
    }
    /// The approvals required, one role per person.
    pub fn approvals(&self) -> &[Role] {
        &self.approvals
    }
    /// Every reason for the decision.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }
    /// When the money should arrive.
    pub fn expected_arrival(&self) -> Option<Arrival> {
        self.expected_arrival
    }
    /// The error a rejected plan gives when executed.
    pub fn rejection(&self) -> Option<&PosError> {
        self.rejection.as_ref()
    }
    /// Rule 8's status before submission: `awaiting_approval` when someone
    /// must approve, `draft` otherwise; none for a rejected plan.
    pub fn status(&self) -> Option<crate::tracking::RefundStatus> {
        use crate::tracking::RefundStatus;
        match self.action {
            Action::Reject => None,
            _ if self.approvals.is_empty() => Some(RefundStatus::Draft),
            _ => Some(RefundStatus::AwaitingApproval),
        }
    }
    /// How to plan the same refund again.
    pub fn original_ref(&self) -> RefundOriginal {
        match (&self.voucher, self.original) {
            (Some(v), _) => RefundOriginal::Voucher(v.clone()),
            (None, Some(id)) => RefundOriginal::Journal(OriginalSelector::Id(id)),
            (None, None) => unreachable!("a plan has an original or a voucher"),
        }
    }
    /// Whether `other` decides the same thing (action, amount, route,
    /// approvals): what `execute` checks before carrying a plan out.
    pub fn same_decision(&self, other: &RefundPlan) -> bool {
        self.action == other.action
            && self.original == other.original
            && self.voucher == other.voucher
            && self.amount == other.amount
            && self.route == other.route
            && self.approvals.len() == other.approvals.len()
    }
}

/// Whether a refund declined with `code` closes the original route, and
/// why (the policy's code lists, Rule 5).
fn route_closed_by(policy: &Policy, code: &str) -> Option<Reason> {
    let listed = |codes: &[String]| codes.iter().any(|c| c == code);
    if listed(&policy.card_closed_codes) {
        Some(Reason::CardClosed)
    } else if listed(&policy.route_refused_codes) {
        Some(Reason::HostRefusedRoute)
    } else {
        None
    }
}

impl Terminal {
    /// Plans a refund of `amount` (`None`: everything left) of `original` at
    /// `now`. An unknown original is an error; every other outcome is a plan,
    /// a rejected one carrying its reasons.
    pub fn plan_refund(
        &self,
        original: &RefundOriginal,
        amount: Option<Money>,
        now: Timestamp,
    ) -> Result<RefundPlan, PosError> {
        if let Some(a) = amount {
            self.check_amount(a)?;
        }
        match original {
            RefundOriginal::Journal(selector) => {
                let o = self.find(selector)?;
                Ok(self.plan_journal(o.id, amount, now))
            }
            RefundOriginal::Voucher(v) => {
                v.validate()?;
                self.check_amount(v.amount)?;
                if let Some(id) = self.state.rrns.get(&v.rrn) {
                    // It is in the journal after all: plan it from there.
                    return Ok(self.plan_journal(*id, amount, now));
                }
                Ok(self.plan_voucher(v, amount, now))
            }
        }
    }

    /// Plans a refund and wraps the plan in the command that carries it out:
    /// the usual way to refund. A rejected plan still makes a command, so
    /// `execute` reports its error in the documented order (a repeated key
    /// returns its recorded outcome first).
    #[allow(clippy::too_many_arguments)]
    pub fn refund_command(
        &self,
        original: &RefundOriginal,
        amount: Option<Money>,
        reason: &str,
        approvals: Vec<crate::operator::ApprovalInput>,
        destination: Option<Destination>,
        now: Timestamp,
    ) -> Result<Command, PosError> {
        let plan = self.plan_refund(original, amount, now)?;
        Ok(Command::Refund {
            plan: Box::new(plan),
            reason: reason.to_owned(),
            approvals,
            destination,
        })
    }

    fn plan_journal(&self, id: TxnId, amount: Option<Money>, now: Timestamp) -> RefundPlan {
        let o = &self.state.txns[&id];
        let policy = &self.config.policy;
        let status = self.status(o, now);
        let mut plan = RefundPlan {
            action: Action::Reject,
            original: Some(o.id),
            voucher: None,
            requested: amount,
            // `None` is everything left.
            amount: amount.unwrap_or_else(|| self.refundable(o, now)),
            refundable: self.refundable(o, now),
            route: Route::None,
            fallbacks: Vec::new(),
            approvals: Vec::new(),
            reasons: Vec::new(),
            expected_arrival: None,
            rejection: None,
        };
        let reject = |mut plan: RefundPlan, reason: Reason, error: PosError| {
            plan.reasons.push(reason);
            plan.rejection = Some(error);
            plan
        };
        if self.check_not_in_doubt(o, status).is_err() {
            return reject(plan, Reason::OriginalInDoubt, PosError::OriginalInDoubt);
        }
        if o.request.kind == Kind::PreAuth {
            plan.reasons.push(Reason::OriginalIsPreAuth);
            if check_transition(Operation::CancelPreAuth, o.request.kind, status).is_err() {
                return reject(plan, Reason::PreAuthEnded, PosError::PreAuthNotRefundable);
            }
            if amount.is_some_and(|a| a != o.request.amount) {
                // Rule 3: a cancel is for exactly the frozen amount.
                plan.rejection = Some(PosError::PreAuthNotRefundable);
                return plan;
            }
            plan.action = Action::PreAuthCancel;
            plan.amount = o.request.amount;
            plan.refundable = o.request.amount;
            plan.route = Route::Original;
            plan.expected_arrival = Some(Arrival::for_route(
                policy,
                Action::Void,
                Route::Original,
                o.request.card.method,
                now,
            ));
            return plan;
        }
        if let Err(e) = check_transition(Operation::Refund, o.request.kind, status) {
            let reason = match status {
                Status::Declined => Reason::OriginalDeclined,
                Status::Voided => Reason::OriginalVoided,
                Status::Reversed => Reason::OriginalReversed,
                Status::Refunded => Reason::NothingLeft,
                _ => Reason::NotRefundable,
            };
            return reject(plan, reason, e);
        }
        let siblings: Vec<&crate::terminal::Transaction> = self.refunds_of(o.id).collect();
        self.finish_plan(
            plan,
            &siblings,
            o.request.card.clone(),
            o.request.at,
            now,
            |p| {
                // Rule 1: a void only in the open batch, full amount, nothing
                // refunded, not a fallback.
                let voidable = o.request.batch_no == self.state.batch_no
                    && p.amount == o.request.amount
                    && siblings.iter().all(|s| {
                        matches!(
                            s.state,
                            TxnState::Declined { .. } | TxnState::Reversed { .. }
                        )
                    });
                voidable
            },
        )
    }

    fn plan_voucher(&self, v: &Voucher, amount: Option<Money>, now: Timestamp) -> RefundPlan {
        let siblings: Vec<&crate::terminal::Transaction> = self
            .state
            .voucher_refunds
            .get(&v.rrn)
            .into_iter()
            .flatten()
            .filter_map(|id| self.state.txns.get(id).map(Box::as_ref))
            .collect();
        let zero = Money::zero(v.amount.currency());
        let used = siblings
            .iter()
            .filter(|s| self.consumes_headroom(s))
            .fold(zero, |acc, s| {
                acc.checked_add(s.request.amount).unwrap_or(acc)
            });
        let plan = RefundPlan {
            action: Action::Reject,
            original: None,
            voucher: Some(v.clone()),
            requested: amount,
            amount: amount.unwrap_or(v.amount.saturating_sub(used).unwrap_or(zero)),
            refundable: v.amount.saturating_sub(used).unwrap_or(zero),
            route: Route::None,
            fallbacks: Vec::new(),
            approvals: Vec::new(),
            reasons: vec![Reason::NotInJournal],
            expected_arrival: None,
            rejection: None,
        };
        let at = Timestamp(v.date.to_days() * crate::time::DAY_MS);
        self.finish_plan(plan, &siblings, v.card.clone(), at, now, |_| false)
    }

    /// The common tail: refund headroom, the original route's checks, and
    /// the fallback routes.
    fn finish_plan(
        &self,
        mut plan: RefundPlan,
        siblings: &[&crate::terminal::Transaction],
        card: Card,
        original_at: Timestamp,
        now: Timestamp,
        voidable: impl Fn(&RefundPlan) -> bool,
    ) -> RefundPlan {
        let policy = &self.config.policy;
        let reject = |mut plan: RefundPlan, reason: Reason, error: PosError| {
            plan.reasons.push(reason);
            plan.rejection = Some(error);
            plan.route = Route::None;
            plan
        };
        // An in-doubt refund of the same original keeps its headroom (Rule 2)
        // and rules out a fallback until it is resolved (invariant 6).
        let sibling_in_doubt = siblings.iter().any(|s| {
            matches!(
                s.state,
                TxnState::Sent | TxnState::InDoubt { .. } | TxnState::ManualReview { .. }
            )
        });
        let count = siblings
            .iter()
            .filter(|s| self.consumes_headroom(s))
            .count() as u32;
        if count >= policy.max_refunds_per_original {
            return reject(
                plan,
                Reason::RefundLimitReached,
                PosError::RefundLimitReached { count },
            );
        }
        if plan.refundable.is_zero() {
            return reject(
                plan.clone(),
                Reason::NothingLeft,
                PosError::RefundExceedsRefundable {
                    requested: plan.amount.to_string(),
                    refundable: plan.refundable.to_string(),
                },
            );
        }
        if plan.amount > plan.refundable {
            return reject(
                plan.clone(),
                Reason::ExceedsRefundable,
                PosError::RefundExceedsRefundable {
                    requested: plan.amount.to_string(),
                    refundable: plan.refundable.to_string(),
                },
            );
        }
        let dual = plan.amount.amount() >= policy.dual_control_threshold;
        let no_auth_code = plan.voucher.as_ref().is_some_and(|v| v.auth_code.is_none());
        if no_auth_code {
            plan.reasons.push(Reason::NoAuthCode);
        }
        if voidable(&plan) {
            plan.action = Action::Void;
            plan.route = Route::Original;
            plan.reasons.push(Reason::VoidSameBatch);
            plan.approvals = vec![Role::Supervisor; usize::from(policy.void_needs_supervisor)];
            plan.expected_arrival = Some(Arrival::for_route(
                policy,
                Action::Void,
                Route::Original,
                card.method,
                now,
            ));
            return plan;
        }
        // Why the original route is closed or ruled out, if it is.
        let mut closed: Vec<Reason> = Vec::new();
        if card.method == PaymentMethod::Prepaid {
            closed.push(Reason::MethodCannotRefund);
        }
        let window = match card.method {
            PaymentMethod::QrWallet => policy.wallet_refund_window_days,
            PaymentMethod::BankCard | PaymentMethod::Prepaid => policy.card_refund_window_days,
        };
        let opened = original_at.local_date(policy.utc_offset_minutes);
        let today = now.local_date(policy.utc_offset_minutes);
        if today.to_days() - opened.to_days() > i64::from(window) {
            closed.push(Reason::WindowPassed);
        }
        if policy.forbids_original_route(&card) {
            closed.push(Reason::AcquirerForbids);
        }
        for s in siblings {
            let reason = match &s.state {
                TxnState::Declined { code } => route_closed_by(policy, code).or_else(|| {
                    // An unreferenced refund the host cannot find cannot go
                    // back on the original route.
                    (plan.voucher.is_some() && code == "25").then_some(Reason::HostRefusedRoute)
                }),
                TxnState::Approved { .. } if self.is_returned(s) => Some(Reason::CardClosed),
                _ => None,
            };
            if let Some(r) = reason.filter(|r| !closed.contains(r)) {
                closed.push(r);
            }
        }
        if closed.is_empty() {
            plan.action = Action::Refund;
            plan.route = Route::Original;
            plan.reasons.push(Reason::OriginalRouteOpen);
            let needed = if dual {
                2
            } else {
                usize::from(policy.refund_needs_supervisor || no_auth_code)
            };
            if dual {
                plan.reasons.push(Reason::DualControl);
            }
            plan.approvals = vec![Role::Supervisor; needed];
            plan.expected_arrival = Some(Arrival::for_route(
                policy,
                Action::Refund,
                Route::Original,
                card.method,
                now,
            ));
            return plan;
        }
        plan.reasons.extend(closed);
        if sibling_in_doubt {
            return reject(plan, Reason::RefundInDoubt, PosError::OriginalInDoubt);
        }
        plan.fallbacks = policy
            .fallback_routes
            .iter()
            .map(|&route| FallbackOption {
                route,
                needs: route.needs(),
                expected_arrival: Arrival::for_route(
                    policy,
                    Action::Fallback,
                    route,
                    card.method,
                    now,
                ),
            })
            .collect();
        let Some(first) = plan.fallbacks.first() else {
            return reject(
                plan,
                Reason::NoFallbackRoute,
                PosError::RefundRejected {
                    reasons: "NO_FALLBACK_ROUTE".into(),
                },
            );
        };
        plan.action = Action::Fallback;
        plan.route = first.route;
        plan.expected_arrival = Some(first.expected_arrival);
        // Rule 5: a supervisor and a second person, always.
        plan.reasons.push(Reason::DualControl);
        plan.approvals = vec![Role::Supervisor; 2];
        plan
    }
}

/// One original of a time-range refund, and what to do about it.
#[derive(Debug, Clone)]
pub enum RangeStep {
    /// Already given back under its key (a repeated run): by which
    /// transaction, and how.
    Done {
        /// The original.
        original: TxnId,
        /// The transaction that gave the money back.
        txn: TxnId,
        /// How.
        action: Action,
    },
    /// Not refunded: the plan says why (rejected, or a fallback, which needs
    /// each customer's destination details).
    Skip {
        /// The original.
        original: TxnId,
        /// Its plan.
        plan: Box<RefundPlan>,
    },
    /// To run, one by one, under its own key.
    Run {
        /// The original.
        original: TxnId,
        /// What the plan does.
        action: Action,
        /// The refund command carrying the plan.
        command: Command,
        /// `{key_prefix}:{original}`: a rerun refunds nothing twice.
        key: String,
    },
}

impl Terminal {
    /// Rule 2's refund by time range: a full refund of every sale,
    /// completion and pre-auth made in `[from, to)` — for a cancelled event,
    /// say — oldest first, each planned, with `reason` and `approvals`. The
    /// drivers run the `Run` steps one by one and report the rest.
    pub fn range_steps(
        &self,
        from: Timestamp,
        to: Timestamp,
        reason: &str,
        approvals: &[crate::operator::ApprovalInput],
        key_prefix: &str,
        now: Timestamp,
    ) -> Vec<RangeStep> {
        self.transactions()
            .filter(|t| t.request.at >= from && t.request.at < to)
            .filter(|t| {
                matches!(
                    t.request.kind,
                    Kind::Sale | Kind::Completion | Kind::CompletionAdvice | Kind::PreAuth
                )
            })
            .map(|t| {
                let key = format!("{key_prefix}:{}", t.id);
                if let Some(done) = self.by_key(&key) {
                    // How the money went back then, not what a plan says now.
                    return RangeStep::Done {
                        original: t.id,
                        txn: done.id,
                        action: done.refund_action(),
                    };
                }
                let plan = self.plan_journal(t.id, None, now);
                match plan.action {
                    Action::Reject | Action::Fallback => RangeStep::Skip {
                        original: t.id,
                        plan: Box::new(plan),
                    },
                    Action::Void | Action::Refund | Action::PreAuthCancel => RangeStep::Run {
                        original: t.id,
                        action: plan.action,
                        command: Command::Refund {
                            plan: Box::new(plan),
                            reason: reason.to_owned(),
                            approvals: approvals.to_vec(),
                            destination: None,
                        },
                        key,
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_little() {
        assert_eq!(
            mask_account("6222 0202 0011 2233 445"),
            "***************3445"
        );
        assert_eq!(mask_account("wx_abc"), "***abc");
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn every_reason_has_a_code_and_both_messages() {
        let mut codes: Vec<&str> = Reason::ALL.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Reason::ALL.len());
        for r in Reason::ALL {
            assert_ne!(r.message(Locale::ZhCn), r.message(Locale::En));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.code()));
        }
    }
}
