//! Reading typed settings from variables: a missing or empty variable takes
//! its documented default; a malformed one is an error naming the variable,
//! never a silent default.

use crate::error::{Error, Result};
use crate::ports::Config;

/// The variable's value, or `None` when unset or empty.
pub fn text(config: &dyn Config, name: &str) -> Result<Option<String>> {
    Ok(config
        .get(name)?
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty()))
}

/// The shortest secret accepted: 32 characters (a random value of that
/// length carries far more than the 128 bits a secret needs; a word or a
/// short phrase does not come close).
pub const MIN_SECRET_CHARS: usize = 32;

/// A secret variable (a key, token or signing secret): `None` when unset
/// or empty (the feature it guards is off), 503 `invalid_configuration`
/// naming the variable when it is shorter than [`MIN_SECRET_CHARS`]. Every
/// secret is read through here, so a weak one is refused wherever it would
/// be used, with the same message.
pub fn secret(config: &dyn Config, name: &str) -> Result<Option<String>> {
    match text(config, name)? {
        Some(s) if s.chars().count() < MIN_SECRET_CHARS => Err(Error::unavailable(
            "invalid_configuration",
            format!(
                "variable `{name}` is too short: a secret must be at least {MIN_SECRET_CHARS} characters (for example `openssl rand -hex 24`)"
            ),
        )),
        other => Ok(other),
    }
}

/// The variable's value, or `default`.
pub fn text_or(config: &dyn Config, name: &str, default: &str) -> Result<String> {
    Ok(text(config, name)?.unwrap_or_else(|| default.to_string()))
}

fn invalid(name: &str, want: &str, got: &str) -> Error {
    Error::unavailable(
        "invalid_configuration",
        format!(
            "variable `{name}` must be {want}; it is `{}`",
            got.chars().take(60).collect::<String>()
        ),
    )
}

/// An integer in `min..=max`, or `default`.
pub fn int(config: &dyn Config, name: &str, default: i64, min: i64, max: i64) -> Result<i64> {
    match text(config, name)? {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(invalid(
                name,
                &format!("an integer from {min} to {max}"),
                &v,
            )),
        },
    }
}

/// A number in `min..=max`, or `default`.
pub fn float(config: &dyn Config, name: &str, default: f64, min: f64, max: f64) -> Result<f64> {
    match text(config, name)? {
        None => Ok(default),
        Some(v) => match v.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= min && n <= max => Ok(n),
            _ => Err(invalid(name, &format!("a number from {min} to {max}"), &v)),
        },
    }
}

/// `true` or `false` (any case), or `default`.
pub fn flag(config: &dyn Config, name: &str, default: bool) -> Result<bool> {
    match text(config, name)? {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(invalid(name, "true or false", &v)),
    }
}

/// An origin (`scheme://host[:port]`, no path), trailing `/` removed: the
/// form Spin's `allowed_outbound_hosts` accepts, so the same variable can
/// feed both.
pub fn origin(config: &dyn Config, name: &str, default: &str) -> Result<String> {
    let v = text_or(config, name, default)?;
    let v = v.trim_end_matches('/').to_string();
    let ok = (v.starts_with("https://") || v.starts_with("http://"))
        && v.splitn(4, '/').nth(3).is_none_or(|p| p.is_empty());
    if ok {
        Ok(v)
    } else {
        Err(invalid(
            name,
            "an origin like https://api.example.com (scheme, host, optional port; no path)",
            &v,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    #[test]
    fn defaults_values_and_errors() {
        let c = MapConfig::new(&[
            ("n", " 7 "),
            ("bad", "x"),
            ("empty", ""),
            ("f", "0.5"),
            ("o", "http://127.0.0.1:9/"),
            ("p", "https://a.b/v1"),
            ("yes", "TRUE"),
        ]);
        assert_eq!(int(&c, "n", 1, 0, 10).unwrap(), 7);
        assert_eq!(int(&c, "missing", 3, 0, 10).unwrap(), 3);
        assert_eq!(int(&c, "empty", 3, 0, 10).unwrap(), 3);
        assert_eq!(
            int(&c, "n", 1, 0, 5).unwrap_err().code,
            "invalid_configuration"
        );
        assert!(int(&c, "bad", 1, 0, 5)
            .unwrap_err()
            .message
            .contains("`bad`"));
        assert_eq!(float(&c, "f", 1.0, 0.0, 1.0).unwrap(), 0.5);
        assert_eq!(
            origin(&c, "o", "https://x.y").unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            origin(&c, "missing", "https://api.openai.com").unwrap(),
            "https://api.openai.com"
        );
        assert!(origin(&c, "p", "https://x.y").is_err());
        assert!(flag(&c, "yes", false).unwrap());
        assert!(!flag(&c, "missing", false).unwrap());
        assert!(flag(&c, "empty", true).unwrap());
        assert_eq!(
            flag(&c, "bad", true).unwrap_err().code,
            "invalid_configuration"
        );
    }

    #[test]
    fn short_secrets_are_refused_and_empty_ones_are_off() {
        let long = "k".repeat(MIN_SECRET_CHARS);
        let short = "k".repeat(MIN_SECRET_CHARS - 1);
        let c = MapConfig::new(&[("long", &long), ("short", &short), ("empty", " ")]);
        assert_eq!(secret(&c, "long").unwrap().as_deref(), Some(long.as_str()));
        assert_eq!(secret(&c, "empty").unwrap(), None);
        assert_eq!(secret(&c, "missing").unwrap(), None);
        let e = secret(&c, "short").unwrap_err();
        assert_eq!(e.code, "invalid_configuration");
        assert!(e.message.contains("`short`") && e.message.contains("32"));
        assert!(!e.message.contains(&short), "the value is never shown");
    }
}
