//! Time in workflow configurations: five-field cron schedules (UTC) for
//! schedule triggers, and durations for delays.

/// The longest delay.
pub const MAX_DELAY_MS: i64 = 30 * 86_400_000;

/// A five-field cron schedule: minute, hour, day of month, month, day of
/// week (0 or 7 is Sunday), in UTC. Each field is `*`, a number, a range
/// `a-b`, a step `*/n` or `a-b/n`, or a comma-separated list of those.
/// When both day fields are restricted, a day matches if either does (as
/// in Vixie cron).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

fn field(text: &str, min: u32, max: u32, what: &str) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("{what}: `{s}` is not a step (a whole number above 0)")
                })?;
                (r, step)
            }
            None => (item, 1),
        };
        let num = |s: &str| -> Result<u32, String> {
            s.parse::<u32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| format!("{what}: `{s}` is not a number from {min} to {max}"))
        };
        let (lo, hi) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None if step > 1 => (num(r)?, max),
                None => {
                    let n = num(r)?;
                    (n, n)
                }
            },
        };
        if lo > hi {
            return Err(format!("{what}: the range `{range}` runs backwards"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, text != "*"))
}

impl Cron {
    /// Parse a five-field expression.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [m, h, dom, mon, dow] = parts.as_slice() else {
            return Err(format!(
                "a schedule has five fields (minute hour day-of-month month day-of-week); `{}` has {}",
                text.chars().take(60).collect::<String>(),
                parts.len()
            ));
        };
        let (minutes, _) = field(m, 0, 59, "minute")?;
        let (hours, _) = field(h, 0, 23, "hour")?;
        let (days, days_restricted) = field(dom, 1, 31, "day of month")?;
        let (months, _) = field(mon, 1, 12, "month")?;
        let (mut weekdays, weekdays_restricted) = field(dow, 0, 7, "day of week")?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted,
            weekdays_restricted,
        })
    }

    /// Whether the minute containing `ms` (Unix milliseconds) is on the
    /// schedule.
    pub fn matches(&self, ms: i64) -> bool {
        let minute_of_day = ms.div_euclid(60_000).rem_euclid(1440);
        let day_number = ms.div_euclid(86_400_000);
        let date = crate::time::date(ms);
        let (month, day) = (
            date[5..7].parse::<u32>().unwrap_or(0),
            date[8..10].parse::<u32>().unwrap_or(0),
        );
        // 1970-01-01 was a Thursday (4).
        let weekday = (day_number + 4).rem_euclid(7) as u32;
        let on = |bits: u64, v: u32| bits & (1 << v) != 0;
        let day_ok = match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => on(self.days, day) || on(self.weekdays, weekday),
            (true, false) => on(self.days, day),
            (false, true) => on(self.weekdays, weekday),
            (false, false) => true,
        };
        on(self.minutes, (minute_of_day % 60) as u32)
            && on(self.hours, (minute_of_day / 60) as u32)
            && on(self.months, month)
            && day_ok
    }

    /// The latest scheduled minute (its start, Unix ms) at or before `at`
    /// and after `after`, looking back at most `window_ms`.
    pub fn latest(&self, at: i64, after: i64, window_ms: i64) -> Option<i64> {
        let mut minute = at.div_euclid(60_000) * 60_000;
        let floor = after.max(at - window_ms);
        while minute > floor {
            if self.matches(minute) {
                return Some(minute);
            }
            minute -= 60_000;
        }
        None
    }
}

/// Parse a duration: one or more `<number><unit>` with units `s`, `m`,
/// `h`, `d` (`90s`, `1h30m`); 1 second to 30 days. Milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "`{}` is not a duration like 90s, 15m, 2h, 1d or 1h30m",
            t.chars().take(40).collect::<String>()
        )
    };
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            if digits.len() > 9 {
                return Err(bad());
            }
            continue;
        }
        let unit = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    if !(1_000..=MAX_DELAY_MS).contains(&total) {
        return Err(format!(
            "a delay is 1 second to 30 days; `{t}` is {} seconds",
            total / 1000
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-05T09:00:00Z, a Monday.
    const MON_0900: i64 = 1_767_603_600_000;

    #[test]
    fn schedules_match_minutes_in_utc() {
        assert_eq!(crate::time::rfc3339(MON_0900), "2026-01-05T09:00:00.000Z");
        let weekdays_9 = Cron::parse("0 9 * * 1-5").unwrap();
        assert!(weekdays_9.matches(MON_0900));
        assert!(weekdays_9.matches(MON_0900 + 59_999));
        assert!(!weekdays_9.matches(MON_0900 + 60_000));
        assert!(!weekdays_9.matches(MON_0900 - 86_400_000), "Sunday");
        let every_15 = Cron::parse("*/15 * * * *").unwrap();
        assert!(every_15.matches(MON_0900 + 15 * 60_000));
        assert!(!every_15.matches(MON_0900 + 16 * 60_000));
        let sunday = Cron::parse("0 0 * * 7").unwrap();
        assert!(sunday.matches(MON_0900 - 9 * 3_600_000 - 86_400_000));
        // Both day fields restricted: either matches (the 5th, or a Monday).
        let either = Cron::parse("0 9 1 * 1").unwrap();
        assert!(either.matches(MON_0900));
        let lists = Cron::parse("0,30 8-10/2 1-31 1,6 *").unwrap();
        assert!(
            lists.matches(MON_0900 - 3_600_000 + 30 * 60_000),
            "08:30 in January"
        );
        assert!(!lists.matches(MON_0900), "09:00 is not in 8-10/2");
    }

    #[test]
    fn the_latest_due_minute_is_found_within_the_window() {
        let c = Cron::parse("0 9 * * *").unwrap();
        assert_eq!(c.latest(MON_0900 + 30_000, 0, 3_600_000), Some(MON_0900));
        assert_eq!(
            c.latest(MON_0900 + 50 * 60_000, 0, 3_600_000),
            Some(MON_0900)
        );
        assert_eq!(c.latest(MON_0900 + 61 * 60_000, 0, 3_600_000), None);
        assert_eq!(
            c.latest(MON_0900 + 60_000, MON_0900, 3_600_000),
            None,
            "only after `after`"
        );
    }

    #[test]
    fn malformed_schedules_say_why() {
        for (text, want) in [
            ("* * * *", "five fields"),
            ("60 * * * *", "minute"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day of month"),
            ("* * * 13 *", "month"),
            ("* * * * 8", "day of week"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "backwards"),
            ("a * * * *", "minute"),
        ] {
            let e = Cron::parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn durations_parse_with_bounds() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("1d"), Ok(86_400_000));
        for bad in ["", "5", "1x", "m", "0s", "31d", "99999999999s", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
