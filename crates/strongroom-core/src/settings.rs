//! Parsing of setting values shared by every provider's `from_env()` / `from_lookup()`.

use std::time::Duration;

/// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case, surrounding space ignored).
///
/// ```
/// assert_eq!(strongroom_core::settings::parse_bool(" Yes "), Some(true));
/// assert_eq!(strongroom_core::settings::parse_bool("maybe"), None);
/// ```
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A number of seconds (`300`, `1.5`) or a duration (`5m`, `24h`, `1h 30m`).
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::settings::parse_duration;
/// assert_eq!(parse_duration("300"), Some(Duration::from_secs(300)));
/// assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
/// assert_eq!(parse_duration("-1"), None);
/// ```
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    humantime::parse_duration(v).ok()
}
