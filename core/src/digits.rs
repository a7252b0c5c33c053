//! Zero-padded decimal text on the stack: the six-digit trace and batch
//! numbers, transaction ids and the statements' integers are written for
//! every journal hash and returned record, so without a `String` or
//! `core::fmt`.

/// A number in decimal, zero-padded to at least `width` digits (at most
/// 20), after an optional one-byte prefix.
pub struct Digits {
    text: [u8; 21],
    at: usize,
}

impl Digits {
    /// `n` zero-padded to `width` digits, after `prefix` if any.
    pub fn new(prefix: Option<u8>, mut n: u64, width: usize) -> Digits {
        let mut text = [b'0'; 21];
        let mut at = text.len();
        while n > 0 || text.len() - at < width.clamp(1, 20) {
            at -= 1;
            text[at] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        if let Some(prefix) = prefix {
            at -= 1;
            text[at] = prefix;
        }
        Digits { text, at }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[self.at..]).expect("ASCII")
    }
}

#[cfg(test)]
mod tests {
    use super::Digits;

    #[test]
    fn digits_are_written_as_format_writes_them() {
        for n in [
            0,
            1,
            9,
            10,
            99_999,
            999_999,
            1_000_000,
            123_456_789,
            u64::MAX,
        ] {
            assert_eq!(Digits::new(None, n, 6).as_str(), format!("{n:06}"));
            assert_eq!(Digits::new(Some(b'T'), n, 8).as_str(), format!("T{n:08}"));
            assert_eq!(Digits::new(None, n, 0).as_str(), n.to_string());
        }
    }
}
