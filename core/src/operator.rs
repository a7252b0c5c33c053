//! Operators, their PINs and approvals (DESIGN.md Rule 7).
//!
//! A PIN is hashed with PBKDF2-HMAC-SHA256 and a per-operator salt the moment
//! the operator is configured; the PIN itself is not kept. Lock state (wrong
//! attempts, locks) lives in the journal, so it survives a restart.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::PosError;

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs sales and asks for refunds.
    Cashier,
    /// Approves voids, refunds and fallbacks; resolves manual reviews.
    Supervisor,
    /// Everything a supervisor can, and configuration.
    Admin,
}

impl Role {
    /// Parses `"cashier"`, `"supervisor"` or `"admin"`.
    pub fn parse(text: &str) -> Result<Role, PosError> {
        match text {
            "cashier" => Ok(Role::Cashier),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            other => Err(PosError::invalid_input(
                "operators[].role",
                "\"cashier\", \"supervisor\" or \"admin\"",
                other,
            )),
        }
    }

    /// Whether this role may approve what needs a supervisor.
    pub fn can_approve(self) -> bool {
        match self {
            Role::Cashier => false,
            Role::Supervisor | Role::Admin => true,
        }
    }

    /// The name, as in `parse`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A salted PBKDF2-HMAC-SHA256 hash of a PIN.
#[derive(Clone, PartialEq, Eq)]
pub struct PinHash {
    salt: [u8; 16],
    iterations: u32,
    hash: [u8; 32],
}

impl fmt::Debug for PinHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinHash(..)")
    }
}

impl PinHash {
    /// Hashes `pin` with `salt` (16 random bytes from the caller: the core
    /// has no source of randomness).
    pub fn new(pin: &str, salt: [u8; 16], iterations: u32) -> PinHash {
        let mut hash = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(pin.as_bytes(), &salt, iterations, &mut hash);
        PinHash {
            salt,
            iterations,
            hash,
        }
    }

    /// Whether `pin` is the PIN, compared in constant time.
    pub fn verify(&self, pin: &str) -> bool {
        let other = PinHash::new(pin, self.salt, self.iterations);
        self.hash
            .iter()
            .zip(other.hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// An operator as the terminal knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// 2-character operator id, as printed on vouchers.
    pub id: String,
    /// Their role.
    pub role: Role,
    /// Their PIN, hashed.
    pub pin: PinHash,
}

impl Operator {
    /// Checks the id and PIN shapes, then hashes the PIN.
    pub fn new(
        id: &str,
        role: Role,
        pin: &str,
        salt: [u8; 16],
        iterations: u32,
    ) -> Result<Operator, PosError> {
        let id_ok = (1..=8).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !id_ok {
            return Err(PosError::invalid_input(
                "operators[].id",
                "1 to 8 letters or digits",
                id,
            ));
        }
        let pin_ok = (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit());
        if !pin_ok {
            return Err(PosError::invalid_input(
                "operators[].pin",
                "4 to 12 digits",
                &format!("{} characters", pin.chars().count()),
            ));
        }
        Ok(Operator {
            id: id.to_owned(),
            role,
            pin: PinHash::new(pin, salt, iterations),
        })
    }
}

/// An approval as the caller presents it: who, and their PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalInput {
    /// The approver's id.
    pub operator_id: String,
    /// Their PIN, checked and dropped.
    pub pin: String,
}

/// An approval as the journal records it: who, in which role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRecord {
    /// The approver's id.
    pub operator_id: String,
    /// Their role at the time.
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_verify_only_themselves() {
        let h = PinHash::new("246810", [7; 16], 10);
        assert!(h.verify("246810"));
        assert!(!h.verify("246811"));
        assert_ne!(h, PinHash::new("246810", [8; 16], 10), "salt matters");
        assert_eq!(format!("{h:?}"), "PinHash(..)");
    }

    #[test]
    fn operator_shapes() {
        assert!(Operator::new("01", Role::Cashier, "1234", [0; 16], 1).is_ok());
        for (id, pin) in [("", "1234"), ("01", "12"), ("01", "12a4"), ("a b", "1234")] {
            let e = Operator::new(id, Role::Cashier, pin, [0; 16], 1).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT");
            assert!(!e.to_string().contains("12a4"));
        }
    }
}
