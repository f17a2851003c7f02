//! One profile as the layers deliver it: every key optional and untyped enough that any layer
//! may set it, with the lenient forms people write (`30` or `"30s"`, a list or one string).

use crate::base::secret::ClientSecret;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// One profile as it arrives from the layers, before validation. Every field is optional here
/// so that any layer may set it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub domain: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// A secret from the start: `Debug` of a raw profile never shows it.
    #[serde(default, deserialize_with = "secret_text")]
    pub client_secret: Option<ClientSecret>,
    pub audience: Option<String>,
    pub organization: Option<String>,
    #[serde(default, deserialize_with = "words_from_list_or_string")]
    pub scopes: Option<Vec<String>>,
    pub redirect_port: Option<i64>,
    pub callback_path: Option<String>,
    pub paste_redirect_uri: Option<String>,
    pub authorize_params: Option<BTreeMap<String, String>>,
    pub token_request_format: Option<String>,
    pub flow: Option<String>,
    pub authorize_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub identity_file: Option<String>,
    pub use_passphrase: Option<bool>,
    pub scrypt_work_factor: Option<i64>,
    #[serde(default, deserialize_with = "duration_from_seconds_or_text")]
    pub http_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration_from_seconds_or_text")]
    pub connect_timeout: Option<Duration>,
    pub ca_file: Option<String>,
    pub proxy: Option<String>,
    pub provider: Option<String>,
    #[serde(default, deserialize_with = "words_from_list_or_string")]
    pub hosts: Option<Vec<String>>,
    pub git_username: Option<String>,
    pub registry_username: Option<String>,
    pub login_if_needed: Option<bool>,
}

/// A duration as whole seconds (`30`) or text (`"30s"`, `"2m"`).
fn duration_from_seconds_or_text<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    struct DurationVisitor;
    impl<'de> serde::de::Visitor<'de> for DurationVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("seconds or a duration like \"30s\" or \"2m\"")
        }

        fn visit_u64<E: serde::de::Error>(self, secs: u64) -> Result<Self::Value, E> {
            crate::base::duration::at_most_a_year(Duration::from_secs(secs), &format!("{secs}s"))
                .map(Some)
                .map_err(E::custom)
        }

        fn visit_i64<E: serde::de::Error>(self, secs: i64) -> Result<Self::Value, E> {
            let secs =
                u64::try_from(secs).map_err(|_| E::custom("a duration cannot be negative"))?;
            self.visit_u64(secs)
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            crate::base::duration::parse_duration(text)
                .map(Some)
                .map_err(E::custom)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(DurationVisitor)
        }
    }
    d.deserialize_option(DurationVisitor)
}

/// A secret as text. A number (`client_secret = 1234`) is taken as its digits; any other
/// non-string is refused in words that do not repeat the value, as serde's own messages would
/// ("found unsigned int `1234`", "found bool true").
fn secret_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ClientSecret>, D::Error> {
    struct SecretVisitor;
    impl<'de> serde::de::Visitor<'de> for SecretVisitor {
        type Value = Option<ClientSecret>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(ClientSecret::new(text)))
        }

        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Some(ClientSecret::new(n.to_string())))
        }

        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
            Ok(Some(ClientSecret::new(n.to_string())))
        }

        fn visit_u128<E: serde::de::Error>(self, n: u128) -> Result<Self::Value, E> {
            Ok(Some(ClientSecret::new(n.to_string())))
        }

        fn visit_i128<E: serde::de::Error>(self, n: i128) -> Result<Self::Value, E> {
            Ok(Some(ClientSecret::new(n.to_string())))
        }

        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom("must be a string (in quotes)"))
        }

        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom("must be a string (in quotes)"))
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(SecretVisitor)
        }
    }
    d.deserialize_option(SecretVisitor)
}

/// `scopes` may be a TOML array or, handy in `LATCHKEY_SCOPES`, one space- or comma-separated string.
fn words_from_list_or_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    struct WordsVisitor;
    impl<'de> serde::de::Visitor<'de> for WordsVisitor {
        type Value = Option<Vec<String>>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list, or a string of space-separated words")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(
                text.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ))
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut scopes = Vec::new();
            while let Some(scope) = seq.next_element::<String>()? {
                scopes.push(scope);
            }
            Ok(Some(scopes))
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(WordsVisitor)
        }
    }
    d.deserialize_option(WordsVisitor)
}
