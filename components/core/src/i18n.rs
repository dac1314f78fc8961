//! The API's languages: which one a caller asked for (`Accept-Language`,
//! q-values honoured) and the error messages in it.
//!
//! The messages live in one catalogue per language, `static/i18n/<lang>.json`
//! (the dashboard's strings are its `ui` section; the API's are its `errors`
//! section: one message per error code). `build.rs` embeds the `errors`
//! sections as sorted tables, so a lookup is a binary search and no JSON is
//! parsed per request. A message may name values the error carries in
//! braces (`{retry_after}`, `{allow}`); the error's specifics (which field,
//! which value) travel in the envelope's `detail`.
//!
//! `components/core/tests/error_catalogue.rs` reads the sources for every
//! code the code can produce and fails when any language lacks one.

use crate::error::Error;

mod tables {
    include!(concat!(env!("OUT_DIR"), "/i18n_errors.rs"));
}

/// A language the API answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English: the fallback.
    En,
    /// Spanish.
    Es,
    /// Urdu (written right to left).
    Ur,
}

/// At most this many `Accept-Language` entries are considered (a header
/// is client input: its cost stays bounded).
const MAX_RANGES: usize = 16;

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Es, Lang::Ur];

    /// Its language tag, as in `Content-Language` and the catalogue's file name.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Ur => "ur",
        }
    }

    /// Whether the language is written right to left.
    pub fn rtl(self) -> bool {
        self == Lang::Ur
    }

    /// The language of a tag by its primary subtag (`es-MX` is Spanish),
    /// case-insensitively; `None` for languages the API does not speak.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next().unwrap_or("").trim();
        Lang::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(primary))
    }

    /// The best language for an `Accept-Language` header: the highest
    /// q-value among the ranges the API speaks (the first on a tie), `*`
    /// standing for English; English when nothing matches, the header is
    /// absent or it is malformed. `q=0` means "not this one".
    pub fn negotiate(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::En;
        };
        let mut best: Option<(Lang, f32)> = None;
        for range in header.split(',').take(MAX_RANGES) {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let mut q = 1.0f32;
            for param in parts {
                match param.trim().split_once('=') {
                    Some((k, v)) if k.trim().eq_ignore_ascii_case("q") => {
                        q = match v.trim().parse::<f32>() {
                            Ok(q) if (0.0..=1.0).contains(&q) => q,
                            _ => 0.0,
                        };
                    }
                    _ => {}
                }
            }
            let lang = if tag == "*" {
                Some(Lang::En)
            } else {
                Lang::parse(tag)
            };
            if let Some(lang) = lang {
                if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
                    best = Some((lang, q));
                }
            }
        }
        best.map(|(l, _)| l).unwrap_or(Lang::En)
    }

    fn table(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::En => tables::EN,
            Lang::Es => tables::ES,
            Lang::Ur => tables::UR,
        }
    }
}

/// The catalogue's message for `code` in `lang`, if it has one.
pub fn message(lang: Lang, code: &str) -> Option<&'static str> {
    let table = lang.table();
    table
        .binary_search_by(|(c, _)| (*c).cmp(code))
        .ok()
        .map(|i| table[i].1)
}

/// Every code the catalogue of `lang` has a message for, sorted.
pub fn codes(lang: Lang) -> impl Iterator<Item = &'static str> {
    lang.table().iter().map(|(c, _)| *c)
}

/// The names in braces in `message` (`{retry_after}` → `retry_after`).
pub fn placeholders(message: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                names.push(&after[..close]);
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    names
}

/// `err`'s message for people who read `lang`: the catalogue's message for
/// its code with its values filled in, in `lang` or else in English; the
/// language it is in. Without a catalogue entry (a gap the catalogue test
/// reports) the error's own English words are used.
pub fn render(lang: Lang, err: &Error) -> (Lang, String) {
    let found = message(lang, err.code)
        .map(|m| (lang, m))
        .or_else(|| message(Lang::En, err.code).map(|m| (Lang::En, m)));
    let Some((lang, template)) = found else {
        return (Lang::En, err.public_message().to_string());
    };
    let mut text = template.to_string();
    for name in placeholders(template) {
        if let Some(value) = err.arg(name) {
            text = text.replace(&format!("{{{name}}}"), &value);
        }
    }
    (lang, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_spoken_range() {
        let cases = [
            (None, Lang::En),
            (Some(""), Lang::En),
            (Some("es"), Lang::Es),
            (Some("ur-PK"), Lang::Ur),
            (Some("ES-mx"), Lang::Es),
            (Some("fr-FR, es;q=0.8, en;q=0.5"), Lang::Es),
            (Some("en;q=0.4, ur;q=0.9"), Lang::Ur),
            (Some("de, fr"), Lang::En),
            (Some("es;q=0, ur;q=0.1"), Lang::Ur),
            (Some("es;q=0"), Lang::En),
            (Some("*;q=0.5, es;q=0.4"), Lang::En),
            (Some("es;q=abc, ur;q=0.2"), Lang::Ur),
            (Some("es;q=7"), Lang::En),
            (Some("ur;q=0.5, es;q=0.5"), Lang::Ur),
            (Some(";;;,,,=,q=1"), Lang::En),
        ];
        for (header, want) in cases {
            assert_eq!(Lang::negotiate(header), want, "{header:?}");
        }
    }

    #[test]
    fn a_huge_header_is_read_only_so_far() {
        let header = format!("{}ur", "de, ".repeat(10_000));
        assert_eq!(Lang::negotiate(Some(&header)), Lang::En);
    }

    #[test]
    fn placeholders_are_the_names_in_braces() {
        assert_eq!(
            placeholders("wait {retry_after} s; try {allow} {x"),
            vec!["retry_after", "allow"]
        );
        assert!(placeholders("none").is_empty());
    }

    #[test]
    fn messages_fill_in_the_error_values_and_fall_back_to_english() {
        let e = Error::rate_limited(7, "slow down");
        for lang in Lang::ALL {
            let (used, text) = render(lang, &e);
            assert_eq!(used, lang);
            assert!(
                text.contains('7') && !text.contains('{'),
                "{lang:?}: {text}"
            );
        }
        let unknown = Error::bad_request("no_such_code_anywhere", "the specifics");
        assert_eq!(
            render(Lang::Ur, &unknown),
            (Lang::En, "the specifics".to_string())
        );
    }
}
