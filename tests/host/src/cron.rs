//! Cron expressions as the trigger-cron plugin takes them: six fields,
//! seconds first (`sec min hour day-of-month month day-of-week`), an
//! optional seventh field for the year, evaluated in UTC.
//!
//! Each field takes `*`, `?` (same as `*`), numbers, ranges `a-b`, steps
//! `*/n`, `a/n` and `a-b/n`, and comma lists; months and weekdays also take
//! three-letter names (`JAN`, `MON`). Weekdays are 0-7 with both 0 and 7
//! meaning Sunday. When both day-of-month and day-of-week are restricted a
//! day matches if either does (the Vixie cron rule).

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    /// Allowed values, as a bit set over 0..=max (years: offset from 1970).
    allowed: Vec<bool>,
    /// The field was `*` or `?`.
    any: bool,
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    source: String,
    seconds: Field,
    minutes: Field,
    hours: Field,
    days: Field,
    months: Field,
    weekdays: Field,
    years: Option<Field>,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(s: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> Result<u32> {
    let upper = s.to_ascii_uppercase();
    if let Some(i) = names.iter().position(|n| *n == upper) {
        return Ok(i as u32 + name_base);
    }
    let v: u32 = s
        .parse()
        .with_context(|| format!("{s:?} is not a number"))?;
    if v < min || v > max {
        bail!("{v} is outside {min}-{max}");
    }
    Ok(v)
}

fn field(spec: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> Result<Field> {
    let mut allowed = vec![false; max as usize + 1];
    let any = spec == "*" || spec == "?";
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().with_context(|| format!("bad step {s:?}"))?;
                if step == 0 {
                    bail!("a step of 0 in {part:?}");
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, min, max, names, name_base)?,
                value(b, min, max, names, name_base)?,
            )
        } else {
            let v = value(range, min, max, names, name_base)?;
            // `a/n` means from a to the end, every n.
            (v, if part.contains('/') { max } else { v })
        };
        if lo > hi {
            bail!("range {range:?} runs backwards");
        }
        let mut v = lo;
        while v <= hi {
            allowed[v as usize] = true;
            v += step;
        }
    }
    Ok(Field { allowed, any })
}

impl Field {
    fn has(&self, v: u32) -> bool {
        self.allowed.get(v as usize).copied().unwrap_or(false)
    }
}

/// A UTC civil time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year.
    pub year: i64,
    /// 1-12.
    pub month: u32,
    /// 1-31.
    pub day: u32,
    /// 0-23.
    pub hour: u32,
    /// 0-59.
    pub minute: u32,
    /// 0-59.
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
}

/// Unix seconds to UTC civil time (Howard Hinnant's algorithm).
pub fn civil(unix: i64) -> Civil {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (secs / 3600) as u32,
        minute: (secs % 3600 / 60) as u32,
        second: (secs % 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

impl Schedule {
    /// Parse a 6- or 7-field expression.
    pub fn parse(expr: &str) -> Result<Schedule> {
        let f: Vec<&str> = expr.split_whitespace().collect();
        if f.len() != 6 && f.len() != 7 {
            bail!(
                "expected 6 fields (sec min hour day month weekday) or 7 (with year), got {}",
                f.len()
            );
        }
        let mut weekdays = field(f[5], 0, 7, &WEEKDAYS, 0).context("day-of-week")?;
        if weekdays.allowed[7] {
            weekdays.allowed[0] = true;
        }
        Ok(Schedule {
            source: expr.to_string(),
            seconds: field(f[0], 0, 59, &[], 0).context("seconds")?,
            minutes: field(f[1], 0, 59, &[], 0).context("minutes")?,
            hours: field(f[2], 0, 23, &[], 0).context("hours")?,
            days: field(f[3], 1, 31, &[], 0).context("day-of-month")?,
            months: field(f[4], 1, 12, &MONTHS, 1).context("month")?,
            weekdays,
            years: match f.get(6) {
                Some(y) => Some(field(&offset_years(y)?, 0, 1130, &[], 0).context("year")?),
                None => None,
            },
        })
    }

    /// Whether the schedule fires at the second `unix` (UTC).
    pub fn matches(&self, unix: i64) -> bool {
        let c = civil(unix);
        let day_ok = match (self.days.any, self.weekdays.any) {
            (true, true) => true,
            (false, true) => self.days.has(c.day),
            (true, false) => self.weekdays.has(c.weekday),
            (false, false) => self.days.has(c.day) || self.weekdays.has(c.weekday),
        };
        self.seconds.has(c.second)
            && self.minutes.has(c.minute)
            && self.hours.has(c.hour)
            && self.months.has(c.month)
            && day_ok
            && self
                .years
                .as_ref()
                .is_none_or(|y| (1970..=3100).contains(&c.year) && y.has((c.year - 1970) as u32))
    }

    /// The first second strictly after `unix` at which it fires, looking at
    /// most `horizon_secs` ahead (a bounded search).
    pub fn next_after(&self, unix: i64, horizon_secs: i64) -> Option<i64> {
        let mut t = unix + 1;
        let end = unix + horizon_secs;
        while t <= end {
            let c = civil(t);
            // Skip whole minutes / hours that cannot match, to keep this cheap.
            if !self.hours.has(c.hour) {
                t += 3600 - i64::from(c.minute) * 60 - i64::from(c.second);
                continue;
            }
            if !self.minutes.has(c.minute) {
                t += 60 - i64::from(c.second);
                continue;
            }
            if self.matches(t) {
                return Some(t);
            }
            t += 1;
        }
        None
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Years are stored as offsets from 1970 so the bit set stays small.
fn offset_years(spec: &str) -> Result<String> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let conv = |y: &str| -> Result<String> {
            let y: i64 = y.parse().with_context(|| format!("bad year {y:?}"))?;
            if !(1970..=3100).contains(&y) {
                bail!("year {y} is outside 1970-3100");
            }
            Ok((y - 1970).to_string())
        };
        let range = if range == "*" || range == "?" {
            range.to_string()
        } else if let Some((a, b)) = range.split_once('-') {
            format!("{}-{}", conv(a)?, conv(b)?)
        } else {
            conv(range)?
        };
        out.push(match step {
            Some(s) => format!("{range}/{s}"),
            None => range,
        });
    }
    Ok(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-02-29T12:34:56Z, a Thursday.
    const T: i64 = 1_709_210_096;

    #[test]
    fn civil_time() {
        let c = civil(T);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.second, c.weekday),
            (2024, 2, 29, 12, 34, 56, 4)
        );
        assert_eq!(civil(0).weekday, 4);
        assert_eq!(civil(-1).year, 1969);
    }

    #[test]
    fn every_minute_at_second_zero() {
        let s = Schedule::parse("0 * * * * *").unwrap();
        assert!(!s.matches(T));
        assert!(s.matches(T - 56));
        assert_eq!(s.next_after(T, 3600), Some(T + 4));
        assert_eq!(s.next_after(T + 4, 3600), Some(T + 64));
    }

    #[test]
    fn fields_ranges_steps_lists_names() {
        let s = Schedule::parse("*/15 30-35 12 * FEB THU").unwrap();
        assert!(s.matches(T - 56 + 45)); // 12:34:45
        assert!(!s.matches(T)); // second 56
        let s = Schedule::parse("56 34 12 29 2 ?").unwrap();
        assert!(s.matches(T));
        let s = Schedule::parse("56 34 12 1,15 * 4").unwrap();
        assert!(
            s.matches(T),
            "day-of-week matches although day-of-month does not"
        );
        let s = Schedule::parse("56 34 12 * * 7").unwrap();
        assert!(!s.matches(T));
        assert!(s.matches(T + 3 * 86_400)); // Sunday
        let s = Schedule::parse("56 34 12 * * * 2024").unwrap();
        assert!(s.matches(T));
        assert!(!s.matches(T + 366 * 86_400));
        let s = Schedule::parse("5/20 * * * * *").unwrap();
        assert!(s.matches(T - 56 + 45) && s.matches(T - 56 + 5) && !s.matches(T));
    }

    #[test]
    fn rejects_bad_expressions() {
        for bad in [
            "* * * * *",
            "60 * * * * *",
            "* * 24 * * *",
            "* * * 0 * *",
            "* * * * 13 *",
            "*/0 * * * * *",
            "5-1 * * * * *",
            "x * * * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_after_is_bounded() {
        let s = Schedule::parse("0 0 0 1 1 * 2030").unwrap();
        assert_eq!(s.next_after(T, 86_400), None);
    }
}
