//! Lenient serde helpers for ON24 JSON.
//!
//! ON24 is not consistent about scalar types: the same id arrives as `49502149` in one
//! response and `"93838564"` in another, flags as `true` or `"Y"`, and fields are often
//! absent or `null`. These helpers accept every such spelling so one odd field never
//! fails a whole page of analytics.
//!
//! They are visitors over the parser's events: no `serde_json::Value` is built, because an
//! event's attendee report is 100,000 records and a tree per field and per record was most
//! of the decoding time. They read every input exactly as the former `Value`-based helpers
//! did (kept as the oracle of the tests below): a `Value` was first built, so an object's
//! repeated key kept its last value, nesting counted against serde_json's depth limit, and a
//! list element was decoded with `from_value` and skipped if that failed.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// The "return `None`" answer to every scalar a visitor does not use.
macro_rules! scalars_are_none {
    () => {
        $crate::de::scalars_are_none!(
            visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str
        );
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
    ($($method:ident: $ty:ty),+) => {
        $(fn $method<E: serde::de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok(None)
        })+
    };
}
pub(crate) use scalars_are_none;

/// The `None` answer of an optional scalar's visitor to null, to a present value read again
/// as itself, and to a list or object (read whole and dropped).
macro_rules! absent_and_nested_are_none {
    () => {
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            drain_seq(&mut seq)?;
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            drain_map(&mut map)?;
            Ok(None)
        }
    };
}

/// Any JSON value, read and dropped. Unlike `IgnoredAny` (which serde_json skips without
/// counting depth) it goes through `deserialize_any`, so nesting counts against the depth
/// limit as it did when the value was built as a `Value`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_none<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Skip, D::Error> {
        Skip::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// Drains the rest of a sequence; true if there was anything left.
pub(crate) fn drain_seq<'de, A: SeqAccess<'de>>(seq: &mut A) -> Result<bool, A::Error> {
    let mut any = false;
    while seq.next_element::<Skip>()?.is_some() {
        any = true;
    }
    Ok(any)
}

/// Drains the rest of a map.
pub(crate) fn drain_map<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    while map.next_entry::<Skip, Skip>()?.is_some() {}
    Ok(())
}

#[cfg(test)]
use oracle::OldField as Oracle;
/// Only tests read the fields the old way (`oracle`).
#[cfg(not(test))]
pub(crate) trait Oracle {}
#[cfg(not(test))]
impl<T> Oracle for T {}

/// A field type of a lenient record and how it is read (see the helpers below).
pub(crate) trait LenientField: Sized + Oracle {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// The generic `deserialize_with` of lenient records: reads the field as its type says.
pub(crate) fn field<'de, D: Deserializer<'de>, T: LenientField>(d: D) -> Result<T, D::Error> {
    #[cfg(test)]
    if oracle::on() {
        return <T as oracle::OldField>::old(d);
    }
    T::read(d)
}

/// A field read through [`LenientField`], as a `Deserialize` value.
pub(crate) struct Read<T>(pub T);

impl<'de, T: LenientField> Deserialize<'de> for Read<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::read(d).map(Read)
    }
}

/// One visitor per scalar reading: `$body` maps each event to an `Option`.
macro_rules! scalar_visitor {
    ($name:ident, $ty:ty, $what:literal, |$v:ident| {
        u64 => $u:expr, i64 => $i:expr, f64 => $f:expr, str => $s:expr, bool => $b:expr $(,)?
    }) => {
        struct $name;
        impl<'de> Visitor<'de> for $name {
            type Value = Option<$ty>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($what)
            }
            fn visit_u64<E>(self, $v: u64) -> Result<Self::Value, E> {
                Ok($u)
            }
            fn visit_i64<E>(self, $v: i64) -> Result<Self::Value, E> {
                Ok($i)
            }
            fn visit_f64<E>(self, $v: f64) -> Result<Self::Value, E> {
                Ok($f)
            }
            fn visit_str<E>(self, $v: &str) -> Result<Self::Value, E> {
                Ok($s)
            }
            fn visit_bool<E>(self, $v: bool) -> Result<Self::Value, E> {
                Ok($b)
            }
            absent_and_nested_are_none!();
        }
    };
}

// A `Value` keeps a non-finite float as `null`: `finite` says which floats it kept as numbers.
fn finite(f: f64) -> Option<f64> {
    f.is_finite().then_some(f)
}

scalar_visitor!(U64Visitor, u64, "an unsigned integer", |v| {
    u64 => Some(v),
    i64 => u64::try_from(v).ok(),
    f64 => finite(v).filter(|f| *f >= 0.0 && f.fract() == 0.0).map(|f| f as u64),
    str => v.trim().parse().ok(),
    bool => { let _ = v; None },
});

scalar_visitor!(I64Visitor, i64, "an integer", |v| {
    // Above `i64::MAX` the float reading saturates, as `Number::as_f64` then `as i64` did.
    u64 => Some(i64::try_from(v).unwrap_or((v as f64) as i64)),
    i64 => Some(v),
    f64 => finite(v).filter(|f| f.fract() == 0.0).map(|f| f as i64),
    str => v.trim().parse().ok(),
    bool => { let _ = v; None },
});

scalar_visitor!(F64Visitor, f64, "a number", |v| {
    u64 => Some(v as f64),
    i64 => Some(v as f64),
    f64 => finite(v),
    str => v.trim().parse().ok(),
    bool => { let _ = v; None },
});

scalar_visitor!(BoolVisitor, bool, "a flag", |v| {
    // `Number::as_i64`: an integer that fits i64; never a float.
    u64 => i64::try_from(v).ok().map(|i| i != 0),
    i64 => Some(v != 0),
    f64 => { let _ = v; None },
    str => match v.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "1" => Some(true),
        "n" | "no" | "false" | "0" => Some(false),
        _ => None,
    },
    bool => Some(v),
});

/// Text: owned strings are kept without a copy.
struct StringVisitor;

impl<'de> Visitor<'de> for StringVisitor {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    // A number reads as serde_json prints it (`3.0` stays `3.0`).
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(serde_json::Number::from(v).to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(serde_json::Number::from(v).to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map(|n| n.to_string()))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    absent_and_nested_are_none!();
}

/// Only a JSON string is text here (what `Value::as_str` accepted); anything else is `None`.
struct StrOnly;

impl<'de> Visitor<'de> for StrOnly {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    scalars_are_none!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64);
    absent_and_nested_are_none!();
}

/// An integer sent as a number or a numeric string; `null`, `""` or garbage read as `None`.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    field(d)
}

/// A signed integer (e.g. `noshowcount` can be negative), number or string.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    field(d)
}

/// A decimal such as `engagementscore`, number or string.
pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    field(d)
}

/// Text; numbers and booleans are turned into their text so a type change upstream
/// does not lose the value.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    field(d)
}

/// A flag sent as `true`/`false`, `"Y"`/`"N"`, `"true"`/`"false"` or `1`/`0`.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    field(d)
}

/// A list that may be absent, `null`, or hold elements of the wrong shape: bad elements
/// are skipped rather than failing the whole response.
pub(crate) fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Lenient,
{
    field(d)
}

/// Event user ids (forget answers): numbers or numeric strings; anything else is dropped.
pub(crate) fn lenient_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    #[cfg(test)]
    if oracle::on() {
        return oracle::lenient_ids(d);
    }
    let ids: Vec<Id> = d.deserialize_any(ListVisitor(PhantomData))?;
    Ok(ids.into_iter().map(|Id(id)| id).collect())
}

/// One event user id; `lenient` is `None` for whatever `lenient_ids` drops.
#[derive(Deserialize)]
struct Id(u64);

scalar_visitor!(IdVisitor, u64, "an id", |v| {
    // `Number::as_u64` of a `Value`: never a float.
    u64 => Some(v),
    i64 => u64::try_from(v).ok(),
    f64 => { let _ = v; None },
    str => v.trim().parse().ok(),
    bool => { let _ = v; None },
});

impl Lenient for Id {
    fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        Ok(d.deserialize_any(IdVisitor)?.map(Id))
    }
}

impl LenientField for Option<u64> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(U64Visitor)
    }
}

impl LenientField for Option<i64> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(I64Visitor)
    }
}

impl LenientField for Option<f64> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(F64Visitor)
    }
}

impl LenientField for Option<bool> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BoolVisitor)
    }
}

impl LenientField for Option<String> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StringVisitor)
    }
}

impl<T: Lenient> LenientField for Vec<T> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Lenient> Visitor<'de> for ListVisitor<T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Element(item)) = seq.next_element::<Element<T>>()? {
            out.extend(item);
        }
        Ok(out)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        drain_map(&mut map)?;
        Ok(Vec::new())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

/// A list element, `None` when it has the wrong shape (fully read all the same).
#[derive(Debug)]
pub(crate) struct Element<T>(pub Option<T>);

impl<'de, T: Lenient> Deserialize<'de> for Element<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::lenient(d).map(Element)
    }
}

/// A type that can be a list element read leniently: `None` for an element that
/// `serde_json::from_value` would have refused, after reading it whole.
pub trait Lenient: DeserializeOwned {
    fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error>;
}

impl Lenient for String {
    fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        d.deserialize_any(StrOnly)
    }
}

/// Elements of lists that are not on a hot path keep the `Value` reading: build the element,
/// then `from_value`, skipping it if that fails.
macro_rules! lenient_via_value {
    ($($ty:ty),*) => {
        $(impl $crate::de::Lenient for $ty {
            fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
                let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                Ok(serde_json::from_value(v).ok())
            }
        })*
    };
}
pub(crate) use lenient_via_value;

/// A record of lenient fields: the struct with `Deserialize` (every field through
/// [`field`]) and its [`Lenient`] reading as a list element, which is what `from_value`
/// made of the element's `Value`: an object gives the record (a repeated key keeps its last
/// value), an array gives the fields in order (`None` if it has more items than fields),
/// anything else `None`.
macro_rules! lenient_record {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $fty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        #[serde(default)]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                #[serde(deserialize_with = "crate::de::field")]
                $fvis $field: $fty,
            )*
        }

        impl $crate::de::Lenient for $name {
            fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
                #[allow(non_camel_case_types)]
                enum Key { $($field,)* __other }
                struct KeyVisitor;
                impl serde::de::Visitor<'_> for KeyVisitor {
                    type Value = Key;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                        Ok(match v {
                            $(stringify!($field) => Key::$field,)*
                            _ => Key::__other,
                        })
                    }
                }
                impl<'de> serde::Deserialize<'de> for Key {
                    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        d.deserialize_identifier(KeyVisitor)
                    }
                }
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = Option<$name>;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " record"))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<Key>()? {
                            match key {
                                $(Key::$field => {
                                    out.$field = map.next_value::<$crate::de::Read<$fty>>()?.0;
                                })*
                                Key::__other => {
                                    map.next_value::<$crate::de::Skip>()?;
                                }
                            }
                        }
                        Ok(Some(out))
                    }
                    fn visit_seq<A: serde::de::SeqAccess<'de>>(
                        self,
                        mut seq: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut out = $name::default();
                        $(
                            match seq.next_element::<$crate::de::Read<$fty>>()? {
                                Some(v) => out.$field = v.0,
                                None => return Ok(Some(out)),
                            }
                        )*
                        Ok((!$crate::de::drain_seq(&mut seq)?).then_some(out))
                    }
                    fn visit_some<D: serde::Deserializer<'de>>(
                        self,
                        d: D,
                    ) -> Result<Self::Value, D::Error> {
                        d.deserialize_any(self)
                    }
                    $crate::de::scalars_are_none!();
                }
                d.deserialize_any(V)
            }
        }
    };
}
pub(crate) use lenient_record;

/// `Value::get(key).and_then(Value::as_str)` on an object, without the `Value`.
pub(crate) fn object_strings<'de, A: MapAccess<'de>, const N: usize>(
    map: &mut A,
    keys: [&str; N],
) -> Result<[Option<String>; N], A::Error> {
    struct KeyVisitor<'k, const N: usize>(&'k [&'k str; N]);
    impl<const N: usize> Visitor<'_> for KeyVisitor<'_, N> {
        type Value = Option<usize>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a field name")
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(self.0.iter().position(|k| *k == v))
        }
    }
    struct KeySeed<'k, const N: usize>(&'k [&'k str; N]);
    impl<'de, const N: usize> serde::de::DeserializeSeed<'de> for KeySeed<'_, N> {
        type Value = Option<usize>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_identifier(KeyVisitor(self.0))
        }
    }
    struct Str(Option<String>);
    impl<'de> Deserialize<'de> for Str {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(StrOnly).map(Str)
        }
    }
    let mut out = [const { None }; N];
    while let Some(key) = map.next_key_seed(KeySeed(&keys))? {
        match key {
            // The last of repeated keys wins, as in a `Value` object.
            Some(i) => out[i] = map.next_value::<Str>()?.0,
            None => {
                map.next_value::<Skip>()?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod oracle {
    //! The former `Value`-based helpers, verbatim: what the tests compare the visitors with.
    //! `with_oracle` switches `field` (and so every derived record) to them on this thread.

    use std::cell::Cell;

    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    thread_local! {
        static ON: Cell<bool> = const { Cell::new(false) };
    }

    pub(crate) fn on() -> bool {
        ON.with(Cell::get)
    }

    /// Runs `f` with the old helpers.
    pub(crate) fn with_oracle<R>(f: impl FnOnce() -> R) -> R {
        ON.with(|o| o.set(true));
        let r = f();
        ON.with(|o| o.set(false));
        r
    }

    pub(crate) trait OldField: Sized {
        fn old<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
    }

    pub(crate) fn lenient_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let raw: Vec<Value> = OldField::old(d)?;
        Ok(raw
            .into_iter()
            .filter_map(|v| match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            .collect())
    }

    impl OldField for Option<u64> {
        fn old<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Ok(match Option::<Value>::deserialize(d)? {
                Some(Value::Number(n)) => n.as_u64().or_else(|| {
                    n.as_f64()
                        .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                        .map(|f| f as u64)
                }),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            })
        }
    }

    impl OldField for Option<i64> {
        fn old<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Ok(match Option::<Value>::deserialize(d)? {
                Some(Value::Number(n)) => n
                    .as_i64()
                    .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            })
        }
    }

    impl OldField for Option<f64> {
        fn old<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Ok(match Option::<Value>::deserialize(d)? {
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            })
        }
    }

    impl OldField for Option<String> {
        fn old<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Ok(match Option::<Value>::deserialize(d)? {
                Some(Value::String(s)) => Some(s),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(Value::Bool(b)) => Some(b.to_string()),
                _ => None,
            })
        }
    }

    impl OldField for Option<bool> {
        fn old<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Ok(match Option::<Value>::deserialize(d)? {
                Some(Value::Bool(b)) => Some(b),
                Some(Value::Number(n)) => n.as_i64().map(|i| i != 0),
                Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                    "y" | "yes" | "true" | "1" => Some(true),
                    "n" | "no" | "false" | "0" => Some(false),
                    _ => None,
                },
                _ => None,
            })
        }
    }

    impl<T: serde::de::DeserializeOwned> OldField for Vec<T> {
        fn old<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Ok(match Option::<Value>::deserialize(d)? {
                Some(Value::Array(items)) => items
                    .into_iter()
                    .filter_map(|v| serde_json::from_value(v).ok())
                    .collect(),
                _ => Vec::new(),
            })
        }
    }

    /// The question's answer was an `Option<Value>` that the service read with
    /// `.get("content").as_str()` and `.get("createtimestamp").as_str()`.
    impl OldField for Option<crate::people::QuestionAnswer> {
        fn old<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let v = Option::<Value>::deserialize(d)?;
            let text = |key: &str| {
                v.as_ref()
                    .and_then(|v| v.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            Ok(v.as_ref()
                .is_some_and(Value::is_object)
                .then(|| crate::people::QuestionAnswer {
                    createtimestamp: text("createtimestamp"),
                    content: text("content"),
                }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Probe {
        #[serde(deserialize_with = "opt_u64")]
        id: Option<u64>,
        #[serde(deserialize_with = "opt_bool")]
        flag: Option<bool>,
        #[serde(deserialize_with = "opt_string")]
        text: Option<String>,
        #[serde(deserialize_with = "opt_f64")]
        score: Option<f64>,
        #[serde(deserialize_with = "lenient_vec")]
        tags: Vec<String>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn numbers_as_strings_flags_as_letters_and_missing_fields() {
        let p = probe(r#"{"id":"93838564","flag":"Y","text":7,"score":"8.5","tags":["a",1,"b"]}"#);
        assert_eq!(p.id, Some(93838564));
        assert_eq!(p.flag, Some(true));
        assert_eq!(p.text.as_deref(), Some("7"));
        assert_eq!(p.score, Some(8.5));
        assert_eq!(p.tags, vec!["a", "b"]);
        let p = probe(r#"{"id":49502149,"flag":false,"unknown":{"x":1}}"#);
        assert_eq!((p.id, p.flag), (Some(49502149), Some(false)));
        let p = probe(r#"{"id":null,"flag":"maybe","tags":null}"#);
        assert_eq!((p.id, p.flag, p.tags.len()), (None, None, 0));
        assert_eq!(probe("{}").id, None);
        assert_eq!(probe(r#"{"id":""}"#).id, None);
    }

    /// Every lenient field type at once (the `Probe` above predates `field`).
    #[derive(Debug, Deserialize, Default)]
    #[serde(default)]
    struct AllFields {
        #[serde(deserialize_with = "field")]
        u: Option<u64>,
        #[serde(deserialize_with = "field")]
        i: Option<i64>,
        #[serde(deserialize_with = "field")]
        f: Option<f64>,
        #[serde(deserialize_with = "field")]
        s: Option<String>,
        #[serde(deserialize_with = "field")]
        b: Option<bool>,
        #[serde(deserialize_with = "field")]
        tags: Vec<String>,
        #[serde(deserialize_with = "lenient_ids")]
        ids: Vec<u64>,
        #[serde(deserialize_with = "field")]
        answer: Option<crate::people::QuestionAnswer>,
        #[serde(deserialize_with = "field")]
        questions: Vec<crate::people::AttendeeQuestion>,
    }

    /// A JSON value as text, objects with possibly repeated keys.
    #[derive(Debug, Clone)]
    enum J {
        Null,
        Bool(bool),
        U(u64),
        I(i64),
        F(f64),
        S(String),
        A(Vec<J>),
        O(Vec<(String, J)>),
    }

    impl J {
        fn text(&self, out: &mut String) {
            match self {
                J::Null => out.push_str("null"),
                J::Bool(b) => out.push_str(&b.to_string()),
                J::U(u) => out.push_str(&u.to_string()),
                J::I(i) => out.push_str(&i.to_string()),
                J::F(f) => out.push_str(&serde_json::to_string(f).expect("finite")),
                J::S(s) => out.push_str(&serde_json::to_string(s).expect("string")),
                J::A(items) => {
                    out.push('[');
                    for (n, item) in items.iter().enumerate() {
                        if n > 0 {
                            out.push(',');
                        }
                        item.text(out);
                    }
                    out.push(']');
                }
                J::O(members) => {
                    out.push('{');
                    for (n, (k, v)) in members.iter().enumerate() {
                        if n > 0 {
                            out.push(',');
                        }
                        out.push_str(&serde_json::to_string(k).expect("key"));
                        out.push(':');
                        v.text(out);
                    }
                    out.push('}');
                }
            }
        }
    }

    /// Arbitrary JSON whose object keys come from `keys` (so records' fields are hit, and
    /// repeated), with the scalars ON24 gets wrong: floats like 3.0, negatives, numeric
    /// strings with spaces, flag letters.
    fn json(keys: &'static [&'static str]) -> impl proptest::strategy::Strategy<Value = J> {
        use proptest::prelude::*;
        let text = prop_oneof![
            Just(String::new()),
            Just(" 42 ".to_owned()),
            Just("3.0".to_owned()),
            Just("-7".to_owned()),
            Just("Y".to_owned()),
            Just(" no".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("1e3".to_owned()),
            "[ -~]{0,8}",
            "\\PC{0,4}",
        ];
        let float = prop_oneof![
            Just(3.0),
            Just(-0.0),
            Just(0.5),
            Just(-2.0),
            Just(1e20),
            Just(9.3e18),
            Just(-1e300),
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
        ];
        let leaf = prop_oneof![
            Just(J::Null),
            any::<bool>().prop_map(J::Bool),
            prop_oneof![0u64..3, any::<u64>(), Just(u64::MAX), Just(1 << 63)].prop_map(J::U),
            prop_oneof![-3i64..0, i64::MIN..0].prop_map(J::I),
            float.prop_map(J::F),
            text.prop_map(J::S),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(J::A),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            4 => proptest::sample::select(keys).prop_map(str::to_owned),
                            1 => "[a-z]{1,3}",
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(J::O),
            ]
        })
    }

    const ATTENDEE_KEYS: &[&str] = &[
        "attendees",
        "eventuserid",
        "email",
        "engagementscore",
        "liveminutes",
        "isblocked",
        "userstatus",
        "questions",
        "polls",
        "surveys",
        "resources",
        "calltoactions",
        "certifications",
        "questionid",
        "content",
        "answer",
        "createtimestamp",
        "pollanswers",
        "surveyquestions",
        "surveyanswers",
        "surveyquestionid",
        "resourceid",
        "ctaid",
        "action",
        "certificationresult",
        "totalattendees",
    ];
    const REGISTRANT_KEYS: &[&str] = &[
        "registrants",
        "eventuserid",
        "email",
        "firstname",
        "std1",
        "isblocked",
        "zip",
        "totalregistrants",
        "createtimestamp",
    ];
    const FIELD_KEYS: &[&str] = &[
        "u",
        "i",
        "f",
        "s",
        "b",
        "tags",
        "ids",
        "answer",
        "questions",
        "content",
        "createtimestamp",
        "questionid",
    ];

    /// The outcome as comparable text: the value's `Debug`, or the error's kind and place.
    fn outcome<T: std::fmt::Debug>(r: Result<T, serde_json::Error>) -> String {
        match r {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("{:?} at {}:{}", e.classify(), e.line(), e.column()),
        }
    }

    /// New and old readings of `text` as `T`, and, for pages, the streamed reading.
    fn both<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) -> (String, String) {
        let new = outcome(serde_json::from_str::<T>(text));
        let old = oracle::with_oracle(|| outcome(serde_json::from_str::<T>(text)));
        (new, old)
    }

    fn streamed<T: Lenient + std::fmt::Debug>(
        text: &str,
        field: &'static str,
        cut: usize,
    ) -> Result<Vec<T>, crate::On24Error> {
        let cut = (cut % (text.len() + 1)).min(text.len());
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tx.try_send(text.as_bytes()[..cut].to_vec()).expect("send");
        tx.try_send(text.as_bytes()[cut..].to_vec()).expect("send");
        drop(tx);
        crate::client::parse_array(rx, field, Some, "test")
    }

    /// Truncated or with a stray byte: malformed JSON errors as before.
    fn damaged(text: &str, at: usize, how: u8) -> String {
        let at = at % (text.len() + 1);
        let mut bytes = text.as_bytes()[..at].to_vec();
        if !how.is_multiple_of(3) {
            bytes.push(b"{}[],:\"x-1 "[usize::from(how) % 11]);
            bytes.extend_from_slice(&text.as_bytes()[at..]);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn nesting_deeper_than_the_limit_fails_as_before_even_in_unknown_fields() {
        let deep = format!("{}1{}", "[".repeat(126), "]".repeat(126));
        for text in [
            format!(r#"{{"attendees":[{{"other":{deep}}}]}}"#),
            format!(r#"{{"attendees":[{{"questions":[{{"x":{deep}}}]}}]}}"#),
            format!(r#"{{"attendees":[{{"eventuserid":{deep}}}]}}"#),
        ] {
            let (new, old) = both::<crate::people::AttendeePage>(&text);
            assert_eq!(new, old);
            assert!(new.contains("at 1:"), "{new}");
        }
        let shallow = format!(
            r#"{{"attendees":[{{"other":{}1{}}}]}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        let (new, old) = both::<crate::people::AttendeePage>(&shallow);
        assert_eq!(new, old);
    }

    #[test]
    fn repeated_keys_keep_the_last_value_in_elements_and_fail_at_the_top_as_before() {
        let text = r#"{"attendees":[{"email":"a","email":"b","questions":[{"answer":{"content":"x","content":7}}]}]}"#;
        let (new, old) = both::<crate::people::AttendeePage>(text);
        assert_eq!(new, old);
        assert!(new.contains(r#"Some("b")"#), "{new}");
        let (new, old) = both::<crate::people::Attendee>(r#"{"email":"a","email":"b"}"#);
        assert_eq!(new, old);
        assert!(new.starts_with("Data"), "{new}");
    }

    #[test]
    fn arrays_as_records_read_fields_in_order_and_too_long_ones_are_skipped() {
        let text = r#"{"attendees":[[1,2,"e@x"],[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35]]}"#;
        let (new, old) = both::<crate::people::AttendeePage>(text);
        assert_eq!(new, old);
        assert!(new.contains(r#"Some("e@x")"#), "{new}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn fields_read_as_the_value_based_helpers_did(doc in json(FIELD_KEYS)) {
            let mut text = String::new();
            J::O(vec![("u".into(), doc.clone()), ("i".into(), doc.clone()),
                ("f".into(), doc.clone()), ("s".into(), doc.clone()), ("b".into(), doc.clone()),
                ("tags".into(), doc.clone()), ("ids".into(), doc.clone()),
                ("answer".into(), doc.clone()), ("questions".into(), doc.clone())]).text(&mut text);
            let (new, old) = both::<AllFields>(&text);
            proptest::prop_assert_eq!(new, old);
            // Each field on its own, and any object made of these keys.
            let mut text = String::new();
            doc.text(&mut text);
            let (new, old) = both::<AllFields>(&text);
            proptest::prop_assert_eq!(new, old);
            let (new, old) = both::<Probe2>(&text);
            proptest::prop_assert_eq!(new, old);
        }

        #[test]
        fn attendee_pages_read_as_before(
            items in proptest::collection::vec(json(ATTENDEE_KEYS), 0..5),
            cut in proptest::prelude::any::<usize>(),
            how in proptest::prelude::any::<u8>(),
        ) {
            let mut text = String::new();
            J::O(vec![("totalattendees".into(), J::U(1)), ("attendees".into(), J::A(items))])
                .text(&mut text);
            let (new, old) = both::<crate::people::AttendeePage>(&text);
            proptest::prop_assert_eq!(&new, &old);
            // The streamed reading keeps the same attendees, whatever the chunking.
            let page = serde_json::from_str::<crate::people::AttendeePage>(&text).expect("valid");
            let got = streamed::<crate::people::Attendee>(&text, "attendees", cut).expect("stream");
            proptest::prop_assert_eq!(format!("{got:?}"), format!("{:?}", page.attendees));
            // Broken JSON fails the same way.
            let bad = damaged(&text, cut, how);
            let (new, old) = both::<crate::people::AttendeePage>(&bad);
            proptest::prop_assert_eq!(&new, &old);
            let s = streamed::<crate::people::Attendee>(&bad, "attendees", cut);
            let o = oracle::with_oracle(|| serde_json::from_str::<crate::people::AttendeePage>(&bad));
            proptest::prop_assert_eq!(s.is_ok(), o.is_ok(), "{} / {}", new, bad);
        }

        #[test]
        fn registrants_and_single_records_read_as_before(
            doc in json(REGISTRANT_KEYS),
            items in proptest::collection::vec(json(REGISTRANT_KEYS), 0..5),
        ) {
            let mut text = String::new();
            doc.text(&mut text);
            let (new, old) = both::<crate::people::Registrant>(&text);
            proptest::prop_assert_eq!(new, old);
            let (new, old) = both::<crate::people::Attendee>(&text);
            proptest::prop_assert_eq!(new, old);
            let mut text = String::new();
            J::O(vec![("registrants".into(), J::A(items))]).text(&mut text);
            let (new, old) = both::<crate::people::RegistrantPage>(&text);
            proptest::prop_assert_eq!(new, old);
        }
    }

    #[derive(Debug, Deserialize, Default)]
    #[serde(default)]
    struct Probe2 {
        #[serde(deserialize_with = "opt_i64")]
        i: Option<i64>,
        #[serde(deserialize_with = "opt_u64")]
        u: Option<u64>,
        #[serde(deserialize_with = "opt_bool")]
        b: Option<bool>,
        #[serde(deserialize_with = "opt_string")]
        s: Option<String>,
        #[serde(deserialize_with = "opt_f64")]
        f: Option<f64>,
    }

    proptest::proptest! {
        #[test]
        fn any_id_reads_the_same_as_number_or_string(id in proptest::prelude::any::<u64>()) {
            let as_number = probe(&format!(r#"{{"id":{id}}}"#));
            let as_string = probe(&format!(r#"{{"id":"{id}"}}"#));
            proptest::prop_assert_eq!(as_number.id, Some(id));
            proptest::prop_assert_eq!(as_string.id, Some(id));
        }

        #[test]
        fn arbitrary_json_values_never_fail_decoding(raw in "[ -~]{0,40}") {
            // Whatever ON24 puts in a field, the record still decodes.
            let doc = serde_json::json!({"id": raw, "flag": raw, "text": raw, "score": raw, "tags": raw});
            let p: Result<Probe, _> = serde_json::from_value(doc);
            proptest::prop_assert!(p.is_ok());
        }
    }
}
