//! Model names: providers answer with the dated snapshot they served
//! (`gpt-4o-2024-08-06`); prices, caps and pass rates are kept per family.

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `suffix` is a snapshot date: `YYYY-MM-DD`, `YYYYMMDD` or `MMDD`.
fn is_snapshot_date(suffix: &str) -> bool {
    let b = suffix.as_bytes();
    match b.len() {
        10 => {
            b[4] == b'-'
                && b[7] == b'-'
                && all_digits(&suffix[..4])
                && all_digits(&suffix[5..7])
                && all_digits(&suffix[8..])
        }
        8 | 4 => all_digits(suffix),
        _ => false,
    }
}

/// The family a model name bills under: the name without a trailing
/// snapshot date (`gpt-4o-2024-08-06` → `gpt-4o`, `gpt-4-0613` → `gpt-4`,
/// `claude-3-5-sonnet-20241022` → `claude-3-5-sonnet`); other names are
/// their own family.
pub fn family(model: &str) -> &str {
    let dated = |len: usize| {
        let cut = model.len().checked_sub(len + 1)?;
        let (head, tail) = model.split_at_checked(cut)?;
        (!head.is_empty() && tail.starts_with('-') && is_snapshot_date(&tail[1..])).then_some(head)
    };
    dated(10)
        .or_else(|| dated(8))
        .or_else(|| dated(4))
        .unwrap_or(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_bill_under_their_family() {
        assert_eq!(family("gpt-4o-2024-08-06"), "gpt-4o");
        assert_eq!(family("gpt-4o-mini-2024-07-18"), "gpt-4o-mini");
        assert_eq!(family("gpt-4-0613"), "gpt-4");
        assert_eq!(family("claude-3-5-sonnet-20241022"), "claude-3-5-sonnet");
        for same in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1-nano",
            "o4-mini",
            "simulated",
            "-2024",
            "é-12",
        ] {
            assert_eq!(family(same), same);
        }
    }
}
