//! Reading internally tagged enums (`{"type": "opened", ...}`) without
//! serde's derive for them.
//!
//! The derive cannot know where the tag is, so it buffers the whole object
//! into its private `Content` tree and reads the variant again from that: in
//! the wasm, 45 KB for [`crate::record::Record`] alone and 29 KB of
//! `Content` code shared by every such enum. Our serializer always writes
//! the tag first, so [`deserialize`] reads the first key, requires it to be
//! the tag, and hands the rest of the object, unbuffered, to the variant's
//! fields. Only we write journals, and their hash chain already refuses any
//! text we did not write, so a tag elsewhere is refused rather than looked
//! for.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, Visitor};
use serde::Deserialize;

/// An enum read as an object whose first key is its tag.
pub(crate) trait Tagged<'de>: Sized {
    /// The tag's key, e.g. `"type"`.
    const TAG: &'static str;
    /// What the object is, for "invalid type: ..., expected ..." errors.
    const EXPECTING: &'static str;
    /// The tag's value: a derived enum of unit variants, one per variant.
    type Tag: Deserialize<'de>;

    /// Reads the fields of variant `tag` from `rest`, the object after its
    /// tag.
    fn variant<D: Deserializer<'de>>(tag: Self::Tag, rest: D) -> Result<Self, D::Error>;
}

/// Reads a `T` whose tag comes first.
pub(crate) fn deserialize<'de, T: Tagged<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    deserializer.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged<'de>> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        if map.next_key_seed(TagKey(T::TAG))?.is_none() {
            return Err(A::Error::missing_field(T::TAG));
        }
        let tag = map.next_value()?;
        T::variant(tag, MapAccessDeserializer::new(map))
    }
}

/// The first key, which must be the tag.
struct TagKey(&'static str);

impl<'de> DeserializeSeed<'de> for TagKey {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for TagKey {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the key {:?}", self.0)
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<(), E> {
        if key == self.0 {
            Ok(())
        } else {
            Err(E::custom(format_args!(
                "the {:?} field must come first, found {key:?}",
                self.0
            )))
        }
    }
}

/// Reads a derived struct `T` from an object only. The derive also reads an
/// array of the fields in order, which the readers this replaces (a tagged
/// enum, a struct with a flattened field) refused.
pub(crate) fn from_object<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
    expecting: &'static str,
) -> Result<T, D::Error> {
    deserializer.deserialize_map(ObjectVisitor(expecting, PhantomData))
}

struct ObjectVisitor<T>(&'static str, PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}
