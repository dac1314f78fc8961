//! The condition language: a small, safe expression language over the
//! data of a run (the trigger's data and earlier nodes' outputs).
//!
//! ```text
//! nodes.draft.score >= 80 and not (trigger.plan == "free")
//! trigger.subject contains "refund" or trigger.tags contains "urgent"
//! trigger.country in ["DE", "AT", "CH"] and nodes["lookup-1"].status == 200
//! ```
//!
//! - Values: numbers (`80`, `-2.5`, `1e3`), strings (`"x"` or `'x'`, with
//!   `\\`, `\"`, `\'`, `\n`, `\t` escapes), `true`, `false`, `null`, and
//!   lists of them (`["a", "b"]`).
//! - Paths: `trigger.…`, `nodes.<id>.…`, `run.…`, `workflow.…`; segments
//!   are names (`a.b`), quoted keys (`nodes["my-node"]`) or indexes (`[0]`).
//! - Operators, loosest first: `or`, `and`, `not`, then one comparison:
//!   `==`, `!=`, `<`, `<=`, `>`, `>=`, `contains`, `starts_with`,
//!   `ends_with`, `in`. No arithmetic, no functions, no regular
//!   expressions, no code execution: evaluation is one walk of the tree.
//!
//! Pipeline: [`lexer`] → [`parser`] (bounded: [`MAX_SOURCE_BYTES`],
//! [`MAX_TOKENS`], [`MAX_DEPTH`]) → [`check`] (types, against the shape of
//! the data the workflow's graph guarantees, at save) → [`eval`] (over the
//! run's data; `and`/`or` short-circuit, so `x != null and x > 3` is safe).
//! Every stage returns an error with a position, never panics (property
//! tests feed it arbitrary input).

pub mod check;
pub mod eval;
pub mod lexer;
pub mod parser;

pub use check::{check, PathTypes, Type};
pub use eval::{eval, EvalError};
pub use parser::{parse, Cmp, Expr, ParseError, Path, Seg};

/// The longest expression accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 2000;
/// The most tokens an expression may have.
pub const MAX_TOKENS: usize = 400;
/// The deepest nesting (parentheses, `not`, lists) accepted.
pub const MAX_DEPTH: usize = 32;
/// The longest string literal, in characters.
pub const MAX_STRING_CHARS: usize = 1000;
/// The most elements in a list literal.
pub const MAX_LIST_ITEMS: usize = 100;
/// The most segments in a path.
pub const MAX_PATH_SEGMENTS: usize = 16;

/// Parse and type-check `source` against `types`: the expression, or a
/// message saying what is wrong and where.
pub fn compile(source: &str, types: &dyn PathTypes) -> Result<Expr, String> {
    let expr = parse(source).map_err(|e| e.to_string())?;
    check(&expr, types).map_err(|e| e.to_string())?;
    Ok(expr)
}

#[cfg(test)]
mod tests;
