//! The little XML S3 answers with: the text of named elements in
//! `ListBucketResult` and `Error` bodies. S3's answers are flat and never
//! use CDATA, attributes on these elements or nesting of one name in
//! itself, so finding `<Name>…</Name>` pairs in order is a complete
//! reading of them; entities are decoded.

/// The decoded text of every `<name>…</name>` in `xml`, in order.
pub fn all(xml: &str, name: &str) -> Vec<String> {
    blocks(xml, name).into_iter().map(unescape).collect()
}

/// The decoded text of the first `<name>…</name>` in `xml`.
pub fn first(xml: &str, name: &str) -> Option<String> {
    blocks(xml, name).into_iter().next().map(unescape)
}

/// The raw inner text of every `<name>…</name>` (an empty `<name/>` too).
pub fn blocks<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}>");
    let empty = format!("<{name}/>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = xml;
    loop {
        let at_open = rest.find(&open);
        let at_empty = rest.find(&empty);
        let open_first = match (at_open, at_empty) {
            (None, None) => return out,
            (Some(o), Some(e)) => o < e,
            (o, _) => o.is_some(),
        };
        if open_first {
            let o = at_open.unwrap_or_default();
            let inner = &rest[o + open.len()..];
            let Some(end) = inner.find(&close) else {
                return out;
            };
            out.push(&inner[..end]);
            rest = &inner[end + close.len()..];
        } else {
            let e = at_empty.unwrap_or_default();
            out.push("");
            rest = &rest[e + empty.len()..];
        }
    }
}

/// `text` with XML's five named entities and numeric references decoded.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';').filter(|&s| s <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let entity = &after[..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_in_order_and_decodes_entities() {
        let xml = "<R><Key>a&amp;b</Key><Key/><Key>&#x41;&#66;&lt;</Key><Other>x</Other></R>";
        assert_eq!(all(xml, "Key"), vec!["a&b", "", "AB<"]);
        assert_eq!(first(xml, "Other").as_deref(), Some("x"));
        assert_eq!(first(xml, "Missing"), None);
        assert_eq!(unescape("fish & chips &bogus; &"), "fish & chips &bogus; &");
    }
}
