//! Templates: text with `{{ path }}` placeholders (the condition
//! language's paths: `{{trigger.email}}`, `{{nodes.draft.text}}`,
//! `{{nodes["lookup-1"].body.name}}`). Parsed and their paths checked at
//! save; rendered when a step is queued, escaped for where the text goes
//! (a URL, a JSON body, plain text). A value is text as is, a number or
//! boolean as written, `null` or a missing path as nothing, a list or an
//! object as JSON.

use super::expr::{self, Expr, Path};
use serde_json::Value;

/// The largest rendered text, in bytes: a template that would grow past it
/// (a large output inserted many times) fails the step instead.
pub const MAX_RENDERED_BYTES: usize = 1024 * 1024;

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// A placeholder.
    Path(Path),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Its pieces, in order.
    pub parts: Vec<Part>,
}

/// How inserted values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As they are (messages, prompts, file contents).
    Plain,
    /// For inside a JSON document: strings JSON-escaped (without their
    /// quotes, so `"{{x}}"` stays one string), other values as JSON.
    Json,
    /// Percent-encoded for a URL's path or query.
    Url,
    /// For a header value: no line breaks.
    Header,
}

/// Parse `src`; an error says what is wrong and where.
pub fn parse(src: &str) -> Result<Template, String> {
    let mut parts = Vec::new();
    let mut rest = src;
    let mut offset = 0usize;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!(
                "the placeholder at character {} is not closed with `}}}}`",
                offset + start + 1
            ));
        };
        let inner = &after[..end];
        match expr::parse(inner) {
            Ok(Expr::Path(p)) => parts.push(Part::Path(p)),
            _ => {
                return Err(format!(
                    "the placeholder `{{{{{}}}}}` at character {} must hold a path like trigger.email or nodes.draft.text",
                    inner.trim(),
                    offset + start + 1
                ))
            }
        }
        let consumed = start + 2 + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(Template { parts })
}

impl Template {
    /// The paths it reads.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.parts.iter().filter_map(|p| match p {
            Part::Path(p) => Some(p),
            Part::Text(_) => None,
        })
    }

    /// The literal text before the first placeholder.
    pub fn literal_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Text(t)) => t,
            _ => "",
        }
    }

    /// The text with every placeholder replaced by its value in `data`.
    pub fn render(&self, data: &Value, escape: Escape) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Path(p) => {
                    let v = expr::eval::lookup(data, p);
                    out.push_str(&escaped(v, escape));
                }
            }
            if out.len() > MAX_RENDERED_BYTES {
                return Err(format!(
                    "the text would be larger than {MAX_RENDERED_BYTES} bytes once its placeholders are filled"
                ));
            }
        }
        Ok(out)
    }
}

/// A value as text (see the module's rules).
pub fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn escaped(v: &Value, escape: Escape) -> String {
    match escape {
        Escape::Plain => text_of(v),
        Escape::Json => match v {
            Value::String(s) => {
                let quoted = Value::String(s.clone()).to_string();
                quoted[1..quoted.len() - 1].to_string()
            }
            Value::Null => "null".to_string(),
            other => other.to_string(),
        },
        Escape::Url => crate::ports::form_encode(&text_of(v)),
        Escape::Header => text_of(v)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    }
}

/// Render `src` (already validated at save) over `data`.
pub fn render(src: &str, data: &Value, escape: Escape) -> Result<String, String> {
    parse(src)?.render(data, escape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({"trigger": {"email": "a+b@x.io", "name": "Ann \"A\"", "n": 3, "f": 2.0, "o": {"k": [1]}},
               "nodes": {"draft": {"text": "Hello"}}})
    }

    #[test]
    fn placeholders_are_filled_and_escaped_for_their_place() {
        let t = parse("Hi {{trigger.name}}: {{ nodes.draft.text }} ({{trigger.n}}, {{trigger.f}}, {{trigger.o}}){{trigger.none}}").unwrap();
        assert_eq!(
            t.render(&data(), Escape::Plain).unwrap(),
            "Hi Ann \"A\": Hello (3, 2, {\"k\":[1]})"
        );
        let j = parse(r#"{"name": "{{trigger.name}}", "o": {{trigger.o}}, "x": {{trigger.none}}}"#)
            .unwrap()
            .render(&data(), Escape::Json)
            .unwrap();
        let parsed: Value = serde_json::from_str(&j).unwrap();
        assert_eq!(parsed["name"], "Ann \"A\"");
        assert_eq!(parsed["o"]["k"][0], 1);
        let u = parse("https://x.io/l?e={{trigger.email}}").unwrap();
        assert_eq!(u.literal_prefix(), "https://x.io/l?e=");
        assert_eq!(
            u.render(&data(), Escape::Url).unwrap(),
            "https://x.io/l?e=a%2Bb%40x.io"
        );
        let h = parse("{{trigger.name}}").unwrap();
        let data = json!({"trigger": {"name": "a\r\nX-Evil: 1"}});
        assert!(!h.render(&data, Escape::Header).unwrap().contains('\n'));
    }

    #[test]
    fn malformed_placeholders_are_refused_with_their_place() {
        assert!(parse("a {{trigger.x").unwrap_err().contains("not closed"));
        assert!(parse("{{ 1 + 2 }}")
            .unwrap_err()
            .contains("must hold a path"));
        assert!(parse("{{trigger.x == 1}}")
            .unwrap_err()
            .contains("must hold a path"));
        assert_eq!(parse("no placeholders").unwrap().paths().count(), 0);
        assert_eq!(parse("").unwrap().parts.len(), 0);
    }

    #[test]
    fn rendering_is_bounded() {
        let big = json!({"trigger": {"x": "y".repeat(600_000)}});
        let t = parse("{{trigger.x}}{{trigger.x}}").unwrap();
        assert!(t.render(&big, Escape::Plain).is_err());
    }
}
