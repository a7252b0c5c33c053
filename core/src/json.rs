//! JSON text as posflow writes it: byte for byte serde_json's compact
//! format (what `serde_json::to_string` writes), by a serializer of our own
//! used everywhere.
//!
//! The journal's hash chain is over this text, so it must never change: a
//! journal written by an earlier build is checked by writing its records
//! again. The tests below hold it to serde_json's bytes for every kind of
//! value serde has, `tests/serde_formats.rs` for every record type, and the
//! replay check the model and scenario tests run after each step
//! (`tests/common`) for the journal entries they make.
//!
//! Why not serde_json's own serializer: at opt-level "z" (the wasm is built
//! for size) its layers are not inlined, and a sale's records spent most of
//! their writing time in them. It writes through `io::Write` (each quote,
//! colon and comma a call returning an `io::Result` mapped into its own
//! error), and each key goes through a key serializer and the escaping
//! loop byte by byte. This writer appends to a `Vec<u8>` and cannot fail
//! but for a map key that is not a string, which posflow's types never
//! have. Numbers are written by serde_json's own formatter, so they are the
//! same digits.

use serde::ser::{self, Error as _, Serialize};
use serde_json::ser::{CompactFormatter, Formatter};

/// The writer's error: serde_json's, so callers handle one error type.
pub type Error = serde_json::Error;

/// `value` as JSON text.
///
/// # Panics
///
/// If `value`'s `Serialize` fails (posflow's types never do: no map has
/// keys that are not strings or numbers).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    let mut text = Vec::with_capacity(128);
    let written = write(value, &mut text);
    into_string(written, text)
}

/// The untyped half of [`to_string`], compiled once.
#[inline(never)]
fn into_string(written: Result<(), Error>, text: Vec<u8>) -> String {
    written.expect("posflow's types serialize");
    String::from_utf8(text).expect("JSON text is UTF-8")
}

/// Appends `value` as JSON text to `out`.
pub fn write<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
    value.serialize(&mut Json(out))
}

/// Appends `text` as a JSON string: quoted, with `"`, `\` and the control
/// characters escaped as serde_json escapes them (`\n`, `\u001f`); every
/// other character, non-ASCII included, as it is.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            _ => 0,
        };
        if short == 0 {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', short]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The serializer: appends to the text it borrows.
struct Json<'a>(&'a mut Vec<u8>);

impl<'a> Json<'a> {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// `{"variant":` before a variant's value; [`Compound`] or the caller
    /// closes it.
    fn open_variant(&mut self, variant: &str) {
        self.0.push(b'{');
        write_str(self.0, variant);
        self.0.push(b':');
    }

    /// A tuple or struct variant: `{"variant":[…]}` or `{"variant":{…}}`.
    fn variant_compound<'s>(
        &'s mut self,
        variant: &str,
        open: u8,
        close: &'static [u8],
    ) -> Compound<'s, 'a> {
        self.open_variant(variant);
        self.compound(open, close)
    }

    fn compound<'s>(&'s mut self, open: u8, close: &'static [u8]) -> Compound<'s, 'a> {
        self.0.push(open);
        Compound {
            json: self,
            first: true,
            close,
        }
    }
}

/// A sequence or an object being written: `close` ends it (`]`, `}`, or
/// `]}` / `}}` for a variant's).
struct Compound<'s, 'a> {
    json: &'s mut Json<'a>,
    first: bool,
    close: &'static [u8],
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if !self.first {
            self.json.0.push(b',');
        }
        self.first = false;
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.comma();
        value.serialize(&mut *self.json)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        self.comma();
        write_str(self.json.0, key);
        self.json.0.push(b':');
        value.serialize(&mut *self.json)
    }

    fn close(self) -> Result<(), Error> {
        self.json.raw(self.close);
        Ok(())
    }
}

macro_rules! numbers {
    ($($method:ident $t:ty => $write:ident;)*) => {$(
        fn $method(self, v: $t) -> Result<(), Error> {
            CompactFormatter.$write(self.0, v).map_err(Error::custom)
        }
    )*};
}

impl<'s, 'a> ser::Serializer for &'s mut Json<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'s, 'a>;
    type SerializeTuple = Compound<'s, 'a>;
    type SerializeTupleStruct = Compound<'s, 'a>;
    type SerializeTupleVariant = Compound<'s, 'a>;
    type SerializeMap = Compound<'s, 'a>;
    type SerializeStruct = Compound<'s, 'a>;
    type SerializeStructVariant = Compound<'s, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.raw(if v { b"true" } else { b"false" });
        Ok(())
    }

    numbers! {
        serialize_i8 i8 => write_i8;
        serialize_i16 i16 => write_i16;
        serialize_i32 i32 => write_i32;
        serialize_i64 i64 => write_i64;
        serialize_i128 i128 => write_i128;
        serialize_u8 u8 => write_u8;
        serialize_u16 u16 => write_u16;
        serialize_u32 u32 => write_u32;
        serialize_u64 u64 => write_u64;
        serialize_u128 u128 => write_u128;
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        match v.is_finite() {
            true => CompactFormatter.write_f32(self.0, v).map_err(Error::custom),
            false => self.serialize_unit(),
        }
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        match v.is_finite() {
            true => CompactFormatter.write_f64(self.0, v).map_err(Error::custom),
            false => self.serialize_unit(),
        }
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.0, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.raw(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.raw(b"}");
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'s, 'a>, Error> {
        Ok(self.compound(b'[', b"]"))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'s, 'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'s, 'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'a>, Error> {
        Ok(self.variant_compound(variant, b'[', b"]}"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'s, 'a>, Error> {
        Ok(self.compound(b'{', b"}"))
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'s, 'a>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'s, 'a>, Error> {
        Ok(self.variant_compound(variant, b'{', b"}}"))
    }
}

/// The sequence-like compounds: each element after a comma.
macro_rules! elements {
    ($($t:ident::$method:ident),*) => {$(
        impl ser::$t for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }

            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    /// A key as serde_json writes it: a string as it is, a number or a
    /// boolean quoted; anything else is refused.
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        let at = self.json.0.len();
        key.serialize(&mut *self.json)?;
        match self.json.0.get(at) {
            Some(b'"') => {}
            Some(b'-' | b'0'..=b'9' | b't' | b'f') => {
                self.json.0.insert(at, b'"');
                self.json.0.push(b'"');
            }
            _ => return Err(Error::custom("key must be a string")),
        }
        self.json.0.push(b':');
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.json)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// The struct-like compounds: each field `"key":value` after a comma.
macro_rules! fields {
    ($($t:ident),*) => {$(
        impl ser::$t for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.field(key, value)
            }

            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    /// Our text is serde_json's, and `write` appends it.
    fn same<T: Serialize + ?Sized>(value: &T) {
        let theirs = serde_json::to_string(value).unwrap();
        assert_eq!(to_string(value), theirs);
        let mut out = b"prefix".to_vec();
        write(value, &mut out).unwrap();
        assert_eq!(out, [b"prefix".to_vec(), theirs.into_bytes()].concat());
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Newtype(u8);

    #[derive(Serialize)]
    struct Tuple(i32, &'static str);

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Plain {
        some_field: Option<u32>,
        none: Option<u32>,
        list: Vec<Plain>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        #[serde(flatten)]
        flat: BTreeMap<String, bool>,
    }

    #[derive(Serialize)]
    enum External {
        Unit,
        Newtype(u8),
        Tuple(u8, String),
        Struct { a: i64, b: Vec<u8> },
    }

    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Internal {
        Opened { at: u64 },
        Empty,
        Wrapped(Plain),
    }

    #[derive(Serialize)]
    #[serde(untagged)]
    enum Untagged {
        Text(String),
        Number(u64),
    }

    #[test]
    fn scalars_are_serde_json_s() {
        same(&true);
        same(&false);
        same(&());
        same(&Unit);
        same(&Newtype(7));
        same(&Some(3u8));
        same(&None::<u8>);
        for i in [i64::MIN, -1, 0, 1, 42, i64::MAX] {
            same(&i);
            same(&(i as i8));
            same(&(i as i16));
            same(&(i as i32));
            same(&i128::from(i));
        }
        for u in [0, 1, 9, 10, 99, 100, u64::MAX] {
            same(&u);
            same(&(u as u8));
            same(&(u as u16));
            same(&(u as u32));
            same(&u128::from(u));
        }
        for f in [
            0.0,
            -0.0,
            1.5,
            -2.5,
            1e21,
            1e-7,
            0.1 + 0.2,
            f64::MAX,
            f64::MIN_POSITIVE,
            1_795_421_261_339.0,
        ] {
            same(&f);
            same(&(f as f32));
        }
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            same(&f);
            same(&(f as f32));
        }
        for c in ['a', '"', '\\', '\n', '\u{1}', '\u{7f}', 'é', '退', '😀'] {
            same(&c);
        }
    }

    #[test]
    fn every_escape_is_serde_json_s() {
        let all: String = (0u8..0x80).map(char::from).collect();
        same(&all);
        for b in 0u8..0x80 {
            let one = char::from(b).to_string();
            same(&one);
            same(&format!("x{one}"));
            same(&format!("{one}y"));
        }
        same("");
        same("签购单 POS SALES SLIP 退货 \u{2028}\u{2029}\u{feff}");
        same(&"long text without escapes ".repeat(50));
        same(&serde_bytes_like(&[0, 1, 255]));
    }

    fn serde_bytes_like(bytes: &[u8]) -> impl Serialize + '_ {
        struct Bytes<'a>(&'a [u8]);
        impl Serialize for Bytes<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        Bytes(bytes)
    }

    #[test]
    fn compounds_are_serde_json_s() {
        let plain = || Plain {
            some_field: Some(1),
            none: None,
            list: vec![],
            skipped: None,
            flat: BTreeMap::from([("x".into(), true), ("a\"b".into(), false)]),
        };
        same(&plain());
        same(&Plain {
            list: vec![plain(), plain()],
            skipped: Some(2),
            ..plain()
        });
        same(&Vec::<u8>::new());
        same(&vec![vec![1, 2], vec![], vec![3]]);
        same(&(1, "two", [3.5, 4.0], ()));
        same(&Tuple(-1, "x"));
        same(&[
            External::Unit,
            External::Newtype(1),
            External::Tuple(2, "t".into()),
        ]);
        same(&External::Struct { a: -3, b: vec![] });
        same(&External::Struct {
            a: 3,
            b: vec![1, 2],
        });
        same(&[
            Internal::Opened { at: 5 },
            Internal::Empty,
            Internal::Wrapped(plain()),
        ]);
        same(&[Untagged::Text("a".into()), Untagged::Number(2)]);
        same(&BTreeMap::<String, u8>::new());
        same(&BTreeMap::from([(1u32, "one"), (20, "twenty")]));
        same(&BTreeMap::from([(-1i64, 0u8)]));
        same(&BTreeMap::from([(true, 1u8), (false, 0)]));
        same(&BTreeMap::from([('k', 1u8)]));
        same(&serde_json::json!({"a": 1, "b": [true, null, -2.5], "c": "é\"\\\n\u{1}", "d": {}}));
    }

    #[test]
    fn a_key_that_is_not_a_string_or_a_number_is_refused() {
        let bad = BTreeMap::from([(vec![1u8], 1u8)]);
        assert!(serde_json::to_string(&bad).is_err());
        assert!(write(&bad, &mut Vec::new()).is_err());
        let unit_key = BTreeMap::from([((), 1u8)]);
        assert!(write(&unit_key, &mut Vec::new()).is_err());
    }
}
