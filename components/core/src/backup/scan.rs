//! Splitting a dump into statements.
//!
//! Verification must count the `INSERT` statements of a dump, and a dump
//! holds text that users wrote: a job brief may well contain a newline
//! followed by `INSERT INTO "jobs" VALUES(`. Counting lines would be fooled;
//! this splitter is not, because it reads the text as [`super::dump`]
//! writes it. It only needs to know that format, not all of SQL:
//!
//! - A statement ends at a `;` that is not inside a string (`'…'`), a
//!   quoted identifier (`"…"`, `[…]`, `` `…` ``) or a comment (`-- …` to
//!   the end of the line, `/* … */`). A doubled quote inside a string
//!   (`'it''s'`) reads as two strings side by side, which ends and starts
//!   them in the same places, so escapes need no rule of their own.
//! - A trigger (`CREATE [TEMP|TEMPORARY] TRIGGER … BEGIN …; …; END;`) holds
//!   statements of its own. It ends at the first `;` whose clause (the text
//!   since the previous `;`) is the single word `END`: that is the trigger's
//!   closing `END`, while a `CASE … END;` inside the body ends a clause of
//!   other words. `TRIGGER` counts only in that position after `CREATE`,
//!   so a column named `trigger` changes nothing.
//!
//! Words are compared case-insensitively. The splitter is fed bytes as
//! they are decompressed, so verifying holds the compressed file and one
//! block of text, never the whole dump. Each statement is reported by its
//! first [`PREFIX_MAX`] bytes, enough to tell what it is.

/// How many bytes of each statement (and of the text before the first one)
/// are kept.
pub const PREFIX_MAX: usize = 4096;

/// Decompressed bytes examined per step.
const GZIP_BLOCK: usize = 64 * 1024;

/// The longest word the splitter has to recognise (`temporary`).
const WORD_MAX: usize = 9;

/// Where the lexer is between two bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Between tokens.
    Code,
    /// Inside an unquoted word (keyword, identifier or number).
    Word,
    /// Inside a string or quoted identifier that ends at this byte.
    Quoted(u8),
    /// After a `-`: a line comment if another `-` follows.
    Dash,
    /// After a `/`: a block comment if `*` follows.
    Slash,
    /// Inside a `--` comment.
    LineComment,
    /// Inside a `/* */` comment; `star` when the last byte was `*`.
    BlockComment { star: bool },
}

/// What the first words of the current statement make it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Head {
    /// No word yet.
    Empty,
    /// `CREATE`.
    Create,
    /// `CREATE TEMP` or `CREATE TEMPORARY`.
    CreateTemp,
    /// `CREATE [TEMP] TRIGGER`: inner `;` do not end it.
    Trigger,
    /// Anything else: the next `;` ends it.
    Plain,
}

/// The tokens since the last `;` of the current statement.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clause {
    Empty,
    /// Only the word `END`.
    End,
    Other,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// A dump's statements, one block of text at a time.
pub struct Splitter {
    lex: Lex,
    /// The current word, lowercased, up to [`WORD_MAX`] bytes.
    word: [u8; WORD_MAX],
    /// The current word's full length (may exceed [`WORD_MAX`]).
    word_len: usize,
    /// Whether a statement has begun and not yet ended.
    open: bool,
    /// The current statement's first bytes.
    statement: Vec<u8>,
    head: Head,
    clause: Clause,
    /// The text before the first statement (the header).
    preamble: Vec<u8>,
    /// Whether the first statement has begun (the preamble is complete).
    started: bool,
    /// How many bytes of each statement are kept.
    limit: usize,
}

impl Default for Splitter {
    fn default() -> Self {
        Splitter {
            lex: Lex::Code,
            word: [0; WORD_MAX],
            word_len: 0,
            open: false,
            statement: Vec::new(),
            head: Head::Empty,
            clause: Clause::Empty,
            preamble: Vec::new(),
            started: false,
            limit: PREFIX_MAX,
        }
    }
}

impl Splitter {
    /// A splitter that keeps up to `limit` bytes of each statement (a
    /// restore needs whole statements; verifying only their start).
    pub fn keeping(limit: usize) -> Self {
        Splitter {
            limit: limit.max(PREFIX_MAX),
            ..Splitter::default()
        }
    }

    /// The text before the first statement (at most [`PREFIX_MAX`] bytes).
    pub fn preamble(&self) -> &[u8] {
        &self.preamble
    }

    /// Feed the next bytes; `on_statement` gets the prefix of each
    /// statement that ends in them (its `;` included when it fits).
    pub fn feed(&mut self, bytes: &[u8], on_statement: &mut impl FnMut(&[u8])) {
        for &b in bytes {
            self.byte(b, on_statement);
        }
    }

    /// Gunzip `gz` a block at a time into [`Splitter::feed`]; the size of
    /// the text. Memory holds one block of text, never the whole dump.
    pub fn feed_gzip(
        &mut self,
        gz: &[u8],
        on_statement: &mut impl FnMut(&[u8]),
    ) -> Result<i64, String> {
        let mut decoder = flate2::read::GzDecoder::new(gz);
        let mut block = vec![0u8; GZIP_BLOCK];
        let mut raw_bytes = 0i64;
        loop {
            let n = std::io::Read::read(&mut decoder, &mut block)
                .map_err(|e| format!("gunzip failed: {e}"))?;
            if n == 0 {
                return Ok(raw_bytes);
            }
            raw_bytes += n as i64;
            self.feed(&block[..n], on_statement);
        }
    }

    /// The end of the text: `Err` with the reason when it stops inside a
    /// statement, string or comment.
    pub fn finish(mut self) -> Result<(), String> {
        match self.lex {
            Lex::Word => self.end_word(),
            // A lone `-` or `/` at the very end is an operator.
            Lex::Dash | Lex::Slash => self.token(),
            Lex::Quoted(_) => return Err("the dump ends inside a quoted string".into()),
            Lex::BlockComment { .. } => return Err("the dump ends inside a comment".into()),
            Lex::Code | Lex::LineComment => {}
        }
        match (self.open, self.head) {
            (true, Head::Trigger) => Err("the dump ends inside a trigger".into()),
            (true, _) => Err("the dump ends inside a statement".into()),
            (false, _) => Ok(()),
        }
    }

    fn byte(&mut self, b: u8, on_statement: &mut impl FnMut(&[u8])) {
        match self.lex {
            Lex::Code => {}
            Lex::Word if is_word_byte(b) => {
                if self.word_len < WORD_MAX {
                    self.word[self.word_len] = b.to_ascii_lowercase();
                }
                self.word_len += 1;
                self.keep(b);
                return;
            }
            Lex::Word => self.end_word(),
            Lex::Quoted(close) => {
                self.keep(b);
                if b == close {
                    self.lex = Lex::Code;
                }
                return;
            }
            Lex::LineComment => {
                self.keep(b);
                if b == b'\n' {
                    self.lex = Lex::Code;
                }
                return;
            }
            Lex::BlockComment { star } => {
                self.keep(b);
                self.lex = if star && b == b'/' {
                    Lex::Code
                } else {
                    Lex::BlockComment { star: b == b'*' }
                };
                return;
            }
            // The held `-` or `/` is kept only now that we know whether it
            // opens a comment (part of whatever surrounds it) or is an
            // operator (a token, which may start a statement).
            Lex::Dash | Lex::Slash => {
                let (held, second, comment) = match self.lex {
                    Lex::Dash => (b'-', b'-', Lex::LineComment),
                    _ => (b'/', b'*', Lex::BlockComment { star: false }),
                };
                if b == second {
                    self.keep(held);
                    self.keep(b);
                    self.lex = comment;
                    return;
                }
                self.lex = Lex::Code;
                self.token();
                self.keep(held);
            }
        }
        self.code(b, on_statement);
    }

    /// A byte between tokens.
    fn code(&mut self, b: u8, on_statement: &mut impl FnMut(&[u8])) {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => self.keep(b),
            b';' => self.semicolon(on_statement),
            b'-' => self.lex = Lex::Dash,
            b'/' => self.lex = Lex::Slash,
            b'\'' | b'"' | b'`' | b'[' => {
                self.token();
                self.keep(b);
                self.lex = Lex::Quoted(if b == b'[' { b']' } else { b });
            }
            _ if is_word_byte(b) => {
                self.begin();
                self.keep(b);
                self.word[0] = b.to_ascii_lowercase();
                self.word_len = 1;
                self.lex = Lex::Word;
            }
            _ => {
                self.token();
                self.keep(b);
            }
        }
    }

    /// A `;` outside strings and comments: the end of the statement, unless
    /// it only ends a clause inside a trigger body.
    fn semicolon(&mut self, on_statement: &mut impl FnMut(&[u8])) {
        self.keep(b';');
        if !self.open {
            return; // an empty statement
        }
        if self.head == Head::Trigger && self.clause != Clause::End {
            self.clause = Clause::Empty;
            return;
        }
        on_statement(&self.statement);
        self.open = false;
    }

    /// A token starts: the first one opens a statement.
    fn begin(&mut self) {
        if !self.open {
            self.open = true;
            self.started = true;
            self.statement.clear();
            self.head = Head::Empty;
            self.clause = Clause::Empty;
        }
    }

    /// A token other than a word starts.
    fn token(&mut self) {
        self.begin();
        self.clause = Clause::Other;
    }

    fn end_word(&mut self) {
        self.lex = Lex::Code;
        // A word longer than any we look for matches none of them.
        let word: &[u8] = self.word.get(..self.word_len).unwrap_or_default();
        self.head = match (self.head, word) {
            (Head::Empty, b"create") => Head::Create,
            (Head::Create, b"temp" | b"temporary") => Head::CreateTemp,
            (Head::Create | Head::CreateTemp, b"trigger") | (Head::Trigger, _) => Head::Trigger,
            _ => Head::Plain,
        };
        self.clause = match (self.clause, word) {
            (Clause::Empty, b"end") => Clause::End,
            _ => Clause::Other,
        };
    }

    /// Keep `b` in the current statement's prefix, or in the preamble
    /// before the first statement.
    fn keep(&mut self, b: u8) {
        let limit = if self.open { self.limit } else { PREFIX_MAX };
        let kept = if self.open {
            &mut self.statement
        } else if !self.started {
            &mut self.preamble
        } else {
            return;
        };
        if kept.len() < limit {
            kept.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Split = (Vec<String>, String, Result<(), String>);

    /// Split `text`, feeding it in pieces of `step` bytes.
    fn split_by(text: &str, step: usize) -> Split {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        let mut push = |stmt: &[u8]| out.push(String::from_utf8_lossy(stmt).into_owned());
        for piece in text.as_bytes().chunks(step) {
            s.feed(piece, &mut push);
        }
        let preamble = String::from_utf8_lossy(s.preamble()).into_owned();
        (out, preamble, s.finish())
    }

    /// Split `text` fed in pieces of every size from 1 byte to all of it,
    /// checking that every way of cutting it gives the same answer.
    fn split(text: &str) -> Split {
        let whole = split_by(text, text.len().max(1));
        for step in 1..text.len() {
            assert_eq!(split_by(text, step), whole, "{text:?} in pieces of {step}");
        }
        whole
    }

    #[test]
    fn statements_end_at_semicolons_outside_strings_and_comments() {
        let text = "-- head: 1\n-- more\nPRAGMA a=1;\nINSERT INTO \"t\" VALUES('x;\nINSERT INTO \"t\" VALUES(1);','-- no');\n/* c; */ SELECT 1 - 2 / 3 -- x;\n;\n;;COMMIT;\n";
        let (stmts, preamble, end) = split(text);
        assert_eq!(end, Ok(()));
        assert_eq!(preamble, "-- head: 1\n-- more\n");
        assert_eq!(
            stmts,
            vec![
                "PRAGMA a=1;",
                "INSERT INTO \"t\" VALUES('x;\nINSERT INTO \"t\" VALUES(1);','-- no');",
                "SELECT 1 - 2 / 3 -- x;\n;",
                "COMMIT;"
            ]
        );
    }

    #[test]
    fn text_that_looks_like_rows_is_not_counted() {
        let text = "INSERT INTO \"jobs\" VALUES(1,'Line one\nINSERT INTO \"jobs\" VALUES(''forged'');\nCOMMIT;');\nINSERT INTO \"jobs\" VALUES(2,'/* -- ''');\nCOMMIT;\n";
        let (stmts, _, end) = split(text);
        assert_eq!(end, Ok(()));
        assert_eq!(stmts.len(), 3, "{stmts:?}");
        assert!(stmts[0].starts_with("INSERT INTO \"jobs\" VALUES(1,'Line one\n"));
        assert!(stmts[0].ends_with("COMMIT;');"));
        assert_eq!(stmts[1], "INSERT INTO \"jobs\" VALUES(2,'/* -- ''');");
        assert_eq!(stmts[2], "COMMIT;");
    }

    #[test]
    fn a_trigger_body_is_part_of_one_statement() {
        let text = "CREATE TRIGGER x AFTER INSERT ON t BEGIN\n  INSERT INTO \"u\" VALUES(1, 'END;');\n  UPDATE u SET n = CASE WHEN 1 THEN 2 END;\n  -- END;\n  SELECT \"end\"; /* END; */\nEND;\nCREATE TEMP TRIGGER y AFTER DELETE ON t BEGIN DELETE FROM u; end;INSERT INTO \"t\" VALUES(2);\ncreate temporary trigger z before update on t begin select 1; End -- done\n;";
        let (stmts, _, end) = split(text);
        assert_eq!(end, Ok(()));
        assert_eq!(stmts.len(), 4, "{stmts:?}");
        assert!(stmts[0].starts_with("CREATE TRIGGER x") && stmts[0].ends_with("*/\nEND;"));
        assert_eq!(
            stmts[1],
            "CREATE TEMP TRIGGER y AFTER DELETE ON t BEGIN DELETE FROM u; end;"
        );
        assert_eq!(stmts[2], "INSERT INTO \"t\" VALUES(2);");
        assert!(stmts[3].starts_with("create temporary trigger z"));
    }

    #[test]
    fn the_word_trigger_elsewhere_is_an_ordinary_word() {
        let text = "CREATE TABLE t (trigger TEXT, [end] INT);\nINSERT INTO \"t\" VALUES('a', 1);\nCREATE INDEX trigger ON t (trigger);\nCREATE VIEW v AS SELECT trigger FROM t;\nCOMMIT;";
        let (stmts, _, end) = split(text);
        assert_eq!(end, Ok(()));
        assert_eq!(stmts.len(), 5, "{stmts:?}");
    }

    #[test]
    fn quoted_identifiers_of_every_kind_are_single_tokens() {
        let (stmts, _, end) = split("SELECT \"a;b\", [c;d], `e;f`, 'g''h;', \"i\"\";\", `j``;`;");
        assert_eq!(end, Ok(()));
        assert_eq!(
            stmts,
            vec!["SELECT \"a;b\", [c;d], `e;f`, 'g''h;', \"i\"\";\", `j``;`;"]
        );
    }

    #[test]
    fn an_unfinished_dump_is_reported() {
        for text in [
            "COMMIT",
            "INSERT INTO \"t\" VALUES('abc",
            "SELECT [a",
            "COMMIT; /* never closed",
            "COMMIT; /* never closed *",
            "CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1;",
            "CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END",
            "COMMIT;\n-",
            "COMMIT;\n/",
        ] {
            assert!(split(text).2.is_err(), "{text:?}");
        }
        assert_eq!(
            split("CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1;").2,
            Err("the dump ends inside a trigger".into())
        );
        assert_eq!(split("COMMIT;\n-- trailing comment").2, Ok(()));
        assert_eq!(split("COMMIT;\n/* trailing comment */\n").2, Ok(()));
        assert_eq!(split("").2, Ok(()));
    }

    #[test]
    fn long_statements_are_reported_by_their_prefix() {
        let text = format!(
            "{}\nINSERT INTO \"t\" VALUES('{}');\nCOMMIT;",
            "-- x".repeat(2000),
            "x".repeat(10_000)
        );
        for step in [1, 100, 4096, 5000, text.len()] {
            let (stmts, preamble, end) = split_by(&text, step);
            assert_eq!(end, Ok(()));
            assert_eq!(preamble.len(), PREFIX_MAX);
            assert_eq!(stmts.len(), 2);
            assert_eq!(stmts[0].len(), PREFIX_MAX);
            assert!(stmts[0].starts_with("INSERT INTO \"t\" VALUES('xxx"));
            assert_eq!(stmts[1], "COMMIT;");
        }
    }
}
