//! Spin's variable templates: literal text with `{{ name }}` expressions
//! (the same splitting rules as Spin's `spin-expressions`).

use anyhow::{bail, Result};
use std::collections::HashMap;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// A variable name (trimmed).
    Expr(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parse `text`; an unmatched `{{` is an error, as in Spin.
    pub fn parse(text: &str) -> Result<Template> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("{{") {
                let Some((expr, tail)) = after.split_once("}}") else {
                    bail!("invalid variable template: unmatched '{{{{' in template");
                };
                parts.push(Part::Expr(expr.trim().to_string()));
                rest = tail;
            } else if let Some(i) = rest.find("{{") {
                parts.push(Part::Lit(rest[..i].to_string()));
                rest = &rest[i..];
            } else {
                parts.push(Part::Lit(rest.to_string()));
                rest = "";
            }
        }
        Ok(Template { parts })
    }

    /// True when the template has no expression.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The variable names it uses.
    pub fn expressions(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e.as_str()),
            Part::Lit(_) => None,
        })
    }

    /// The parts.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }
}

/// Resolve `t` with `values`; a missing value is an error naming it.
pub fn resolve(t: &Template, values: &HashMap<String, String>) -> Result<String> {
    let mut out = String::new();
    for p in t.parts() {
        match p {
            Part::Lit(l) => out.push_str(l),
            Part::Expr(e) => match values.get(e) {
                Some(v) => out.push_str(v),
                None => bail!("no provider resolved required variable {e:?}"),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_spin() {
        let t = Template::parse("a-{{ x }}-b{{y}}").unwrap();
        assert_eq!(
            t.parts(),
            &[
                Part::Lit("a-".into()),
                Part::Expr("x".into()),
                Part::Lit("-b".into()),
                Part::Expr("y".into())
            ]
        );
        assert!(Template::parse("{{ ok }} {{ unmatched").is_err());
        assert!(Template::parse("plain").unwrap().is_literal());
        assert!(Template::parse("").unwrap().parts().is_empty());
    }

    #[test]
    fn resolves() {
        let t = Template::parse("https://{{ host }}").unwrap();
        let mut v = HashMap::new();
        assert!(resolve(&t, &v).is_err());
        v.insert("host".to_string(), "api.example.com".to_string());
        assert_eq!(resolve(&t, &v).unwrap(), "https://api.example.com");
    }
}
