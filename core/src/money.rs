//! Money: a decimal amount together with its currency (DESIGN.md Rule 12).
//!
//! Amounts cross every boundary as decimal strings. Parsing never rounds: an
//! amount with more decimals than its currency has minor units is refused,
//! and so is anything that only looks like a number to a float parser
//! (`1e3`, `+5`, ` 5`, `NaN`, `.5`, `5.`).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::PosError;

/// The longest amount string accepted before it is looked at digit by digit.
/// 28 significant digits is all a `Decimal` can hold; anything longer is not
/// an amount a terminal can be asked to move.
pub const MAX_AMOUNT_CHARS: usize = 32;

/// An ISO 4217 currency this terminal knows the minor units of.
///
/// Minor units come from ISO 4217 (the "E" column of the list maintained by
/// SIX). A currency that is not listed here cannot be used: guessing two
/// decimals for an unknown code is how JPY ends up with cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
#[non_exhaustive]
pub enum Currency {
    /// Chinese yuan renminbi, 2 minor units.
    Cny,
    /// Hong Kong dollar, 2 minor units.
    Hkd,
    /// Macanese pataca, 2 minor units.
    Mop,
    /// New Taiwan dollar, 2 minor units.
    Twd,
    /// US dollar, 2 minor units.
    Usd,
    /// Euro, 2 minor units.
    Eur,
    /// Pound sterling, 2 minor units.
    Gbp,
    /// Singapore dollar, 2 minor units.
    Sgd,
    /// Japanese yen, 0 minor units.
    Jpy,
    /// South Korean won, 0 minor units.
    Krw,
    /// Kuwaiti dinar, 3 minor units.
    Kwd,
    /// Bahraini dinar, 3 minor units.
    Bhd,
}

impl Currency {
    /// Every supported currency, in the order above.
    pub const ALL: [Currency; 12] = [
        Currency::Cny,
        Currency::Hkd,
        Currency::Mop,
        Currency::Twd,
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Sgd,
        Currency::Jpy,
        Currency::Krw,
        Currency::Kwd,
        Currency::Bhd,
    ];

    /// The ISO 4217 alphabetic code, e.g. `"CNY"`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Cny => "CNY",
            Currency::Hkd => "HKD",
            Currency::Mop => "MOP",
            Currency::Twd => "TWD",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Sgd => "SGD",
            Currency::Jpy => "JPY",
            Currency::Krw => "KRW",
            Currency::Kwd => "KWD",
            Currency::Bhd => "BHD",
        }
    }

    /// The ISO 4217 numeric code, as sent in ISO 8583 field 49.
    pub fn numeric(self) -> &'static str {
        match self {
            Currency::Cny => "156",
            Currency::Hkd => "344",
            Currency::Mop => "446",
            Currency::Twd => "901",
            Currency::Usd => "840",
            Currency::Eur => "978",
            Currency::Gbp => "826",
            Currency::Sgd => "702",
            Currency::Jpy => "392",
            Currency::Krw => "410",
            Currency::Kwd => "414",
            Currency::Bhd => "048",
        }
    }

    /// How many decimals an amount in this currency may have.
    pub fn minor_units(self) -> u32 {
        match self {
            Currency::Jpy | Currency::Krw => 0,
            Currency::Cny
            | Currency::Hkd
            | Currency::Mop
            | Currency::Twd
            | Currency::Usd
            | Currency::Eur
            | Currency::Gbp
            | Currency::Sgd => 2,
            Currency::Kwd | Currency::Bhd => 3,
        }
    }

    /// Parses an alphabetic code; only upper case, exactly as ISO writes it.
    pub fn parse(code: &str) -> Result<Currency, PosError> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or_else(|| PosError::UnsupportedCurrency {
                found: truncate_for_error(code),
            })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = PosError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = PosError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl Serialize for Currency {
    /// The code, as [`Currency::code`]; written without allocating, as
    /// every journal record with an amount is serialized for every hash.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// An amount of money in one currency; never negative, never more precise
/// than the currency allows, always at the currency's scale (`"100.00"` for
/// CNY, `"100"` for JPY).
///
/// ```
/// use posflow_core::money::{Currency, Money};
/// let m = Money::parse("88.8", Currency::Cny).unwrap();
/// assert_eq!(m.to_string(), "88.80");
/// assert_eq!(Money::parse("10.001", Currency::Cny).unwrap_err().code(), "INVALID_AMOUNT");
/// assert_eq!(Money::parse("10.5", Currency::Jpy).unwrap_err().code(), "INVALID_AMOUNT");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "decimal_text")]
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Parses a positive decimal string (`"100"`, `"100.5"`, `"100.50"`).
    ///
    /// Refused, each as `INVALID_AMOUNT` with the reason in its details:
    /// empty or over-long strings, signs, exponents, spaces, separators,
    /// leading or trailing dots, more decimals than the currency's minor
    /// units, zero. Zero is refused here because no card operation moves
    /// zero; use [`Money::zero`] for totals.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, PosError> {
        let amount = parse_decimal(text, currency)?;
        if amount.is_zero() {
            return Err(invalid_amount(text, AmountProblem::NotPositive));
        }
        Ok(Money::from_decimal(amount, currency))
    }

    /// [`Money::parse`] with zero allowed, for figures that may be zero (a
    /// statement's fee): the same refusals otherwise.
    pub fn parse_non_negative(text: &str, currency: Currency) -> Result<Money, PosError> {
        parse_decimal(text, currency).map(|amount| Money::from_decimal(amount, currency))
    }

    /// `minor` minor units of `currency` (fen for CNY): the inverse of
    /// [`Money::minor_units`], for compact encodings such as snapshots.
    pub fn from_minor_units(minor: i64, currency: Currency) -> Money {
        Money::from_decimal(Decimal::new(minor, currency.minor_units()), currency)
    }

    /// Zero in `currency`, for totals and remaining headroom.
    pub fn zero(currency: Currency) -> Money {
        Money::from_decimal(Decimal::ZERO, currency)
    }

    fn from_decimal(mut amount: Decimal, currency: Currency) -> Money {
        amount.rescale(currency.minor_units());
        Money { amount, currency }
    }

    /// The amount as a decimal.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// The amount in minor units (fen for CNY), as ISO 8583 field 4 carries
    /// it. `None` only if it does not fit an `i64`, which no policy maximum
    /// allows.
    pub fn minor_units(&self) -> Option<i64> {
        let mut scaled = self.amount;
        scaled.rescale(self.currency.minor_units());
        i64::try_from(scaled.mantissa()).ok()
    }

    /// `self + other`; the currencies must match.
    pub fn checked_add(self, other: Money) -> Result<Money, PosError> {
        self.same_currency(other)?;
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or_else(|| PosError::Internal {
                what: "money overflow".into(),
            })?;
        Ok(Money::from_decimal(sum, self.currency))
    }

    /// `self - other`, or zero if `other` is larger; the currencies must match.
    pub fn saturating_sub(self, other: Money) -> Result<Money, PosError> {
        self.same_currency(other)?;
        let diff = self.amount - other.amount;
        Ok(Money::from_decimal(diff.max(Decimal::ZERO), self.currency))
    }

    /// `self × percent / 100`, truncated to the currency's minor units
    /// (truncation, not rounding, so a tolerance never grows by a fen).
    pub fn percent(self, percent: Decimal) -> Money {
        let mut v = self.amount * percent / Decimal::ONE_HUNDRED;
        v = v.trunc_with_scale(self.currency.minor_units());
        Money::from_decimal(v, self.currency)
    }

    fn same_currency(self, other: Money) -> Result<(), PosError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(PosError::CurrencyMismatch {
                expected: self.currency,
                found: other.currency,
            })
        }
    }
}

impl PartialOrd for Money {
    /// Amounts compare only within one currency.
    fn partial_cmp(&self, other: &Money) -> Option<std::cmp::Ordering> {
        (self.currency == other.currency).then(|| self.amount.cmp(&other.amount))
    }
}

impl fmt::Display for Money {
    /// The amount at the currency's scale, without the currency code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.amount)
    }
}

/// Why an amount string was refused; part of `INVALID_AMOUNT`'s details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountProblem {
    /// Nothing was given.
    Empty,
    /// Longer than [`MAX_AMOUNT_CHARS`].
    TooLong,
    /// Not plain digits with at most one decimal point between digits.
    Malformed,
    /// More decimals than the currency's minor units.
    TooPrecise,
    /// Zero (negative amounts are `Malformed`: no sign is accepted).
    NotPositive,
    /// Above the policy's per-transaction maximum.
    AboveMaximum,
}

impl AmountProblem {
    /// A short English phrase for messages and details.
    pub fn describe(self) -> &'static str {
        match self {
            AmountProblem::Empty => "empty",
            AmountProblem::TooLong => "too long",
            AmountProblem::Malformed => "not a plain decimal number",
            AmountProblem::TooPrecise => "more decimals than the currency allows",
            AmountProblem::NotPositive => "not greater than zero",
            AmountProblem::AboveMaximum => "above the per-transaction maximum",
        }
    }
}

fn invalid_amount(text: &str, problem: AmountProblem) -> PosError {
    PosError::InvalidAmount {
        found: truncate_for_error(text),
        problem,
    }
}

/// Input echoed into an error is cut so a megabyte of garbage does not become
/// a megabyte of error message.
pub(crate) fn truncate_for_error(text: &str) -> String {
    const KEEP: usize = 40;
    if text.chars().count() <= KEEP {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(KEEP).collect();
        s.push('…');
        s
    }
}

fn parse_decimal(text: &str, currency: Currency) -> Result<Decimal, PosError> {
    if text.is_empty() {
        return Err(invalid_amount(text, AmountProblem::Empty));
    }
    if text.len() > MAX_AMOUNT_CHARS {
        return Err(invalid_amount(text, AmountProblem::TooLong));
    }
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || frac_part.is_some_and(|f| !all_digits(f)) {
        return Err(invalid_amount(text, AmountProblem::Malformed));
    }
    let frac = frac_part.unwrap_or("");
    // Trailing zeros beyond the minor units are still "more precise than the
    // currency": "10.000" CNY is a typo or a unit mix-up, not ten yuan.
    if frac.len() > currency.minor_units() as usize {
        return Err(invalid_amount(text, AmountProblem::TooPrecise));
    }
    decimal_from_text(text).ok_or_else(|| invalid_amount(text, AmountProblem::TooLong))
}

/// Reads a decimal as posflow writes one: an optional `-`, digits, and
/// optionally a `.` with digits after it, at most 28 of them; its digits
/// must fit rust_decimal's 96 bits. `None` for anything else: no `+`, no
/// exponent, no `_`, no rounding.
///
/// rust_decimal's `FromStr` compiles its reader for each combination of
/// its options (sixteen), and serde's `rust_decimal::serde::str` falls back
/// on the scientific form: 4.3 KB gzipped of the wasm, for text that only
/// ever has this form (what [`Decimal`]'s `Display` and amounts entered
/// write). The value, scale included, is the one `FromStr` gives.
pub fn decimal_from_text(text: &str) -> Option<Decimal> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = match unsigned.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (unsigned, ""),
    };
    if int.is_empty() || frac.len() > Decimal::MAX_SCALE as usize {
        return None;
    }
    let mut digits: u128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        digits = digits * 10 + u128::from(b - b'0');
        if digits >> 96 != 0 {
            return None;
        }
    }
    Some(Decimal::from_parts(
        digits as u32,
        (digits >> 32) as u32,
        (digits >> 64) as u32,
        negative,
        frac.len() as u32,
    ))
}

/// `#[serde(with = "…")]` for a [`Decimal`] as a string: written as
/// rust_decimal's `serde::str` writes it, read by [`decimal_from_text`].
pub mod decimal_text {
    use rust_decimal::Decimal;
    use serde::de::{Deserializer, Error, Unexpected, Visitor};
    use serde::Serializer;

    /// Writes `value` as rust_decimal's `serde::str` does.
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::str::serialize(value, serializer)
    }

    /// Reads a decimal string with [`super::decimal_from_text`].
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = Decimal;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a decimal string")
            }
            fn visit_str<E: Error>(self, text: &str) -> Result<Decimal, E> {
                super::decimal_from_text(text)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_from_text_gives_what_from_str_gives_for_the_form_posflow_writes() {
        for text in [
            "0",
            "-0",
            "0.00",
            "-0.00",
            "1",
            "100.00",
            "-100.50",
            "0.0000000000000000000000000001",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "7.9228162514264337593543950335",
            "00012.3400",
        ] {
            let ours = decimal_from_text(text).unwrap_or_else(|| panic!("{text}"));
            let theirs = Decimal::from_str(text).unwrap();
            assert_eq!(ours.serialize(), theirs.serialize(), "{text}");
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
        }
        for text in [
            "",
            "-",
            ".",
            "1.",
            ".5",
            "-.5",
            "+1",
            "1e3",
            "1E3",
            "1_000",
            " 1",
            "1 ",
            "--1",
            "1.2.3",
            "0x10",
            "１",
            "79228162514264337593543950336",
            "1.00000000000000000000000000000",
        ] {
            assert_eq!(decimal_from_text(text), None, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn decimal_from_text_reads_what_display_writes(
            digits in 0u128..(1u128 << 96),
            negative: bool,
            scale in 0u32..=28,
        ) {
            let d = Decimal::from_parts(
                digits as u32, (digits >> 32) as u32, (digits >> 64) as u32, negative, scale,
            );
            let back = decimal_from_text(&d.to_string()).unwrap();
            proptest::prop_assert_eq!(back.serialize(), d.serialize());
        }
    }

    fn cny(s: &str) -> Result<Money, PosError> {
        Money::parse(s, Currency::Cny)
    }

    #[test]
    fn parse_non_negative_allows_zero_and_refuses_the_rest_as_parse_does() {
        for zero in ["0", "0.0", "00.00"] {
            assert!(Money::parse_non_negative(zero, Currency::Cny)
                .unwrap()
                .is_zero());
        }
        assert_eq!(
            Money::parse_non_negative("12.30", Currency::Cny).unwrap(),
            cny("12.30").unwrap()
        );
        for bad in ["", "-1", "1.234", "1e3", " 1", "0.", ".5"] {
            assert_eq!(
                Money::parse_non_negative(bad, Currency::Cny)
                    .unwrap_err()
                    .code(),
                cny(bad).unwrap_err().code(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parse_table() {
        // (input, currency, Ok(canonical) | Err(problem))
        use AmountProblem::*;
        let rows: &[(&str, Currency, Result<&str, AmountProblem>)] = &[
            ("100", Currency::Cny, Ok("100.00")),
            ("100.5", Currency::Cny, Ok("100.50")),
            ("0.01", Currency::Cny, Ok("0.01")),
            ("007.10", Currency::Cny, Ok("7.10")),
            ("10.001", Currency::Cny, Err(TooPrecise)),
            ("10.000", Currency::Cny, Err(TooPrecise)),
            ("10.5", Currency::Jpy, Err(TooPrecise)),
            ("10", Currency::Jpy, Ok("10")),
            ("1000", Currency::Krw, Ok("1000")),
            ("1.234", Currency::Kwd, Ok("1.234")),
            ("1.2345", Currency::Bhd, Err(TooPrecise)),
            ("0", Currency::Cny, Err(NotPositive)),
            ("0.00", Currency::Cny, Err(NotPositive)),
            ("-1", Currency::Cny, Err(Malformed)),
            ("+1", Currency::Cny, Err(Malformed)),
            ("1e3", Currency::Cny, Err(Malformed)),
            ("NaN", Currency::Cny, Err(Malformed)),
            ("Infinity", Currency::Cny, Err(Malformed)),
            (" 1", Currency::Cny, Err(Malformed)),
            ("1 ", Currency::Cny, Err(Malformed)),
            ("1,000.00", Currency::Cny, Err(Malformed)),
            (".5", Currency::Cny, Err(Malformed)),
            ("5.", Currency::Cny, Err(Malformed)),
            ("1.2.3", Currency::Cny, Err(Malformed)),
            ("１００", Currency::Cny, Err(Malformed)),
            ("", Currency::Cny, Err(Empty)),
            (
                "123456789012345678901234567890123",
                Currency::Cny,
                Err(TooLong),
            ),
            ("99999999999999999999999999999", Currency::Jpy, Err(TooLong)),
        ];
        for (input, currency, expected) in rows {
            let got = Money::parse(input, *currency);
            match (expected, got) {
                (Ok(canon), Ok(m)) => {
                    assert_eq!(m.to_string(), *canon, "{input}");
                    assert_eq!(m.currency(), *currency);
                }
                (Err(problem), Err(PosError::InvalidAmount { problem: p, .. })) => {
                    assert_eq!(p, *problem, "{input}")
                }
                (e, g) => panic!("{input:?} {currency}: expected {e:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn every_currency_round_trips_its_code_and_scale() {
        for c in Currency::ALL {
            assert_eq!(Currency::parse(c.code()).unwrap(), c);
            let one_minor = if c.minor_units() == 0 {
                "1".to_owned()
            } else {
                format!("0.{}1", "0".repeat(c.minor_units() as usize - 1))
            };
            let m = Money::parse(&one_minor, c).unwrap();
            assert_eq!(m.minor_units(), Some(1), "{c}");
            assert_eq!(m.to_string(), one_minor);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.code()));
            assert_eq!(serde_json::from_str::<Currency>(&json).unwrap(), c);
        }
        assert_eq!(
            Currency::parse("cny").unwrap_err().code(),
            "UNSUPPORTED_CURRENCY"
        );
        assert_eq!(
            Currency::parse("XXX").unwrap_err().code(),
            "UNSUPPORTED_CURRENCY"
        );
    }

    #[test]
    fn arithmetic_keeps_scale_and_currency() {
        let a = cny("10.10").unwrap();
        let b = cny("0.9").unwrap();
        assert_eq!(a.checked_add(b).unwrap().to_string(), "11.00");
        assert_eq!(b.saturating_sub(a).unwrap().to_string(), "0.00");
        assert_eq!(a.saturating_sub(b).unwrap().to_string(), "9.20");
        let yen = Money::parse("5", Currency::Jpy).unwrap();
        assert_eq!(a.checked_add(yen).unwrap_err().code(), "CURRENCY_MISMATCH");
        assert_eq!(a.partial_cmp(&yen), None);
        assert_eq!(
            cny("100.00")
                .unwrap()
                .percent(Decimal::new(115, 0))
                .to_string(),
            "115.00"
        );
        assert_eq!(
            cny("0.07")
                .unwrap()
                .percent(Decimal::new(115, 0))
                .to_string(),
            "0.08"
        );
    }

    #[test]
    fn serde_uses_strings_and_refuses_numbers() {
        let m = cny("12.3").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"12.30","currency":"CNY"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Money>(r#"{"amount":12.3,"currency":"CNY"}"#).is_err());
    }

    #[test]
    fn errors_do_not_echo_huge_input() {
        let huge = "9".repeat(100_000);
        let err = cny(&huge).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
    }
}
