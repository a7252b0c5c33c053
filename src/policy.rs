//! `policy` of `Terminal.open`: overrides of the core's [`Policy`], each
//! field absent keeping its default. Read by hand ([`crate::input`]), as
//! every other input: serde's derive for the policy, with its defaults,
//! decimals, routes and dates, was 6.2 KB of the gzipped wasm for one read
//! per open, this reader 4.7. The core checks the result
//! ([`Policy::validate`]).

use posflow_core::error::PosError;
use posflow_core::money::decimal_from_text;
use posflow_core::planner::Route;
use posflow_core::policy::{ArrivalDays, Forbidden, Policy};
use posflow_core::time::Date;
use rust_decimal::Decimal;

use crate::input::{Input, Obj};

impl Input for Policy {
    const FIELDS: &'static [&'static str] = &[
        "voidNeedsSupervisor",
        "refundNeedsSupervisor",
        "maxRefundsPerOriginal",
        "cardRefundWindowDays",
        "walletRefundWindowDays",
        "completionTolerancePercent",
        "preAuthValidityDays",
        "reversalAttempts",
        "hostTimeoutMs",
        "maxPinAttempts",
        "pinLockMinutes",
        "pinHashIterations",
        "dualControlThreshold",
        "maxTransactionAmount",
        "utcOffsetMinutes",
        "cardClosedCodes",
        "routeRefusedCodes",
        "fallbackRoutes",
        "originalRouteForbidden",
        "holidays",
        "arrival",
    ];

    fn read(o: &Obj) -> Result<Self, PosError> {
        let d = Policy::default();
        Ok(Policy {
            void_needs_supervisor: o
                .opt_bool("voidNeedsSupervisor")?
                .unwrap_or(d.void_needs_supervisor),
            refund_needs_supervisor: o
                .opt_bool("refundNeedsSupervisor")?
                .unwrap_or(d.refund_needs_supervisor),
            max_refunds_per_original: o
                .opt_u32("maxRefundsPerOriginal")?
                .unwrap_or(d.max_refunds_per_original),
            card_refund_window_days: o
                .opt_u32("cardRefundWindowDays")?
                .unwrap_or(d.card_refund_window_days),
            wallet_refund_window_days: o
                .opt_u32("walletRefundWindowDays")?
                .unwrap_or(d.wallet_refund_window_days),
            completion_tolerance_percent: decimal(o, "completionTolerancePercent")?
                .unwrap_or(d.completion_tolerance_percent),
            pre_auth_validity_days: o
                .opt_u32("preAuthValidityDays")?
                .unwrap_or(d.pre_auth_validity_days),
            reversal_attempts: o
                .opt_u32("reversalAttempts")?
                .unwrap_or(d.reversal_attempts),
            host_timeout_ms: o.opt_u32("hostTimeoutMs")?.unwrap_or(d.host_timeout_ms),
            max_pin_attempts: o.opt_u32("maxPinAttempts")?.unwrap_or(d.max_pin_attempts),
            pin_lock_minutes: o.opt_u32("pinLockMinutes")?.unwrap_or(d.pin_lock_minutes),
            pin_hash_iterations: o
                .opt_u32("pinHashIterations")?
                .unwrap_or(d.pin_hash_iterations),
            dual_control_threshold: decimal(o, "dualControlThreshold")?
                .unwrap_or(d.dual_control_threshold),
            max_transaction_amount: decimal(o, "maxTransactionAmount")?
                .unwrap_or(d.max_transaction_amount),
            utc_offset_minutes: o
                .opt_i32("utcOffsetMinutes")?
                .unwrap_or(d.utc_offset_minutes),
            card_closed_codes: o
                .opt_names("cardClosedCodes", code, "a response code")?
                .unwrap_or(d.card_closed_codes),
            route_refused_codes: o
                .opt_names("routeRefusedCodes", code, "a response code")?
                .unwrap_or(d.route_refused_codes),
            fallback_routes: o
                .opt_names(
                    "fallbackRoutes",
                    Route::parse,
                    "settlement_account, other_card, wallet_transfer or cash",
                )?
                .unwrap_or(d.fallback_routes),
            original_route_forbidden: o
                .opt_names(
                    "originalRouteForbidden",
                    Forbidden::parse,
                    "bank_card, qr_wallet or foreign_card",
                )?
                .unwrap_or(d.original_route_forbidden),
            holidays: o
                .opt_names("holidays", Date::parse, "a date as YYYY-MM-DD")?
                .unwrap_or(d.holidays),
            arrival: o.opt("arrival")?.unwrap_or(d.arrival),
        })
    }
}

impl Input for ArrivalDays {
    const FIELDS: &'static [&'static str] = &[
        "void",
        "cardRefund",
        "walletRefund",
        "bankTransfer",
        "otherCard",
        "walletTransfer",
        "cash",
    ];

    fn read(o: &Obj) -> Result<Self, PosError> {
        let d = ArrivalDays::default();
        Ok(ArrivalDays {
            void: days(o, "void")?.unwrap_or(d.void),
            card_refund: days(o, "cardRefund")?.unwrap_or(d.card_refund),
            wallet_refund: days(o, "walletRefund")?.unwrap_or(d.wallet_refund),
            bank_transfer: days(o, "bankTransfer")?.unwrap_or(d.bank_transfer),
            other_card: days(o, "otherCard")?.unwrap_or(d.other_card),
            wallet_transfer: days(o, "walletTransfer")?.unwrap_or(d.wallet_transfer),
            cash: days(o, "cash")?.unwrap_or(d.cash),
        })
    }
}

/// A response code of the policy's lists, as it came (the core checks
/// them in [`Policy::validate`]).
fn code(text: &str) -> Option<String> {
    Some(text.to_owned())
}

/// A decimal field, as a string (`"5000.00"`), read as the journal's
/// decimals are ([`decimal_from_text`]).
fn decimal(o: &Obj, field: &str) -> Result<Option<Decimal>, PosError> {
    o.opt_str(field)?
        .map(|text| decimal_from_text(&text).ok_or_else(|| o.bad(field, "a decimal string", &text)))
        .transpose()
}

/// `[earliest, latest]` business days.
fn days(o: &Obj, field: &str) -> Result<Option<[u32; 2]>, PosError> {
    o.opt_u32_list(field)?
        .map(|list| {
            <[u32; 2]>::try_from(list.as_slice()).map_err(|_| {
                o.bad(
                    field,
                    "[earliest, latest] business days",
                    &format!("{} numbers", list.len()),
                )
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names serde writes for `value`'s fields (the names the core's
    /// derive read until session 10).
    fn serde_names<T: serde::Serialize>(value: &T) -> Vec<String> {
        let mut names: Vec<String> = match serde_json::to_value(value).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        };
        names.sort();
        names
    }

    fn fields<T: Input>() -> Vec<String> {
        let mut names: Vec<String> = T::FIELDS.iter().map(|f| f.to_string()).collect();
        names.sort();
        names
    }

    /// Every field of the core's policy is read, by the name it has always
    /// had in JS: a field added to `Policy` and not here is caught.
    #[test]
    fn the_reader_takes_every_policy_field_by_its_serde_name() {
        assert_eq!(fields::<Policy>(), serde_names(&Policy::default()));
        assert_eq!(
            fields::<ArrivalDays>(),
            serde_names(&ArrivalDays::default())
        );
    }

    /// And the `.d.ts`'s `PolicyOverrides` (written by hand in `types.rs`)
    /// lists them all.
    #[test]
    fn the_d_ts_declares_every_policy_field() {
        let start = crate::types::TYPES
            .find("export interface PolicyOverrides {")
            .unwrap();
        let body = &crate::types::TYPES[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
        let mut declared: Vec<String> = body
            .lines()
            .map(str::trim)
            .filter_map(|l| l.split_once("?:"))
            .map(|(name, _)| name.to_owned())
            .collect();
        declared.sort();
        assert_eq!(declared, fields::<Policy>());
    }
}
