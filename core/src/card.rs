//! What the terminal may know of a card or wallet (DESIGN.md Rule 13).
//!
//! A full PAN is masked the moment it is parsed; only the masked form (first
//! 6, last 4) ever reaches a record, a message, an error or a receipt. Track
//! data, CVV and PIN blocks have no field to arrive in.

use serde::{Deserialize, Serialize};

use crate::error::PosError;

/// How the customer paid; decides the refund window and whether the original
/// route can refund at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// A bank card read by the terminal (UnionPay, or a foreign scheme).
    BankCard,
    /// A QR wallet payment code (WeChat Pay, Alipay, UnionPay QR).
    QrWallet,
    /// A prepaid card, which cannot take a refund back.
    Prepaid,
}

/// A card as the terminal keeps it: masked, never the full number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    /// First 6 and last 4 digits, the rest `*`.
    pub masked_pan: String,
    /// How it pays.
    pub method: PaymentMethod,
    /// Issued outside mainland China (settlement totals split on this).
    pub foreign: bool,
}

/// The shortest and longest PAN (ISO/IEC 7812) and wallet payment code.
const PAN_DIGITS: std::ops::RangeInclusive<usize> = 12..=19;
const QR_DIGITS: std::ops::RangeInclusive<usize> = 16..=24;

/// BIN prefixes of the prepaid test range used by the simulated acquirer and
/// by domestic prepaid schemes that cannot refund to the card.
const PREPAID_BIN_PREFIXES: [&str; 1] = ["621099"];

impl Card {
    /// From a full PAN. The PAN is masked at once; the input string stays
    /// with the caller.
    pub fn from_pan(pan: &str) -> Result<Card, PosError> {
        let digits_only = pan.bytes().all(|b| b.is_ascii_digit());
        if !digits_only || !PAN_DIGITS.contains(&pan.len()) {
            // Never echo the input: it may be a real card number.
            return Err(PosError::invalid_input(
                "card.pan",
                "12 to 19 digits",
                &format!("{} characters", pan.chars().count()),
            ));
        }
        let method = if PREPAID_BIN_PREFIXES.iter().any(|p| pan.starts_with(p)) {
            PaymentMethod::Prepaid
        } else {
            PaymentMethod::BankCard
        };
        Ok(Card {
            masked_pan: mask(pan),
            method,
            // UnionPay domestic BINs start with 62 (and 9 for old domestic
            // debit ranges); anything else is a foreign scheme.
            foreign: !(pan.starts_with("62") || pan.starts_with('9')),
        })
    }

    /// From a wallet payment code scanned off the customer's phone.
    pub fn from_qr(code: &str) -> Result<Card, PosError> {
        let digits_only = code.bytes().all(|b| b.is_ascii_digit());
        if !digits_only || !QR_DIGITS.contains(&code.len()) {
            return Err(PosError::invalid_input(
                "card.qr",
                "a 16 to 24 digit payment code",
                &format!("{} characters", code.chars().count()),
            ));
        }
        Ok(Card {
            masked_pan: mask(code),
            method: PaymentMethod::QrWallet,
            foreign: false,
        })
    }
}

/// First 6, last 4, stars between: `6222020200112233445` → `622202*********3445`.
pub fn mask(digits: &str) -> String {
    let n = digits.len();
    let head = &digits[..6];
    let tail = &digits[n - 4..];
    format!("{head}{}{tail}", "*".repeat(n - 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pans_are_masked_and_classified() {
        let c = Card::from_pan("6222020200112233445").unwrap();
        assert_eq!(c.masked_pan, "622202*********3445");
        assert_eq!(c.method, PaymentMethod::BankCard);
        assert!(!c.foreign);
        assert!(Card::from_pan("4111111111111111").unwrap().foreign);
        assert_eq!(
            Card::from_pan("6210990000000001").unwrap().method,
            PaymentMethod::Prepaid
        );
        let q = Card::from_qr("134567890123456789").unwrap();
        assert_eq!(q.method, PaymentMethod::QrWallet);
        assert_eq!(q.masked_pan, "134567********6789");
    }

    #[test]
    fn bad_pans_never_echo_the_input() {
        for bad in [
            "",
            "1234",
            "62220202001122334455667",
            "6222-0202-0011-2233",
            "622202020011223344a",
        ] {
            let err = Card::from_pan(bad).unwrap_err();
            assert_eq!(err.code(), "INVALID_INPUT");
            let shown = format!("{err} {:?}", err.details());
            assert!(
                bad.len() < 4 || !shown.contains(&bad[..bad.len().min(10)]),
                "{shown}"
            );
        }
    }
}
