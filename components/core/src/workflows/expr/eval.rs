//! Evaluation over a run's data (a JSON object with `trigger`, `nodes`,
//! `run` and `workflow`). One walk of the tree: time and memory are
//! bounded by the expression's size and the data's. A path that leads
//! nowhere is `null`; an operator given values it cannot compare is an
//! error (the step fails, so a missing field never routes a run silently).

use super::parser::{Cmp, Expr, Lit, Path, Seg};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// Byte offset in the source.
    pub at: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

fn err(at: usize, message: impl Into<String>) -> EvalError {
    EvalError {
        at,
        message: message.into(),
    }
}

/// The value at `path` in `data` (`null` when it leads nowhere).
pub fn lookup<'a>(data: &'a Value, path: &Path) -> &'a Value {
    let mut v = data;
    for s in &path.segs {
        let next = match s {
            Seg::Key(k) => v.get(k.as_str()),
            Seg::Index(i) => v.get(*i),
        };
        match next {
            Some(n) => v = n,
            None => return &Value::Null,
        }
    }
    v
}

fn lit(l: &Lit) -> Value {
    match l {
        Lit::Number(n) => serde_json::Number::from_f64(*n)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Lit::Str(s) => Value::String(s.clone()),
        Lit::Bool(b) => Value::Bool(*b),
        Lit::Null => Value::Null,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Equality of JSON values, numbers by value (`1 == 1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn value<'a>(e: &Expr, data: &'a Value) -> Result<Cow<'a, Value>, EvalError> {
    Ok(match e {
        Expr::Lit(l, _) => Cow::Owned(lit(l)),
        Expr::List(items, _) => Cow::Owned(Value::Array(items.iter().map(lit).collect())),
        Expr::Path(p) => Cow::Borrowed(lookup(data, p)),
        other => Cow::Owned(Value::Bool(truth(other, data)?)),
    })
}

fn boolean(e: &Expr, data: &Value, what: &str) -> Result<bool, EvalError> {
    match value(e, data)?.as_ref() {
        Value::Bool(b) => Ok(*b),
        other => Err(err(
            e.at(),
            format!(
                "`{what}` takes true or false, but {} is {}",
                shown(e),
                kind(other)
            ),
        )),
    }
}

/// How a failing operand is named in an error: its path, or its text.
fn shown(e: &Expr) -> String {
    match e {
        Expr::Path(p) => format!("`{p}`"),
        other => format!("`{other}`"),
    }
}

fn truth(e: &Expr, data: &Value) -> Result<bool, EvalError> {
    match e {
        Expr::Not(inner, _) => Ok(!boolean(inner, data, "not")?),
        Expr::And(a, b) => Ok(boolean(a, data, "and")? && boolean(b, data, "and")?),
        Expr::Or(a, b) => Ok(boolean(a, data, "or")? || boolean(b, data, "or")?),
        Expr::Cmp(op, a, b, at) => {
            let (x, y) = (value(a, data)?, value(b, data)?);
            compare(*op, &x, &y).map_err(|why| {
                err(
                    *at,
                    format!(
                        "`{}` cannot compare {} ({}) with {} ({}){why}",
                        op.as_str(),
                        shown(a),
                        kind(&x),
                        shown(b),
                        kind(&y)
                    ),
                )
            })
        }
        other => boolean(other, data, "a condition"),
    }
}

fn compare(op: Cmp, x: &Value, y: &Value) -> Result<bool, &'static str> {
    use std::cmp::Ordering;
    let order = || -> Result<Ordering, &'static str> {
        match (x, y) {
            (Value::Number(a), Value::Number(b)) => a
                .as_f64()
                .zip(b.as_f64())
                .and_then(|(a, b)| a.partial_cmp(&b))
                .ok_or(""),
            (Value::String(a), Value::String(b)) => Ok(a.as_str().cmp(b.as_str())),
            _ => Err(" (only two numbers or two strings are ordered)"),
        }
    };
    Ok(match op {
        Cmp::Eq => same(x, y),
        Cmp::Ne => !same(x, y),
        Cmp::Lt => order()? == Ordering::Less,
        Cmp::Le => order()? != Ordering::Greater,
        Cmp::Gt => order()? == Ordering::Greater,
        Cmp::Ge => order()? != Ordering::Less,
        Cmp::Contains => match (x, y) {
            (Value::String(a), Value::String(b)) => a.contains(b.as_str()),
            (Value::Array(items), v) => items.iter().any(|i| same(i, v)),
            _ => return Err(" (`contains` looks for a string in a string, or a value in a list)"),
        },
        Cmp::StartsWith | Cmp::EndsWith => match (x, y) {
            (Value::String(a), Value::String(b)) if op == Cmp::StartsWith => {
                a.starts_with(b.as_str())
            }
            (Value::String(a), Value::String(b)) => a.ends_with(b.as_str()),
            _ => return Err(" (it compares strings)"),
        },
        Cmp::In => match y {
            Value::Array(items) => items.iter().any(|i| same(i, x)),
            _ => return Err(" (the right of `in` is a list)"),
        },
    })
}

/// Evaluate `e` over `data`: true or false, or why it cannot be told.
pub fn eval(e: &Expr, data: &Value) -> Result<bool, EvalError> {
    truth(e, data)
}
