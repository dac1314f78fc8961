//! UTC time as RFC 3339 text, from and to Unix milliseconds.
//!
//! Small and exact (Howard Hinnant's civil-date algorithms), so no date
//! library is linked into every component.

use crate::error::{Error, Result};

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `ms` since the epoch as RFC 3339 UTC with milliseconds:
/// `2026-11-22T04:35:28.123Z`.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// The UTC date (`YYYY-MM-DD`) of `ms`.
pub fn date(ms: i64) -> String {
    rfc3339(ms)[..10].to_string()
}

/// One UTC day, in ms.
pub const DAY_MS: i64 = 86_400_000;

/// The UTC day number of `ms` (days since 1970-01-01).
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// The UTC day number of a `YYYY-MM-DD` date; `None` for anything else.
pub fn parse_day(text: &str) -> Option<i64> {
    if text.len() != 10 {
        return None;
    }
    parse_rfc3339(&format!("{text}T00:00:00Z")).ok().map(day_of)
}

fn digits(s: &str, what: &str) -> Result<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::bad_request(
            "invalid_timestamp",
            format!("{what} is not a number"),
        ));
    }
    s.parse::<i64>()
        .map_err(|_| Error::bad_request("invalid_timestamp", format!("{what} is out of range")))
}

/// Parse an RFC 3339 timestamp (`Z` or `±HH:MM` offset, optional fraction)
/// into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Result<i64> {
    let bad = || {
        Error::bad_request(
            "invalid_timestamp",
            format!("`{s}` is not an RFC 3339 timestamp"),
        )
    };
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let y = digits(&s[0..4], "year")?;
    let mo = digits(&s[5..7], "month")?;
    let d = digits(&s[8..10], "day")?;
    let h = digits(&s[11..13], "hour")?;
    let mi = digits(&s[14..16], "minute")?;
    let se = digits(&s[17..19], "second")?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err(bad());
        }
        let mut ms_digits = frac[..n.min(3)].to_string();
        while ms_digits.len() < 3 {
            ms_digits.push('0');
        }
        millis = digits(&ms_digits, "fraction")?;
        rest = &frac[n..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":" =>
        {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let oh = digits(&rest[1..3], "offset hours")?;
            let om = digits(&rest[4..6], "offset minutes")?;
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            sign * (oh * 3600 + om * 60)
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(y, mo, d);
    if civil_from_days(days) != (y, mo, d) {
        return Err(bad());
    }
    let secs = days * 86_400 + h * 3600 + mi * 60 + se.min(59) - offset_secs;
    Ok(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_and_number_from_the_epoch() {
        assert_eq!(parse_day("1970-01-02"), Some(1));
        assert_eq!(
            parse_day("2026-11-22"),
            Some(day_of(parse_rfc3339("2026-11-22T13:00:00Z").unwrap()))
        );
        for bad in [
            "2026-11-2",
            "2026-13-01",
            "2026-11-22T00:00:00Z",
            "",
            "yesterday",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        assert_eq!(day_of(-1), -1);
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(date(1_700_000_000_123), "2023-11-14");
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for ms in [0, 1_700_000_000_123, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)).unwrap(), ms);
        }
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20+01:00").unwrap(),
            1_700_000_000_000
        );
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "",
            "2023-11-14",
            "2023-13-01T00:00:00Z",
            "2023-02-30T00:00:00Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20+1:00",
            "20x3-11-14T22:13:20Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
