//! Lenient serde helpers for ON24 JSON.
//!
//! ON24 is not consistent about scalar types: the same id arrives as `49502149` in one
//! response and `"93838564"` in another, flags as `true` or `"Y"`, and fields are often
//! absent or `null`. These helpers accept every such spelling so one odd field never
//! fails a whole page of analytics.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An integer sent as a number or a numeric string; `null`, `""` or garbage read as `None`.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
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

/// A signed integer (e.g. `noshowcount` can be negative), number or string.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A decimal such as `engagementscore`, number or string.
pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Text; numbers and booleans are turned into their text so a type change upstream
/// does not lose the value.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// A flag sent as `true`/`false`, `"Y"`/`"N"`, `"true"`/`"false"` or `1`/`0`.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
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

/// A list that may be absent, `null`, or hold elements of the wrong shape: bad elements
/// are skipped rather than failing the whole response.
pub(crate) fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
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
