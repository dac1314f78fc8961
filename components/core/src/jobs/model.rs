//! The job's vocabulary, parsed at the edge: a request becomes a [`NewJob`]
//! of validated parts, so the queue never sees an unchecked string.

use crate::error::{Error, Result};
use serde::Serialize;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $code:literal, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $(#[allow(missing_docs)] $variant),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// As stored and served.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parse, or 422 with the accepted values.
            pub fn parse(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::unprocessable(
                        $code,
                        format!(concat!("unknown ", $what, " `{}`; expected one of: {}"), s,
                            [$($text),+].join(", ")),
                    )),
                }
            }
        }
    };
}

string_enum!(
    /// What kind of work a job is.
    JobType, "invalid_type", "job type", {
    AiTask => "ai_task",
    ReportGen => "report_gen",
    DataSync => "data_sync",
});

string_enum!(
    /// Where a job came from.
    Source, "invalid_source", "source", {
    Api => "api",
    Partner => "partner",
    Notion => "notion",
    Workflow => "workflow",
    Operator => "operator",
});

string_enum!(
    /// Where a job is in its life.
    Status, "invalid_status", "status", {
    Queued => "queued",
    Processing => "processing",
    Completed => "completed",
    Failed => "failed",
    Dead => "dead",
    Cancelled => "cancelled",
});

string_enum!(
    /// Scheduling priority: critical before high before normal before low.
    Priority, "invalid_priority", "priority", {
    Critical => "critical",
    High => "high",
    Normal => "normal",
    Low => "low",
});

impl Priority {
    /// As stored: 0 (critical) to 3 (low), so ascending order is priority order.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }

    /// From the stored rank.
    pub fn from_rank(rank: i64) -> Self {
        match rank {
            0 => Priority::Critical,
            1 => Priority::High,
            3 => Priority::Low,
            _ => Priority::Normal,
        }
    }
}

impl Status {
    /// Whether the job will not run again unless an operator retries it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Failed | Status::Dead | Status::Cancelled
        )
    }
}

/// The longest brief accepted, in characters.
pub const MAX_BRIEF_CHARS: usize = 10_000;
/// The longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// A brief: 1 to 10,000 characters of text after trimming, no control
/// characters other than newlines and tabs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Brief(String);

impl Brief {
    /// Parse a brief.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::unprocessable(
                "invalid_brief",
                "the brief is empty; describe the work to do",
            ));
        }
        let n = t.chars().count();
        if n > MAX_BRIEF_CHARS {
            return Err(Error::unprocessable(
                "invalid_brief",
                format!("the brief has {n} characters; the limit is {MAX_BRIEF_CHARS}"),
            ));
        }
        if t.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err(Error::unprocessable(
                "invalid_brief",
                "the brief contains control characters",
            ));
        }
        Ok(Brief(t.to_string()))
    }
    /// As text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An optional title: up to 200 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    /// Parse a title.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > MAX_TITLE_CHARS || t.chars().any(char::is_control) {
            return Err(Error::unprocessable(
                "invalid_title",
                format!("a title is 1 to {MAX_TITLE_CHARS} characters on one line"),
            ));
        }
        Ok(Title(t.to_string()))
    }
    /// As text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address: `local@domain.tld`, at most 254 characters, stored in
/// lower case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parse an email address.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || {
            Error::unprocessable(
                "invalid_email",
                format!(
                    "`{}` is not an email address",
                    s.chars().take(80).collect::<String>()
                ),
            )
        };
        let t = s.trim().to_ascii_lowercase();
        if t.len() > 254 || !t.is_ascii() {
            return Err(bad());
        }
        let (local, domain) = t.split_once('@').ok_or_else(bad)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(Email(t))
        } else {
            Err(bad())
        }
    }
    /// As text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A job to create: every part already validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewJob {
    /// What kind of work.
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// Scheduling priority.
    pub priority: Priority,
    /// Where it came from.
    pub source: Source,
    /// The work to do.
    pub brief: Brief,
    /// A short name.
    pub title: Option<Title>,
    /// Who asked (for history and notifications).
    pub email: Option<Email>,
    /// Not before this time (Unix ms); `None` for now.
    pub run_at: Option<i64>,
    /// Tries before the job is dead.
    pub max_attempts: Option<i64>,
    /// A reference in the source system (a Notion page id).
    pub external_ref: Option<String>,
    /// Extra structured context given with the brief.
    pub context: Option<serde_json::Value>,
}

impl NewJob {
    /// A job with defaults: normal priority, from the API, no extras.
    pub fn new(job_type: JobType, brief: Brief) -> Self {
        NewJob {
            job_type,
            priority: Priority::Normal,
            source: Source::Api,
            brief,
            title: None,
            email: None,
            run_at: None,
            max_attempts: None,
            external_ref: None,
            context: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_refuse_unknown_values() {
        for t in JobType::ALL {
            assert_eq!(JobType::parse(t.as_str()).unwrap(), *t);
        }
        let e = JobType::parse("mining").unwrap_err();
        assert_eq!((e.status(), e.code), (422, "invalid_type"));
        assert!(e.message.contains("ai_task"));
        assert_eq!(
            Priority::parse("urgent").unwrap_err().code,
            "invalid_priority"
        );
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), *p);
        }
    }

    #[test]
    fn briefs_are_bounded() {
        assert_eq!(
            Brief::parse("  write a haiku \n").unwrap().as_str(),
            "write a haiku"
        );
        assert_eq!(Brief::parse("   ").unwrap_err().code, "invalid_brief");
        assert!(Brief::parse(&"x".repeat(MAX_BRIEF_CHARS)).is_ok());
        assert!(Brief::parse(&"x".repeat(MAX_BRIEF_CHARS + 1)).is_err());
        assert!(Brief::parse("a\u{0}b").is_err());
        assert!(Title::parse("two\nlines").is_err());
    }

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(
            Email::parse(" Ann.Lee+x@Example.co.uk ").unwrap().as_str(),
            "ann.lee+x@example.co.uk"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "ann@x",
            "ann@@x.com",
            "a b@x.com",
            "ann@x.c",
            "ann@-x.com",
            ".a@x.com",
            "a..b@x.com",
            "ann@x.com\u{0}",
            "ünï@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }
}
