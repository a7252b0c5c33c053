//! Every number of DESIGN.md's rules, as data with its source.
//!
//! An acquirer profile overrides fields; nothing in the engine writes one of
//! these numbers as a literal.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::card::{Card, PaymentMethod};
use crate::error::PosError;
use crate::planner::{Action, Route};
use crate::time::Date;

/// Kinds of original-route refund an acquirer may forbid (Rule 5's
/// "business rule"), for [`Policy::original_route_forbidden`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forbidden {
    /// Bank-card refunds on the original route.
    BankCard,
    /// QR wallet refunds on the original route.
    QrWallet,
    /// Original-route refunds to cards issued abroad.
    ForeignCard,
}

impl Forbidden {
    /// The kind named as in JS (`bank_card`, `qr_wallet`, `foreign_card`).
    pub fn parse(name: &str) -> Option<Forbidden> {
        match name {
            "bank_card" => Some(Forbidden::BankCard),
            "qr_wallet" => Some(Forbidden::QrWallet),
            "foreign_card" => Some(Forbidden::ForeignCard),
            _ => None,
        }
    }
}

/// Rule 8's expected arrival, in business days `[earliest, latest]`, per
/// route. Source: DESIGN.md Rule 8 (void 0, card refund 1–3, QR wallet 0–1,
/// bank transfer 1–2); another card follows the card network's 1–3, a
/// wallet transfer the wallet's 0–1, cash is handed over at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ArrivalDays {
    /// Void and pre-auth cancel: the money never moves.
    pub void: [u32; 2],
    /// A bank-card refund on the original route.
    pub card_refund: [u32; 2],
    /// A QR wallet refund on the original route.
    pub wallet_refund: [u32; 2],
    /// Settlement account to the customer's bank account.
    pub bank_transfer: [u32; 2],
    /// To another bank card.
    pub other_card: [u32; 2],
    /// A wallet transfer.
    pub wallet_transfer: [u32; 2],
    /// Cash.
    pub cash: [u32; 2],
}

impl Default for ArrivalDays {
    fn default() -> Self {
        ArrivalDays {
            void: [0, 0],
            card_refund: [1, 3],
            wallet_refund: [0, 1],
            bank_transfer: [1, 2],
            other_card: [1, 3],
            wallet_transfer: [0, 1],
            cash: [0, 0],
        }
    }
}

/// The rules' numbers. `Policy::default()` is DESIGN.md's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Policy {
    /// Rule 1: a void needs a supervisor approval. Source: UnionPay terminal
    /// specification practice (消费撤销 requires 主管密码 by default).
    pub void_needs_supervisor: bool,
    /// Rule 2/7: a refund needs a supervisor approval.
    pub refund_needs_supervisor: bool,
    /// Rule 2: refunds per original, at most. Source: acquirer limits
    /// commonly set at 50 partial refunds.
    pub max_refunds_per_original: u32,
    /// Rule 2: original-route refund window for bank cards, in days.
    pub card_refund_window_days: u32,
    /// Rule 2: original-route refund window for QR wallets, in days
    /// (WeChat Pay / Alipay accept refunds for up to a year).
    pub wallet_refund_window_days: u32,
    /// Rule 3: a completion may be up to this percentage of the frozen
    /// amount. Source: UnionPay's 115 % pre-authorisation completion rule.
    #[serde(with = "crate::money::decimal_text")]
    pub completion_tolerance_percent: Decimal,
    /// Rule 3: a pre-auth can be completed or cancelled for this many days.
    pub pre_auth_validity_days: u32,
    /// Rule 4: reversal attempts before manual review, 1–3.
    pub reversal_attempts: u32,
    /// Rule 4: how long the binding waits for the host before the request
    /// is in doubt, in milliseconds.
    pub host_timeout_ms: u32,
    /// Rule 7: wrong PINs before the operator is locked.
    pub max_pin_attempts: u32,
    /// Rule 7: how long a lock lasts, in minutes.
    pub pin_lock_minutes: u32,
    /// Rule 7: PBKDF2-HMAC-SHA256 iterations for stored PIN hashes. OWASP
    /// recommends 600,000 for passwords; a 6-digit PIN behind a 5-attempt
    /// lock is guarded by the lock, and low-end POS devices pay for every
    /// round at open, so the default is lower.
    pub pin_hash_iterations: u32,
    /// Rule 7: refunds at or above this amount need two different approvers.
    #[serde(with = "crate::money::decimal_text")]
    pub dual_control_threshold: Decimal,
    /// Rule 12: the largest amount of one transaction.
    #[serde(with = "crate::money::decimal_text")]
    pub max_transaction_amount: Decimal,
    /// Rule 8: the terminal's offset from UTC, in minutes, for business
    /// dates (China Standard Time is UTC+8).
    pub utc_offset_minutes: i32,
    /// Rule 5: response codes to a refund that mean the card is cancelled,
    /// expired or restricted, so the original route is closed. Source: the
    /// UnionPay-style table in `host.rs` (14, 41, 43, 54, 62).
    pub card_closed_codes: Vec<String>,
    /// Rule 5: response codes to a refund that mean the acquirer refuses the
    /// original route for this transaction (12, 57, 58).
    pub route_refused_codes: Vec<String>,
    /// Rule 5: the fallback routes offered, in order.
    pub fallback_routes: Vec<Route>,
    /// Rule 5: original-route refunds the acquirer forbids.
    pub original_route_forbidden: Vec<Forbidden>,
    /// Rule 8: days that are not business days besides weekends
    /// (`YYYY-MM-DD`), e.g. the national holidays of the year.
    pub holidays: Vec<Date>,
    /// Rule 8: expected arrival per route, in business days.
    pub arrival: ArrivalDays,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            void_needs_supervisor: true,
            refund_needs_supervisor: true,
            max_refunds_per_original: 50,
            card_refund_window_days: 30,
            wallet_refund_window_days: 360,
            completion_tolerance_percent: Decimal::new(115, 0),
            pre_auth_validity_days: 30,
            reversal_attempts: 3,
            host_timeout_ms: 60_000,
            max_pin_attempts: 5,
            pin_lock_minutes: 30,
            pin_hash_iterations: 10_000,
            dual_control_threshold: Decimal::new(500_000, 2),
            max_transaction_amount: Decimal::new(100_000_000, 2),
            utc_offset_minutes: 8 * 60,
            card_closed_codes: ["14", "41", "43", "54", "62"].map(String::from).to_vec(),
            route_refused_codes: ["12", "57", "58"].map(String::from).to_vec(),
            fallback_routes: Route::FALLBACKS.to_vec(),
            original_route_forbidden: Vec::new(),
            holidays: Vec::new(),
            arrival: ArrivalDays::default(),
        }
    }
}

impl Policy {
    /// Rule 8's `[earliest, latest]` business days for an action by a route.
    pub fn arrival_days(&self, action: Action, route: Route, method: PaymentMethod) -> [u32; 2] {
        let a = &self.arrival;
        match (action, route) {
            (Action::Void | Action::PreAuthCancel, _) => a.void,
            (_, Route::SettlementAccount) => a.bank_transfer,
            (_, Route::OtherCard) => a.other_card,
            (_, Route::WalletTransfer) => a.wallet_transfer,
            (_, Route::Cash) => a.cash,
            (_, Route::Original | Route::None) => match method {
                PaymentMethod::QrWallet => a.wallet_refund,
                PaymentMethod::BankCard | PaymentMethod::Prepaid => a.card_refund,
            },
        }
    }

    /// Whether the acquirer forbids an original-route refund to `card`.
    pub fn forbids_original_route(&self, card: &Card) -> bool {
        self.original_route_forbidden.iter().any(|f| match f {
            Forbidden::BankCard => card.method == PaymentMethod::BankCard,
            Forbidden::QrWallet => card.method == PaymentMethod::QrWallet,
            Forbidden::ForeignCard => card.foreign,
        })
    }

    /// Checks the ranges the rules allow.
    pub fn validate(&self) -> Result<(), PosError> {
        let range = |field: &str, ok: bool, expected: &str, found: String| {
            if ok {
                Ok(())
            } else {
                Err(PosError::invalid_input(field, expected, &found))
            }
        };
        range(
            "policy.reversalAttempts",
            (1..=3).contains(&self.reversal_attempts),
            "1 to 3",
            self.reversal_attempts.to_string(),
        )?;
        range(
            "policy.maxRefundsPerOriginal",
            self.max_refunds_per_original >= 1,
            "at least 1",
            self.max_refunds_per_original.to_string(),
        )?;
        range(
            "policy.completionTolerancePercent",
            self.completion_tolerance_percent >= Decimal::ONE_HUNDRED
                && self.completion_tolerance_percent <= Decimal::new(200, 0),
            "100 to 200",
            self.completion_tolerance_percent.to_string(),
        )?;
        range(
            "policy.maxPinAttempts",
            self.max_pin_attempts >= 1,
            "at least 1",
            self.max_pin_attempts.to_string(),
        )?;
        range(
            "policy.pinHashIterations",
            self.pin_hash_iterations >= 1,
            "at least 1",
            self.pin_hash_iterations.to_string(),
        )?;
        range(
            "policy.hostTimeoutMs",
            (1_000..=300_000).contains(&self.host_timeout_ms),
            "1000 to 300000",
            self.host_timeout_ms.to_string(),
        )?;
        range(
            "policy.maxTransactionAmount",
            self.max_transaction_amount > Decimal::ZERO,
            "greater than zero",
            self.max_transaction_amount.to_string(),
        )?;
        let code_ok = |c: &String| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphanumeric());
        range(
            "policy.cardClosedCodes",
            self.card_closed_codes.iter().all(code_ok) && self.card_closed_codes.len() <= 100,
            "two-character response codes",
            format!("{:?}", self.card_closed_codes),
        )?;
        range(
            "policy.routeRefusedCodes",
            self.route_refused_codes.iter().all(code_ok) && self.route_refused_codes.len() <= 100,
            "two-character response codes",
            format!("{:?}", self.route_refused_codes),
        )?;
        range(
            "policy.fallbackRoutes",
            self.fallback_routes.iter().all(|r| r.is_fallback()),
            "settlement_account, other_card, wallet_transfer or cash",
            format!("{:?}", self.fallback_routes),
        )?;
        let a = &self.arrival;
        range(
            "policy.arrival",
            [
                a.void,
                a.card_refund,
                a.wallet_refund,
                a.bank_transfer,
                a.other_card,
                a.wallet_transfer,
                a.cash,
            ]
            .iter()
            .all(|[lo, hi]| lo <= hi && *hi <= 60),
            "[earliest, latest] with earliest <= latest <= 60",
            format!("{a:?}"),
        )?;
        range(
            "policy.holidays",
            self.holidays.len() <= 1000,
            "at most 1000 dates",
            self.holidays.len().to_string(),
        )?;
        range(
            "policy.utcOffsetMinutes",
            (-14 * 60..=14 * 60).contains(&self.utc_offset_minutes),
            "-840 to 840",
            self.utc_offset_minutes.to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forbidden_kind_parses_from_the_name_serde_writes() {
        for f in [
            Forbidden::BankCard,
            Forbidden::QrWallet,
            Forbidden::ForeignCard,
        ] {
            let name = serde_json::to_value(f).unwrap();
            assert_eq!(Forbidden::parse(name.as_str().unwrap()), Some(f));
        }
        assert_eq!(Forbidden::parse("BankCard"), None);
    }

    #[test]
    fn defaults_are_design_md_numbers_and_valid() {
        let p = Policy::default();
        assert_eq!(p.reversal_attempts, 3);
        assert_eq!(p.completion_tolerance_percent.to_string(), "115");
        assert_eq!(p.dual_control_threshold.to_string(), "5000.00");
        p.validate().unwrap();
    }

    #[test]
    fn out_of_range_is_invalid_input() {
        let p = Policy {
            reversal_attempts: 4,
            ..Policy::default()
        };
        assert_eq!(p.validate().unwrap_err().code(), "INVALID_INPUT");
        let json = r#"{"reversalAttempts": 2, "nonsense": 1}"#;
        assert!(serde_json::from_str::<Policy>(json).is_err());
        let p: Policy = serde_json::from_str(r#"{"reversalAttempts": 2}"#).unwrap();
        assert_eq!(p.reversal_attempts, 2);
        assert_eq!(p.max_refunds_per_original, 50);
    }
}
