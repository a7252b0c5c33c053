//! JSON text as posflow writes it: serde_json's compact format (the bytes
//! `serde_json::to_string` writes), through one writer used everywhere.
//!
//! serde_json writes a value in many small pieces: a quote, a colon, a
//! comma, a key. Into a `Vec<u8>` each piece is a `memcpy`, which in wasm
//! with bulk memory is a `memory.copy`: in V8 profiles of a sale, copying
//! those pieces was the top self-time item. Its writer pushes one-byte
//! pieces and copies the rest. Every serialization in the core and the
//! binding goes through it, so the serializer is compiled once, for this
//! writer (a second writer type would compile every `Serialize` impl
//! again).

use serde::Serialize;

/// `value` as JSON text.
///
/// # Panics
///
/// If `value`'s `Serialize` fails (posflow's types never do: no map has
/// non-string keys).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    let mut text = Vec::with_capacity(128);
    let written = write(value, &mut text);
    into_string(written, text)
}

/// The untyped half of [`to_string`], compiled once.
#[inline(never)]
fn into_string(written: serde_json::Result<()>, text: Vec<u8>) -> String {
    written.expect("posflow's types serialize");
    String::from_utf8(text).expect("serde_json writes UTF-8")
}

/// Appends `value` as JSON text to `out`.
pub fn write<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> serde_json::Result<()> {
    serde_json::to_writer(Text(out), value)
}

/// One-byte pieces (most of them: quotes, colons, commas, brackets) are
/// pushed, longer ones copied.
struct Text<'a>(&'a mut Vec<u8>);

impl std::io::Write for Text<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match data {
            [b] => self.0.push(*b),
            _ => self.0.extend_from_slice(data),
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_are_serde_json_s() {
        let long = "x".repeat(100);
        let values = [
            serde_json::json!({"a": 1, "b": [true, null, -2.5], "c": "é\"\\\n\u{1}"}),
            serde_json::json!({ "long": long, "k": "" }),
            serde_json::json!([]),
        ];
        for v in &values {
            assert_eq!(to_string(v), serde_json::to_string(v).unwrap());
            let mut out = b"prefix".to_vec();
            write(v, &mut out).unwrap();
            assert_eq!(
                out,
                [b"prefix".to_vec(), serde_json::to_vec(v).unwrap()].concat()
            );
        }
    }
}
