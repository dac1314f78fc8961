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

/// The error for a variable the app cannot run with: it names the variable,
/// says what it must be (the fix), and shows the value it has. Logs carry
/// the whole message; [`Problem::of`] keeps only what may be shown publicly.
pub fn invalid(name: &str, want: &str, got: &str) -> Error {
    Error::unavailable(
        "invalid_configuration",
        format!(
            "variable `{name}` must be {want}; it is `{}`",
            got.chars().take(60).collect::<String>()
        ),
    )
}

/// What `/health` shows of an `invalid_configuration` error: the variable
/// and what it must be, never the value it has (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The variable's name.
    pub variable: String,
    /// What it must be: the fix.
    pub expected: String,
}

impl Problem {
    /// The problem an error's text (`code: message`, as stored with a failed
    /// run) describes, if it is a configuration error naming a variable.
    pub fn of(error: &str) -> Option<Problem> {
        let rest = error.strip_prefix("invalid_configuration: variable `")?;
        let (variable, rest) = rest.split_once("` must be ")?;
        // The first separator: what follows it is the value, which may
        // itself contain one.
        let expected = rest.split_once("; it is `").map_or(rest, |(want, _)| want);
        Some(Problem {
            variable: variable.to_string(),
            expected: expected.to_string(),
        })
    }
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
///
/// A value with a path (`http://localhost:11434/v1`, the form many
/// OpenAI-compatible servers document) cannot be accepted: spin.toml puts
/// the same variable in `allowed_outbound_hosts`, and Spin refuses an entry
/// with a path, so every request would be denied. The error says so.
pub fn origin(config: &dyn Config, name: &str, default: &str) -> Result<String> {
    let v = text_or(config, name, default)?;
    match split_origin(&v) {
        Some((origin, "")) => Ok(origin.to_string()),
        _ => Err(invalid(name, ORIGIN_WANTED, &v)),
    }
}

const ORIGIN_WANTED: &str = "an origin like https://api.example.com (scheme, host, optional \
port; no path: spin.toml allows outbound requests to this variable's value, and Spin refuses \
a value with a path)";

/// `value` as its origin (`scheme://host[:port]`) and its path (without a
/// trailing `/`; empty for none), if it is an http(s) URL.
pub fn split_origin(value: &str) -> Option<(&str, &str)> {
    let value = value.trim().trim_end_matches('/');
    let scheme_len = if value.starts_with("https://") {
        8
    } else if value.starts_with("http://") {
        7
    } else {
        return None;
    };
    let end = value[scheme_len..]
        .find('/')
        .map_or(value.len(), |i| scheme_len + i);
    (end > scheme_len).then(|| value.split_at(end))
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
        let err = origin(&c, "p", "https://x.y").unwrap_err();
        assert!(err.message.contains("Spin refuses"), "{err}");
        assert_eq!(
            split_origin("http://localhost:11434/v1/"),
            Some(("http://localhost:11434", "/v1"))
        );
        assert_eq!(split_origin("https://a.b"), Some(("https://a.b", "")));
        assert_eq!(split_origin("https:///v1"), None);
        assert_eq!(split_origin("localhost:11434"), None);
        assert!(flag(&c, "yes", false).unwrap());
        assert!(!flag(&c, "missing", false).unwrap());
        assert!(flag(&c, "empty", true).unwrap());
        assert_eq!(
            flag(&c, "bad", true).unwrap_err().code,
            "invalid_configuration"
        );
    }

    #[test]
    fn a_problem_shows_the_variable_and_the_fix_never_the_value() {
        let c = MapConfig::new(&[("rate", "sk-secret-looking")]);
        let err = int(&c, "rate", 1, 0, 10).unwrap_err();
        let p = Problem::of(&err.to_string()).unwrap();
        assert_eq!(p.variable, "rate");
        assert_eq!(p.expected, "an integer from 0 to 10");
        assert!(!format!("{p:?}").contains("sk-secret"));
        let no_value = "invalid_configuration: variable `x` must be a path starting with /";
        assert_eq!(
            Problem::of(no_value).unwrap().expected,
            "a path starting with /"
        );
        assert_eq!(Problem::of("database_busy: try again"), None);
        let tricky = MapConfig::new(&[("rate", "a; it is `b")]);
        let err = int(&tricky, "rate", 1, 0, 10).unwrap_err().to_string();
        assert_eq!(
            Problem::of(&err).unwrap().expected,
            "an integer from 0 to 10"
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
