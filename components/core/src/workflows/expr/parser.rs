//! Tokens to a tree, by recursive descent with a depth bound.
//!
//! ```text
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | cmp
//! cmp     := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "contains"
//!                      | "starts_with" | "ends_with" | "in") operand)?
//! operand := number | string | "true" | "false" | "null"
//!          | "[" (literal ("," literal)*)? "]" | path | "(" or ")"
//! path    := name ("." name | "[" string "]" | "[" integer "]")*
//! ```

use super::lexer::{lex, Tok, Token};
use super::{MAX_DEPTH, MAX_LIST_ITEMS, MAX_PATH_SEGMENTS};
use std::fmt;

/// A syntax error and where it is (byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the source.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// A finite number.
    Number(f64),
    /// A string.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A key of an object (`a.key` or `a["key"]`).
    Key(String),
    /// An index into a list (`a[0]`).
    Index(usize),
}

/// A path into the run's data: `trigger.email`, `nodes.draft.score`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// Its segments; the first is the root (`trigger`, `nodes`, ...).
    pub segs: Vec<Seg>,
    /// Where it starts.
    pub at: usize,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segs.iter().enumerate() {
            match s {
                Seg::Key(k) if is_plain_name(k) && !(i == 0 && is_keyword(k)) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Key(k) => write!(f, "[{}]", quoted(k))?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `contains` (a substring, or a list element)
    Contains,
    /// `starts_with`
    StartsWith,
    /// `ends_with`
    EndsWith,
    /// `in` (an element of a list)
    In,
}

impl Cmp {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Contains => "contains",
            Cmp::StartsWith => "starts_with",
            Cmp::EndsWith => "ends_with",
            Cmp::In => "in",
        }
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal, and where it is.
    Lit(Lit, usize),
    /// A list literal, and where it starts.
    List(Vec<Lit>, usize),
    /// A path into the run's data.
    Path(Path),
    /// `not e`, and where `not` is.
    Not(Box<Expr>, usize),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
    /// `a <op> b`, and where the operator is.
    Cmp(Cmp, Box<Expr>, Box<Expr>, usize),
}

impl Expr {
    /// Where this expression starts (byte offset).
    pub fn at(&self) -> usize {
        match self {
            Expr::Lit(_, at) | Expr::List(_, at) | Expr::Not(_, at) => *at,
            Expr::Path(p) => p.at,
            Expr::And(a, _) | Expr::Or(a, _) | Expr::Cmp(_, a, _, _) => a.at(),
        }
    }

    /// Every path the expression reads.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        match self {
            Expr::Path(p) => out.push(p),
            Expr::Not(e, _) => e.collect_paths(out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b, _) => {
                a.collect_paths(out);
                b.collect_paths(out);
            }
            Expr::Lit(..) | Expr::List(..) => {}
        }
    }
}

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "true",
    "false",
    "null",
    "contains",
    "starts_with",
    "ends_with",
    "in",
];

fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

fn is_plain_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Number(n) => write!(f, "{n}"),
            Lit::Str(s) => f.write_str(&quoted(s)),
            Lit::Bool(b) => write!(f, "{b}"),
            Lit::Null => f.write_str("null"),
        }
    }
}

/// The canonical text: every compound operand in parentheses, so the text
/// parses back to the same tree.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let atom = |e: &Expr| matches!(e, Expr::Lit(..) | Expr::List(..) | Expr::Path(_));
        let part = |e: &Expr| {
            if atom(e) {
                e.to_string()
            } else {
                format!("({e})")
            }
        };
        match self {
            Expr::Lit(l, _) => write!(f, "{l}"),
            Expr::List(items, _) => {
                let items: Vec<String> = items.iter().map(|l| l.to_string()).collect();
                write!(f, "[{}]", items.join(", "))
            }
            Expr::Path(p) => write!(f, "{p}"),
            Expr::Not(e, _) => write!(f, "not {}", part(e)),
            Expr::And(a, b) => write!(f, "{} and {}", part(a), part(b)),
            Expr::Or(a, b) => write!(f, "{} or {}", part(a), part(b)),
            Expr::Cmp(op, a, b, _) => write!(f, "{} {} {}", part(a), op.as_str(), part(b)),
        }
    }
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    end: usize,
}

fn err(at: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        at,
        message: message.into(),
    }
}

/// Parse `source` into an expression.
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let toks = lex(source)?;
    if toks.is_empty() {
        return Err(err(0, "the expression is empty"));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        end: source.len(),
    };
    let e = p.or()?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(err(
            t.at,
            format!(
                "unexpected {} after a complete expression",
                describe(&t.tok)
            ),
        )),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Number(n) => format!("number {n}"),
        Tok::Str(_) => "string".into(),
        Tok::Name(n) => format!("`{n}`"),
        Tok::Dot => "`.`".into(),
        Tok::Comma => "`,`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::Eq => "`==`".into(),
        Tok::Ne => "`!=`".into(),
        Tok::Lt => "`<`".into(),
        Tok::Le => "`<=`".into(),
        Tok::Gt => "`>`".into(),
        Tok::Ge => "`>=`".into(),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn here(&self) -> usize {
        self.peek().map(|t| t.at).unwrap_or(self.end)
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Name(n), .. }) if n == name)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn deeper(&mut self, at: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                at,
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.and()?;
        while self.is_name("or") {
            self.next();
            let rhs = self.and()?;
            e = Expr::Or(Box::new(e), Box::new(rhs));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.not()?;
        while self.is_name("and") {
            self.next();
            let rhs = self.not()?;
            e = Expr::And(Box::new(e), Box::new(rhs));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.is_name("not") {
            let at = self.here();
            self.next();
            self.deeper(at)?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner), at));
        }
        self.cmp()
    }

    fn cmp_op(&self) -> Option<Cmp> {
        Some(match &self.peek()?.tok {
            Tok::Eq => Cmp::Eq,
            Tok::Ne => Cmp::Ne,
            Tok::Lt => Cmp::Lt,
            Tok::Le => Cmp::Le,
            Tok::Gt => Cmp::Gt,
            Tok::Ge => Cmp::Ge,
            Tok::Name(n) => match n.as_str() {
                "contains" => Cmp::Contains,
                "starts_with" => Cmp::StartsWith,
                "ends_with" => Cmp::EndsWith,
                "in" => Cmp::In,
                _ => return None,
            },
            _ => return None,
        })
    }

    fn cmp(&mut self) -> Result<Expr, ParseError> {
        let lhs = self.operand()?;
        let Some(op) = self.cmp_op() else {
            return Ok(lhs);
        };
        let at = self.here();
        self.next();
        let rhs = self.operand()?;
        if self.cmp_op().is_some() {
            return Err(err(
                self.here(),
                "comparisons do not chain; join them with `and`",
            ));
        }
        Ok(Expr::Cmp(op, Box::new(lhs), Box::new(rhs), at))
    }

    fn operand(&mut self) -> Result<Expr, ParseError> {
        let at = self.here();
        let Some(t) = self.next() else {
            return Err(err(at, "the expression ends where a value was expected"));
        };
        match t.tok {
            Tok::LParen => {
                self.deeper(at)?;
                let e = self.or()?;
                self.depth -= 1;
                match self.next() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => Ok(e),
                    _ => Err(err(at, "this `(` is not closed")),
                }
            }
            Tok::LBracket => self.list(at),
            Tok::Name(n) if is_keyword(&n) => match self.literal_keyword(&n) {
                Some(l) => Ok(Expr::Lit(l, at)),
                None => Err(err(
                    at,
                    format!("`{n}` is an operator; a value was expected"),
                )),
            },
            Tok::Name(n) => self.path(n, at),
            tok => match literal(tok.clone()) {
                Some(l) => Ok(Expr::Lit(l, at)),
                None => Err(err(
                    at,
                    format!("unexpected {}; a value was expected", describe(&tok)),
                )),
            },
        }
    }

    fn literal_keyword(&self, n: &str) -> Option<Lit> {
        match n {
            "true" => Some(Lit::Bool(true)),
            "false" => Some(Lit::Bool(false)),
            "null" => Some(Lit::Null),
            _ => None,
        }
    }

    fn list(&mut self, at: usize) -> Result<Expr, ParseError> {
        let mut items = Vec::new();
        if matches!(
            self.peek(),
            Some(Token {
                tok: Tok::RBracket,
                ..
            })
        ) {
            self.next();
            return Ok(Expr::List(items, at));
        }
        loop {
            let item_at = self.here();
            let item = match self.next().map(|t| t.tok) {
                Some(Tok::Name(n)) => self.literal_keyword(&n),
                Some(tok) => literal(tok),
                None => None,
            };
            let Some(item) = item else {
                return Err(err(
                    item_at,
                    "a list holds literal values (numbers, strings, true, false, null)",
                ));
            };
            items.push(item);
            if items.len() > MAX_LIST_ITEMS {
                return Err(err(
                    at,
                    format!("a list holds at most {MAX_LIST_ITEMS} values"),
                ));
            }
            match self.next().map(|t| t.tok) {
                Some(Tok::Comma) => continue,
                Some(Tok::RBracket) => return Ok(Expr::List(items, at)),
                _ => return Err(err(at, "this `[` is not closed (separate values with `,`)")),
            }
        }
    }

    fn path(&mut self, root: String, at: usize) -> Result<Expr, ParseError> {
        let mut segs = vec![Seg::Key(root)];
        loop {
            match self.peek().map(|t| &t.tok) {
                Some(Tok::Dot) => {
                    self.next();
                    let seg_at = self.here();
                    match self.next().map(|t| t.tok) {
                        Some(Tok::Name(n)) => segs.push(Seg::Key(n)),
                        _ => return Err(err(seg_at, "a name must follow `.`")),
                    }
                }
                Some(Tok::LBracket) => {
                    let open = self.here();
                    self.next();
                    let seg = match self.next().map(|t| t.tok) {
                        Some(Tok::Str(s)) => Seg::Key(s),
                        Some(Tok::Number(n)) if n >= 0.0 && n.fract() == 0.0 && n < 1e9 => {
                            Seg::Index(n as usize)
                        }
                        _ => {
                            return Err(err(
                                open,
                                "`[` in a path takes a quoted key or a whole number",
                            ))
                        }
                    };
                    match self.next().map(|t| t.tok) {
                        Some(Tok::RBracket) => segs.push(seg),
                        _ => return Err(err(open, "this `[` is not closed")),
                    }
                }
                _ => break,
            }
            if segs.len() > MAX_PATH_SEGMENTS {
                return Err(err(
                    at,
                    format!("a path has at most {MAX_PATH_SEGMENTS} segments"),
                ));
            }
        }
        Ok(Expr::Path(Path { segs, at }))
    }
}

fn literal(tok: Tok) -> Option<Lit> {
    match tok {
        Tok::Number(n) => Some(Lit::Number(n)),
        Tok::Str(s) => Some(Lit::Str(s)),
        _ => None,
    }
}
