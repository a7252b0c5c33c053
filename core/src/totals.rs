//! Settlement totals (结算总计) of a batch, and the settlement report.
//!
//! Totals are computed from the terminal's journal alone (DESIGN.md Rule 11,
//! invariant 8): only **approved** records count, each under its own type,
//! the way Chinese terminals print the 结算单:
//!
//! ```text
//! 消费 SALE            3笔      300.00
//! 消费撤销 VOID        1笔      100.00
//! 退货 REFUND          1笔       30.00
//! 预授权完成 COMPLETE   1笔       80.00
//! 离线结算 OFFLINE      1笔       50.00
//! 完成撤销 COMP VOID    0笔        0.00
//! 预授权 PRE-AUTH       2笔      200.00   (counted, not in net)
//! 预授权撤销 CANCEL     1笔      100.00   (counted, not in net)
//! 净额 NET                       300.00
//! ```
//!
//! A voided sale is still an approved sale: it counts once under 消费 and its
//! void once under 撤销 (the two cancel out in the net), exactly as the host
//! sees two approved messages. A completion advice (预授权完成通知) is the
//! terminal's offline transaction and is shown as 离线 / OFFLINE. Pre-auths
//! and their cancels freeze and release funds but move no money, so they are
//! counted without entering the net. Every figure is split into domestic and
//! foreign cards ([`crate::card::Card::foreign`]), in the batch currency.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::PosError;
use crate::host::{BatchNo, SettlementSummary};
use crate::money::{Currency, Money};
use crate::record::Kind;
use crate::terminal::{Terminal, TxnState};
use crate::time::Timestamp;

/// An amount that may be negative (a net, a difference); money itself
/// ([`Money`]) never is. Crosses boundaries as a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedMoney {
    #[serde(with = "crate::money::decimal_text")]
    amount: Decimal,
    currency: Currency,
}

impl SignedMoney {
    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> SignedMoney {
        SignedMoney {
            amount: Decimal::new(0, currency.minor_units()),
            currency,
        }
    }

    /// `money` with the given sign.
    pub fn from_money(money: Money, negative: bool) -> SignedMoney {
        let amount = if negative {
            -money.amount()
        } else {
            money.amount()
        };
        SignedMoney {
            amount,
            currency: money.currency(),
        }
    }

    /// The amount.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Whether it is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// `self + other` (or `self - other` when `negative`); currencies must
    /// match.
    pub fn add(self, other: Money, negative: bool) -> Result<SignedMoney, PosError> {
        self.add_signed(SignedMoney::from_money(other, negative))
    }

    /// `self + other`; currencies must match.
    pub fn add_signed(self, other: SignedMoney) -> Result<SignedMoney, PosError> {
        if self.currency != other.currency {
            return Err(PosError::CurrencyMismatch {
                expected: self.currency,
                found: other.currency,
            });
        }
        let mut amount =
            self.amount
                .checked_add(other.amount)
                .ok_or_else(|| PosError::Internal {
                    what: "money overflow".into(),
                })?;
        amount.rescale(self.currency.minor_units());
        Ok(SignedMoney {
            amount,
            currency: self.currency,
        })
    }
}

impl std::fmt::Display for SignedMoney {
    /// `-12.30`, at the currency's scale, without the currency code.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut a = self.amount;
        a.rescale(self.currency.minor_units());
        if a.is_zero() {
            // Never print "-0.00".
            a.set_sign_positive(true);
        }
        write!(f, "{a}")
    }
}

/// How a kind enters the net: `Some(false)` adds, `Some(true)` subtracts,
/// `None` is counted but moves no money.
pub fn net_direction(kind: Kind) -> Option<bool> {
    match kind {
        Kind::Sale | Kind::Completion | Kind::CompletionAdvice => Some(false),
        Kind::Void | Kind::Refund | Kind::CompletionVoid => Some(true),
        Kind::PreAuth | Kind::PreAuthCancel => None,
    }
}

/// The names a settlement printout uses for each kind's row: the Chinese
/// terminal's short label, then English.
pub fn totals_label(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::CompletionAdvice => ("离线结算", "OFFLINE"),
        Kind::CompletionVoid => ("完成撤销", "COMPLETE VOID"),
        other => other.names(),
    }
}

/// Count and amount of one type (`消费 3笔 300.00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindTotal {
    /// How many approved records (笔数).
    pub count: u32,
    /// Their amount.
    pub amount: Money,
}

/// The totals of one card group (domestic, foreign, or both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// 消费.
    pub sale: KindTotal,
    /// 消费撤销.
    pub void: KindTotal,
    /// 退货.
    pub refund: KindTotal,
    /// 预授权完成（请求）.
    pub completion: KindTotal,
    /// 预授权完成（通知）, the offline transactions.
    pub offline: KindTotal,
    /// 预授权完成撤销.
    pub completion_void: KindTotal,
    /// 预授权 (counted, not in the net).
    pub pre_auth: KindTotal,
    /// 预授权撤销 (counted, not in the net).
    pub pre_auth_cancel: KindTotal,
    /// Sales, completions and offline completions less voids, completion
    /// voids and refunds. Negative when refunds exceed takings.
    pub net: SignedMoney,
}

impl Totals {
    /// All zero in `currency`.
    pub fn zero(currency: Currency) -> Totals {
        let z = KindTotal {
            count: 0,
            amount: Money::zero(currency),
        };
        Totals {
            sale: z,
            void: z,
            refund: z,
            completion: z,
            offline: z,
            completion_void: z,
            pre_auth: z,
            pre_auth_cancel: z,
            net: SignedMoney::zero(currency),
        }
    }

    /// The row of `kind`.
    pub fn get(&self, kind: Kind) -> &KindTotal {
        match kind {
            Kind::Sale => &self.sale,
            Kind::Void => &self.void,
            Kind::Refund => &self.refund,
            Kind::PreAuth => &self.pre_auth,
            Kind::PreAuthCancel => &self.pre_auth_cancel,
            Kind::Completion => &self.completion,
            Kind::CompletionAdvice => &self.offline,
            Kind::CompletionVoid => &self.completion_void,
        }
    }

    fn get_mut(&mut self, kind: Kind) -> &mut KindTotal {
        match kind {
            Kind::Sale => &mut self.sale,
            Kind::Void => &mut self.void,
            Kind::Refund => &mut self.refund,
            Kind::PreAuth => &mut self.pre_auth,
            Kind::PreAuthCancel => &mut self.pre_auth_cancel,
            Kind::Completion => &mut self.completion,
            Kind::CompletionAdvice => &mut self.offline,
            Kind::CompletionVoid => &mut self.completion_void,
        }
    }

    fn add(&mut self, kind: Kind, amount: Money) -> Result<(), PosError> {
        let row = self.get_mut(kind);
        row.count += 1;
        row.amount = row.amount.checked_add(amount)?;
        if let Some(negative) = net_direction(kind) {
            self.net = self.net.add(amount, negative)?;
        }
        Ok(())
    }

    /// The rows in printing order: money-moving types first, then the
    /// pre-auth rows that are counted but not in the net.
    pub fn rows(&self) -> [(Kind, &KindTotal); 8] {
        PRINT_ORDER.map(|k| (k, self.get(k)))
    }
}

/// The order a settlement printout lists the types in.
pub const PRINT_ORDER: [Kind; 8] = [
    Kind::Sale,
    Kind::Void,
    Kind::Refund,
    Kind::Completion,
    Kind::CompletionAdvice,
    Kind::CompletionVoid,
    Kind::PreAuth,
    Kind::PreAuthCancel,
];

/// Settlement totals of one batch, from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTotals {
    /// The batch.
    pub batch_no: BatchNo,
    /// The batch currency (the terminal's).
    pub currency: Currency,
    /// Domestic cards (内卡).
    pub domestic: Totals,
    /// Foreign cards (外卡).
    pub foreign: Totals,
    /// Both.
    pub all: Totals,
}

impl BatchTotals {
    /// The totals of `batch_no` as the terminal's journal has them: every
    /// approved record of the batch under its own type.
    pub fn compute(term: &Terminal, batch_no: BatchNo) -> Result<BatchTotals, PosError> {
        let currency = term.config().currency;
        let mut totals = BatchTotals {
            batch_no,
            currency,
            domestic: Totals::zero(currency),
            foreign: Totals::zero(currency),
            all: Totals::zero(currency),
        };
        for t in term.transactions() {
            // Fallback refunds leave the card network: not in the batch's
            // card totals (the refund tracker follows them).
            if t.request.batch_no != batch_no || t.request.fallback.is_some() {
                continue;
            }
            let approved = match t.state {
                TxnState::Approved { .. } => true,
                TxnState::Sent
                | TxnState::InDoubt { .. }
                | TxnState::ManualReview { .. }
                | TxnState::Declined { .. }
                | TxnState::Reversed { .. } => false,
            };
            if !approved {
                continue;
            }
            let (kind, amount) = (t.request.kind, t.request.amount);
            totals.all.add(kind, amount)?;
            if t.request.card.foreign {
                totals.foreign.add(kind, amount)?;
            } else {
                totals.domestic.add(kind, amount)?;
            }
        }
        debug_assert_eq!(
            totals
                .domestic
                .net
                .add_signed(totals.foreign.net)
                .map(|n| n == totals.all.net),
            Ok(true),
            "domestic + foreign = all"
        );
        Ok(totals)
    }

    /// The debit/credit summary a settlement request carries, derived from
    /// these totals: debits are sales, completions and offline completions
    /// less their voids; credits are refunds. Equal to
    /// [`Terminal::summary`] for the same batch (invariant 8; tested).
    pub fn host_summary(&self) -> Result<SettlementSummary, PosError> {
        let a = &self.all;
        let debit = a
            .sale
            .amount
            .checked_add(a.completion.amount)?
            .checked_add(a.offline.amount)?;
        let undone = a.void.amount.checked_add(a.completion_void.amount)?;
        Ok(SettlementSummary {
            debit_count: (a.sale.count + a.completion.count + a.offline.count)
                .saturating_sub(a.void.count + a.completion_void.count),
            debit_amount: debit.saturating_sub(undone)?,
            credit_count: a.refund.count,
            credit_amount: a.refund.amount,
        })
    }
}

/// Where a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Still open: the report is a pre-settlement total (总计查询).
    Open,
    /// Closed, the host agreed (对账平).
    Balanced,
    /// Closed after the host disagreed (对账不平; batch upload followed).
    Unbalanced,
}

impl BatchState {
    /// Chinese and English, as printed.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            BatchState::Open => ("未结算", "NOT SETTLED"),
            BatchState::Balanced => ("对账平", "BALANCED"),
            BatchState::Unbalanced => ("对账不平", "UNBALANCED"),
        }
    }
}

/// The settlement report (结算单) of one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementReport {
    /// Merchant id.
    pub merchant_id: String,
    /// Terminal id.
    pub terminal_id: String,
    /// The batch.
    pub batch_no: BatchNo,
    /// Its totals from the journal.
    pub totals: BatchTotals,
    /// Open, balanced or unbalanced (from [`Terminal::closed_batches`]).
    pub state: BatchState,
    /// The summary the terminal sent with the settlement, once closed.
    pub host_summary: Option<SettlementSummary>,
    /// When the batch closed, or `now` for an open batch.
    pub at: Timestamp,
}

impl SettlementReport {
    /// The report of `batch_no`: the open batch or a closed one.
    ///
    /// `BATCH_NOT_FOUND` for any other number.
    pub fn new(
        term: &Terminal,
        batch_no: BatchNo,
        now: Timestamp,
    ) -> Result<SettlementReport, PosError> {
        // Batch numbers wrap like trace numbers: the latest close wins.
        let closed = term
            .closed_batches()
            .iter()
            .rev()
            .find(|c| c.batch_no == batch_no);
        let (state, host_summary, at) = match closed {
            Some(c) if c.balanced => (BatchState::Balanced, Some(c.summary.clone()), c.at),
            Some(c) => (BatchState::Unbalanced, Some(c.summary.clone()), c.at),
            None if batch_no == term.batch_no() => (BatchState::Open, None, now),
            None => {
                return Err(PosError::BatchNotFound {
                    batch_no: batch_no.to_string(),
                    open: term.batch_no().to_string(),
                })
            }
        };
        Ok(SettlementReport {
            merchant_id: term.config().merchant_id.clone(),
            terminal_id: term.config().terminal_id.clone(),
            batch_no,
            totals: BatchTotals::compute(term, batch_no)?,
            state,
            host_summary,
            at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(s: &str) -> Money {
        Money::parse(s, Currency::Cny).unwrap()
    }

    #[test]
    fn signed_money_nets_and_prints_without_minus_zero() {
        let z = SignedMoney::zero(Currency::Cny);
        assert_eq!(z.to_string(), "0.00");
        let n = z.add(cny("30"), true).unwrap();
        assert_eq!(n.to_string(), "-30.00");
        let back = n.add(cny("30"), false).unwrap();
        assert_eq!(back.to_string(), "0.00");
        assert!(back.is_zero());
        let yen = Money::parse("5", Currency::Jpy).unwrap();
        assert_eq!(z.add(yen, false).unwrap_err().code(), "CURRENCY_MISMATCH");
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, r#"{"amount":"-30.00","currency":"CNY"}"#);
    }

    #[test]
    fn totals_count_each_kind_and_keep_pre_auths_out_of_the_net() {
        let mut t = Totals::zero(Currency::Cny);
        for (k, a) in [
            (Kind::Sale, "100"),
            (Kind::Sale, "50"),
            (Kind::Void, "50"),
            (Kind::Refund, "20"),
            (Kind::PreAuth, "500"),
            (Kind::PreAuthCancel, "500"),
            (Kind::Completion, "80"),
            (Kind::CompletionAdvice, "10"),
            (Kind::CompletionVoid, "10"),
        ] {
            t.add(k, cny(a)).unwrap();
        }
        assert_eq!(t.sale.count, 2);
        assert_eq!(t.sale.amount.to_string(), "150.00");
        assert_eq!(t.pre_auth.count, 1);
        // 150 - 50 - 20 + 80 + 10 - 10
        assert_eq!(t.net.to_string(), "160.00");
        let printed: Vec<Kind> = t.rows().iter().map(|(k, _)| *k).collect();
        assert_eq!(printed, PRINT_ORDER.to_vec());
        for k in Kind::ALL {
            assert!(PRINT_ORDER.contains(&k), "{k:?} has a row");
        }
    }
}
