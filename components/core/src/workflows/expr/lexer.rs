//! Text to tokens. Every token knows its byte offset, for error messages.

use super::parser::ParseError;
use super::{MAX_SOURCE_BYTES, MAX_STRING_CHARS, MAX_TOKENS};

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A number literal.
    Number(f64),
    /// A string literal (escapes resolved).
    Str(String),
    /// A name: a path segment or a keyword.
    Name(String),
    /// `.`
    Dot,
    /// `,`
    Comma,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
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
}

/// A token and where it starts (byte offset).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its byte offset in the source.
    pub at: usize,
}

fn err(at: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        at,
        message: message.into(),
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Split `source` into tokens.
pub fn lex(source: &str) -> Result<Vec<Token>, ParseError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(err(
            0,
            format!(
                "the expression has {} bytes; the limit is {MAX_SOURCE_BYTES}",
                source.len()
            ),
        ));
    }
    let chars: Vec<(usize, char)> = source.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if out.len() >= MAX_TOKENS {
            return Err(err(
                chars[i].0,
                format!("the expression has more than {MAX_TOKENS} tokens"),
            ));
        }
        let (at, c) = chars[i];
        let next = chars.get(i + 1).map(|(_, c)| *c);
        let (tok, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '.' if !next.is_some_and(|n| n.is_ascii_digit()) => (Tok::Dot, 1),
            ',' => (Tok::Comma, 1),
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            '=' if next == Some('=') => (Tok::Eq, 2),
            '!' if next == Some('=') => (Tok::Ne, 2),
            '<' if next == Some('=') => (Tok::Le, 2),
            '>' if next == Some('=') => (Tok::Ge, 2),
            '<' => (Tok::Lt, 1),
            '>' => (Tok::Gt, 1),
            '=' => return Err(err(at, "`=` is not an operator; compare with `==`")),
            '&' | '|' | '!' => {
                return Err(err(
                    at,
                    format!("`{c}` is not an operator; use `and`, `or` and `not`"),
                ))
            }
            '"' | '\'' => {
                let (s, len) = string(&chars, i)?;
                out.push(Token {
                    tok: Tok::Str(s),
                    at,
                });
                i += len;
                continue;
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let (n, len) = number(&chars, i)?;
                out.push(Token {
                    tok: Tok::Number(n),
                    at,
                });
                i += len;
                continue;
            }
            c if is_name_start(c) => {
                let len = chars[i..]
                    .iter()
                    .take_while(|(_, c)| is_name_char(*c))
                    .count();
                let name: String = chars[i..i + len].iter().map(|(_, c)| c).collect();
                (Tok::Name(name), len)
            }
            other => {
                return Err(err(
                    at,
                    format!(
                        "unexpected character {:?}",
                        other.escape_debug().to_string()
                    ),
                ))
            }
        };
        out.push(Token { tok, at });
        i += len;
    }
    Ok(out)
}

/// A quoted string starting at `chars[start]`: its value and how many
/// characters it spans.
fn string(chars: &[(usize, char)], start: usize) -> Result<(String, usize), ParseError> {
    let (at, quote) = chars[start];
    let mut value = String::new();
    let mut count = 0usize;
    let mut i = start + 1;
    loop {
        let Some(&(pos, c)) = chars.get(i) else {
            return Err(err(at, "this string is not closed"));
        };
        let c = match c {
            c if c == quote => return Ok((value, i + 1 - start)),
            '\\' => {
                i += 1;
                match chars.get(i).map(|(_, c)| *c) {
                    Some('\\') => '\\',
                    Some('"') => '"',
                    Some('\'') => '\'',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some(other) => {
                        return Err(err(
                            pos,
                            format!(
                                "unknown escape `\\{}`; use \\\\, \\\", \\', \\n or \\t",
                                other.escape_debug()
                            ),
                        ))
                    }
                    None => return Err(err(at, "this string is not closed")),
                }
            }
            c if c.is_control() => {
                return Err(err(
                    pos,
                    "a string may not contain control characters; use \\n or \\t",
                ))
            }
            c => c,
        };
        count += 1;
        if count > MAX_STRING_CHARS {
            return Err(err(
                at,
                format!("a string literal is at most {MAX_STRING_CHARS} characters"),
            ));
        }
        value.push(c);
        i += 1;
    }
}

/// A number starting at `chars[start]`: `-`? digits (`.` digits)?
/// (`e` `-`? digits)?, finite.
fn number(chars: &[(usize, char)], start: usize) -> Result<(f64, usize), ParseError> {
    let at = chars[start].0;
    let mut i = start;
    let peek = |i: usize| chars.get(i).map(|(_, c)| *c);
    if peek(i) == Some('-') {
        i += 1;
    }
    let digits = |mut i: usize| {
        while peek(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        i
    };
    let int_end = digits(i);
    let mut end = int_end;
    if peek(end) == Some('.') {
        end = digits(end + 1);
        if end == int_end + 1 {
            return Err(err(at, "a number needs digits after its `.`"));
        }
    }
    if int_end == i && peek(i) != Some('.') {
        return Err(err(at, "`-` must be followed by a number"));
    }
    if matches!(peek(end), Some('e' | 'E')) {
        let mut e = end + 1;
        if matches!(peek(e), Some('-' | '+')) {
            e += 1;
        }
        let e_end = digits(e);
        if e_end == e {
            return Err(err(at, "a number's exponent needs digits"));
        }
        end = e_end;
    }
    if peek(end).is_some_and(is_name_char) && peek(end) != Some('-') {
        return Err(err(at, "a number runs into a name; separate them"));
    }
    let text: String = chars[start..end].iter().map(|(_, c)| c).collect();
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((n, end - start)),
        _ => Err(err(at, format!("`{text}` is not a finite number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens_and_positions() {
        assert_eq!(
            toks(r#"a.b >= -2.5e1 and "x\"y" != 'z'"#),
            vec![
                Tok::Name("a".into()),
                Tok::Dot,
                Tok::Name("b".into()),
                Tok::Ge,
                Tok::Number(-25.0),
                Tok::Name("and".into()),
                Tok::Str("x\"y".into()),
                Tok::Ne,
                Tok::Str("z".into()),
            ]
        );
        assert_eq!(lex("  x").unwrap()[0].at, 2);
        assert_eq!(
            toks("nodes[\"my-node\"].status-code"),
            vec![
                Tok::Name("nodes".into()),
                Tok::LBracket,
                Tok::Str("my-node".into()),
                Tok::RBracket,
                Tok::Dot,
                Tok::Name("status-code".into()),
            ]
        );
    }

    #[test]
    fn mistakes_get_helpful_errors() {
        for (src, want) in [
            ("a = 1", "=="),
            ("a && b", "and"),
            ("\"open", "not closed"),
            ("'\\q'", "escape"),
            ("1.", "digits after"),
            ("- x", "followed by a number"),
            ("1e", "exponent"),
            ("12abc", "runs into"),
            ("a # b", "unexpected character"),
            ("1e999", "finite"),
        ] {
            let e = lex(src).unwrap_err();
            assert!(e.message.contains(want), "{src}: {}", e.message);
        }
        assert!(lex(&"x ".repeat(MAX_TOKENS + 1)).is_err());
        assert!(lex(&"x".repeat(MAX_SOURCE_BYTES + 1)).is_err());
    }
}
