//! Types, checked at save: an expression must be a yes-or-no question,
//! every path must name data the run will have, and no operator may be
//! applied to values it cannot compare. Data whose shape is not known in
//! advance (a webhook's payload) is `Any` and checked when the run
//! evaluates it.

use super::parser::{Cmp, Expr, Lit, Path};
use std::fmt;

/// The type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// Text.
    String,
    /// `null`.
    Null,
    /// A list.
    List,
    /// An object (a path may go further into it).
    Object,
    /// Not known before the run.
    Any,
}

impl Type {
    /// As people read it.
    pub fn name(self) -> &'static str {
        match self {
            Type::Bool => "a boolean",
            Type::Number => "a number",
            Type::String => "a string",
            Type::Null => "null",
            Type::List => "a list",
            Type::Object => "an object",
            Type::Any => "a value of any type",
        }
    }

    fn of(l: &Lit) -> Type {
        match l {
            Lit::Number(_) => Type::Number,
            Lit::Str(_) => Type::String,
            Lit::Bool(_) => Type::Bool,
            Lit::Null => Type::Null,
        }
    }

    fn is(self, want: Type) -> bool {
        self == want || self == Type::Any
    }
}

/// What a path refers to, as far as is known before the run.
pub trait PathTypes {
    /// The type of `path`, or why no run can have it (an unknown node, a
    /// node that does not run before this one, a field a node never has).
    fn type_of(&self, path: &Path) -> Result<Type, String>;
}

/// A type error and where it is (byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    /// Byte offset in the source.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

fn err(at: usize, message: impl Into<String>) -> CheckError {
    CheckError {
        at,
        message: message.into(),
    }
}

/// Check `e`: it must be a boolean (or of a type only the run can tell).
pub fn check(e: &Expr, types: &dyn PathTypes) -> Result<Type, CheckError> {
    let t = type_of(e, types)?;
    if t.is(Type::Bool) {
        Ok(Type::Bool)
    } else {
        Err(err(
            e.at(),
            format!(
                "a condition must be true or false, but this is {}; compare it (`==`, `>`, `contains`, …)",
                t.name()
            ),
        ))
    }
}

fn boolean(e: &Expr, types: &dyn PathTypes, what: &str) -> Result<(), CheckError> {
    let t = type_of(e, types)?;
    if t.is(Type::Bool) {
        Ok(())
    } else {
        Err(err(
            e.at(),
            format!("`{what}` takes true or false, but this is {}", t.name()),
        ))
    }
}

fn type_of(e: &Expr, types: &dyn PathTypes) -> Result<Type, CheckError> {
    match e {
        Expr::Lit(l, _) => Ok(Type::of(l)),
        Expr::List(..) => Ok(Type::List),
        Expr::Path(p) => types.type_of(p).map_err(|m| err(p.at, m)),
        Expr::Not(inner, _) => {
            boolean(inner, types, "not")?;
            Ok(Type::Bool)
        }
        Expr::And(a, b) => {
            boolean(a, types, "and")?;
            boolean(b, types, "and")?;
            Ok(Type::Bool)
        }
        Expr::Or(a, b) => {
            boolean(a, types, "or")?;
            boolean(b, types, "or")?;
            Ok(Type::Bool)
        }
        Expr::Cmp(op, a, b, at) => {
            let (ta, tb) = (type_of(a, types)?, type_of(b, types)?);
            comparison(*op, ta, tb, *at)?;
            Ok(Type::Bool)
        }
    }
}

fn comparison(op: Cmp, a: Type, b: Type, at: usize) -> Result<(), CheckError> {
    let known = |t: Type| t != Type::Any;
    let refuse = |why: &str| {
        Err(err(
            at,
            format!(
                "`{}` cannot compare {} with {}{why}",
                op.as_str(),
                a.name(),
                b.name()
            ),
        ))
    };
    match op {
        Cmp::Eq | Cmp::Ne => {
            // Equality across different known types is always false: a
            // mistake, not a question (null compares with anything).
            if known(a) && known(b) && a != b && a != Type::Null && b != Type::Null {
                return refuse(" (they are never equal)");
            }
            Ok(())
        }
        Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge => {
            let ordered = |t: Type| matches!(t, Type::Number | Type::String | Type::Any);
            if !ordered(a) || !ordered(b) {
                return refuse(" (only numbers and strings are ordered)");
            }
            if known(a) && known(b) && a != b {
                return refuse("");
            }
            Ok(())
        }
        Cmp::Contains => match a {
            Type::String if b.is(Type::String) => Ok(()),
            Type::String => refuse(" (a string contains strings)"),
            Type::List | Type::Any => Ok(()),
            _ => refuse(" (`contains` looks into a string or a list)"),
        },
        Cmp::StartsWith | Cmp::EndsWith => {
            if a.is(Type::String) && b.is(Type::String) {
                Ok(())
            } else {
                refuse(" (it compares strings)")
            }
        }
        Cmp::In => {
            if !b.is(Type::List) {
                return refuse(" (the right of `in` is a list)");
            }
            if matches!(a, Type::List | Type::Object) {
                return refuse(" (the left of `in` is a single value)");
            }
            Ok(())
        }
    }
}
