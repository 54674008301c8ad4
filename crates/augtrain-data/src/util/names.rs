//! Names of unit enum variants, written once: the serde derive (`rename_all`, `alias`) that
//! config files use also parses command-line values ([`parse`], and `FromStr` through
//! [`from_str_via_serde!`](crate::from_str_via_serde)) and prints them ([`name`]).

use serde::Serialize;
use serde::de::value::Error;
use serde::de::{DeserializeOwned, IntoDeserializer};

use super::suggest::with_suggestion;

/// Parse `text` as the serde name or alias of a unit variant of `T`, ignoring ASCII case and
/// treating `-` and `_` alike (`Cross-Entropy` finds `cross_entropy`). The error is serde's,
/// listing every accepted name, with "did you mean" when one is near:
/// "unknown variant `mpl`, expected `mlp` or `cnn`; did you mean `mlp`?".
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let lower = text.to_ascii_lowercase();
    let attempt = |s: &str| T::deserialize(IntoDeserializer::<Error>::into_deserializer(s));
    let first = match attempt(&lower) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    [lower.replace('-', "_"), lower.replace('_', "-")]
        .iter()
        .find_map(|s| attempt(s).ok())
        .ok_or_else(|| with_suggestion(&first.to_string()))
}

/// The serde name of `value`, a unit variant ("" for anything that is not a string to serde).
pub fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `impl FromStr` for unit enums through their serde names: [`parse`], so a flag accepts
/// exactly what a config file does, in any case, with `-` or `_`.
#[macro_export]
macro_rules! from_str_via_serde {
    ($($t:ty),+ $(,)?) => {$(
        impl ::std::str::FromStr for $t {
            type Err = ::std::string::String;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                $crate::util::names::parse(s)
            }
        }
    )+};
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        CrossEntropy,
        #[serde(alias = "squared")]
        Mse,
    }
    crate::from_str_via_serde!(Kind);

    #[test]
    fn names_parse_in_any_case_with_either_separator() {
        for s in [
            "cross_entropy",
            "cross-entropy",
            "Cross-Entropy",
            "CROSS_ENTROPY",
        ] {
            assert_eq!(s.parse::<Kind>(), Ok(Kind::CrossEntropy), "{s}");
        }
        assert_eq!("squared".parse::<Kind>(), Ok(Kind::Mse));
        assert_eq!(name(&Kind::CrossEntropy), "cross_entropy");
        assert_eq!(name(&3), "");
    }

    #[test]
    fn a_bad_name_lists_the_valid_ones() {
        let e = "crossentropy".parse::<Kind>().unwrap_err();
        assert_eq!(
            e,
            "unknown variant `crossentropy`, expected one of `cross_entropy`, `mse`, `squared`; \
             did you mean `cross_entropy`?"
        );
        let e = "zzz".parse::<Kind>().unwrap_err();
        assert_eq!(
            e,
            "unknown variant `zzz`, expected one of `cross_entropy`, `mse`, `squared`"
        );
    }
}
