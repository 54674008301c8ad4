//! `f64` fields that may be NaN, in JSON. serde_json writes NaN (and ±inf) as `null`; reading
//! `null` back into an `f64` fails. Fields marked `#[serde(with = "augtrain_data::util::nan")]`
//! write NaN as `null` and read `null` back as NaN, so files round-trip.

use serde::{Deserialize, Deserializer, Serializer};

/// Write `value`, NaN and infinities as `null`.
pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        serializer.serialize_f64(*value)
    } else {
        serializer.serialize_none()
    }
}

/// Read a number, or `null` as NaN.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, Debug)]
    struct Row {
        #[serde(with = "super")]
        v: f64,
    }

    #[test]
    fn nan_round_trips_as_null() {
        let text = serde_json::to_string(&Row { v: f64::NAN }).unwrap();
        assert_eq!(text, r#"{"v":null}"#);
        let back: Row = serde_json::from_str(&text).unwrap();
        assert!(back.v.is_nan());
        let back: Row = serde_json::from_str(r#"{"v":0.25}"#).unwrap();
        assert_eq!(back.v, 0.25);
    }
}
