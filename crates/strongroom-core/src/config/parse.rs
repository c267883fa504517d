//! One parser per kind of setting value, used by every provider and by the facade.
//!
//! Each parser takes the text a user wrote (TOML string, environment variable) and returns
//! the typed value or a sentence saying what was expected; the caller names the setting.
//! The [`de`] adapters give serde the same parsers, accepting native TOML types too.

use std::net::IpAddr;
use std::time::Duration;

/// What [`duration`] accepts, for error messages.
pub const DURATION_FORMS: &str =
    "a number of seconds (`30`, `1.5`) or a duration (`500ms`, `5m`, `24h`, `1h 30m`)";

/// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case, surrounding space ignored).
///
/// ```
/// use strongroom_core::config::parse;
/// assert_eq!(parse::bool(" Yes "), Ok(true));
/// assert!(parse::bool("maybe").is_err());
/// ```
pub fn bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false (also 1/0, yes/no, on/off)".to_owned()),
    }
}

/// A number of seconds (`300`, `1.5`) or a duration (`5m`, `24h`, `1h 30m`).
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::config::parse;
/// assert_eq!(parse::duration("300"), Ok(Duration::from_secs(300)));
/// assert_eq!(parse::duration("5m"), Ok(Duration::from_secs(300)));
/// assert!(parse::duration("-1").is_err());
/// ```
pub fn duration(text: &str) -> Result<Duration, String> {
    let v = text.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| format!("expected {DURATION_FORMS}"));
    }
    humantime::parse_duration(v).map_err(|_| format!("expected {DURATION_FORMS}"))
}

/// A non-negative whole number.
pub fn number(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| "expected a whole number".to_owned())
}

/// The schemes that carry data in clear.
const PLAINTEXT_SCHEMES: &[&str] = &["http", "redis", "ws"];

/// A network address (URL) of a server: one of `schemes`, with a host, and without
/// `user:password@` (credentials belong in credential fields, where they are redacted), query
/// or fragment. A trailing `/` is removed.
///
/// ```
/// use strongroom_core::config::parse;
/// let url = parse::address("https://vault.example:8200/", &["http", "https"]).unwrap();
/// assert_eq!(url.as_str(), "https://vault.example:8200/");
/// assert!(parse::address("https://user:pw@vault.example", &["https"]).is_err());
/// assert!(parse::address("ftp://x", &["http", "https"]).is_err());
/// ```
pub fn address(text: &str, schemes: &[&str]) -> Result<url::Url, String> {
    let text = text.trim();
    let url = url::Url::parse(text).map_err(|_| "not a valid URL".to_owned())?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!("the scheme must be one of: {}", schemes.join(", ")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the URL carries `user:password@`; put credentials in their own settings, where they are kept secret"
                .to_owned(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the URL may not carry a query or a fragment".to_owned());
    }
    Ok(url)
}

/// Whether `url` sends data in clear (`http://`, `redis://`).
pub fn is_plaintext(url: &url::Url) -> bool {
    PLAINTEXT_SCHEMES.contains(&url.scheme())
}

/// Whether `url` points at this machine (`localhost`, 127.0.0.0/8, `::1`).
///
/// ```
/// use strongroom_core::config::parse;
/// assert!(parse::is_loopback(&"http://127.0.0.1:8200".parse().unwrap()));
/// assert!(parse::is_loopback(&"http://localhost".parse().unwrap()));
/// assert!(!parse::is_loopback(&"http://10.0.0.1".parse().unwrap()));
/// ```
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        // A non-special scheme (`redis://`) leaves IP literals as opaque domains.
        Some(url::Host::Domain(d)) => {
            d.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
                || d.eq_ignore_ascii_case("localhost")
                || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A `/`-separated path inside a server (a Vault mount, a namespace, a Conjur policy branch):
/// surrounding `/` removed; empty, `.` and `..` segments, control characters, spaces, `?`,
/// `#`, `%` and `\` refused. `Ok(None)` when nothing is left.
///
/// ```
/// use strongroom_core::config::parse;
/// assert_eq!(parse::server_path("/team/a/").unwrap().as_deref(), Some("team/a"));
/// assert_eq!(parse::server_path("/").unwrap(), None);
/// assert!(parse::server_path("a/../b").is_err());
/// ```
pub fn server_path(text: &str) -> Result<Option<String>, String> {
    let v = text.trim().trim_matches('/');
    if v.is_empty() {
        return Ok(None);
    }
    if v.split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err("empty, `.` and `..` path segments are not allowed".to_owned());
    }
    if v.chars()
        .any(|c| crate::is_forbidden_char(c) || matches!(c, '?' | '#' | '%' | '\\' | ' '))
    {
        return Err("may not contain control characters, spaces, `?`, `#`, `%` or `\\`".to_owned());
    }
    Ok(Some(v.to_owned()))
}

/// Serde adapters for config structs: each accepts the native TOML type and the text form
/// (environment variables are text), through the parsers above.
pub mod de {
    use std::fmt;
    use std::marker::PhantomData;
    use std::time::Duration;

    use serde::de::{self, Deserializer, Visitor};

    struct Text<T>(fn(&str) -> Result<T, String>, &'static str, PhantomData<T>);

    impl<T> Visitor<'_> for Text<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.1)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.0)(v).map_err(E::custom)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
            (self.0)(if v { "true" } else { "false" }).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            (self.0)(&v.to_string()).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            (self.0)(&v.to_string()).map_err(E::custom)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
            (self.0)(&v.to_string()).map_err(E::custom)
        }
    }

    /// A duration: `30`, `1.5`, `"5m"`, `"24h"`.
    pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(Text(super::duration, "a duration", PhantomData))
    }

    /// An optional duration.
    pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        duration(d).map(Some)
    }

    /// A bool: `true`, `"yes"`, `1`, `"off"`.
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        d.deserialize_any(Text(super::bool, "true or false", PhantomData))
    }

    /// An optional bool.
    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        bool(d).map(Some)
    }

    /// A whole number: `3`, `"3"`.
    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(Text(super::number, "a whole number", PhantomData))
    }

    /// An optional whole number.
    pub fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        number(d).map(Some)
    }

    /// A list of strings: a TOML array, or comma-separated text (`"a,b"`).
    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings, or comma-separated text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
                Ok(v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(out)
            }
        }
        d.deserialize_any(List)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_bools() {
        assert_eq!(duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration(" 1h 30m "), Ok(Duration::from_secs(5400)));
        assert!(duration("soon").unwrap_err().contains("seconds"));
        assert!(duration("inf").is_err());
        assert_eq!(bool("OFF"), Ok(false));
        assert_eq!(number(" 7 "), Ok(7));
        assert!(number("-7").is_err());
    }

    #[test]
    fn addresses() {
        assert!(address("http://[::1]:8200", &["http"]).is_ok());
        assert!(
            address("https://vault.example?x=1", &["https"])
                .unwrap_err()
                .contains("query")
        );
        assert!(
            address("https://user@h", &["https"])
                .unwrap_err()
                .contains("user")
        );
        let u: url::Url = "redis://10.1.2.3:6379".parse().unwrap();
        assert!(is_plaintext(&u) && !is_loopback(&u));
        let u: url::Url = "https://127.0.0.2".parse().unwrap();
        assert!(!is_plaintext(&u) && is_loopback(&u));
        let u: url::Url = "redis://127.0.0.1:6379".parse().unwrap();
        assert!(is_plaintext(&u) && is_loopback(&u));
        let u: url::Url = "redis://[::1]:6379".parse().unwrap();
        assert!(is_loopback(&u));
    }
}
