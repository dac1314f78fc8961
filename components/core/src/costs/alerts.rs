//! Cost incidents (source `costs`): WARNING when a cap is 90 % used,
//! CRITICAL when it is reached. The message names only the cap
//! (`daily cost cap reached: gpt-4o`) so that raises about one cap and
//! level share a fingerprint; the figures go into `links`.
//!
//! **One incident per cap, level and UTC day.** A raise within the
//! incidents' one-hour dedup window counts as a repeat of the open
//! incident (the worker raises every tick while it throttles, so a live
//! breach stays within it). A breach whose incident is still unresolved but
//! was last seen longer ago is left alone: the hourly check does not page
//! again every hour for a cap that is known to be reached today. A new UTC
//! day (new caps), or an incident resolved while the cap is still reached,
//! raises a new one.

use super::spend::DAY_MS;
use super::status::{CapUsage, Level};
use crate::error::Result;
use crate::incidents::store::DEDUP_WINDOW_MS;
use crate::incidents::{self, NewIncident, Severity};
use crate::ports::Env;

/// The incidents' source.
pub const SOURCE: &str = "costs";

/// The severity and the stable message for `usage` at its level (`None`
/// under 90 %).
pub fn message(usage: &CapUsage) -> Option<(Severity, String)> {
    match usage.level() {
        Level::Ok => None,
        Level::Warning => Some((
            Severity::Warning,
            format!("daily cost cap at 90%: {}", usage.name()),
        )),
        Level::Critical => Some((
            Severity::Critical,
            format!("daily cost cap reached: {}", usage.name()),
        )),
    }
}

/// What [`raise`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// Under 90 %: nothing to raise.
    None,
    /// A new incident.
    Raised,
    /// A repeat of the open incident, counted on it.
    Repeated,
    /// Today's incident is still unresolved, last seen over an hour ago:
    /// left alone.
    StillOpen,
}

impl Alert {
    /// For run summaries.
    pub fn describe(self) -> &'static str {
        match self {
            Alert::None => "",
            Alert::Raised => " (incident raised)",
            Alert::Repeated => " (incident repeated)",
            Alert::StillOpen => " (today's incident still open)",
        }
    }
}

/// Raise the incident of `usage` on UTC day `day` at its level (see the
/// module's rules).
pub fn raise(env: &Env, usage: &CapUsage, day: i64) -> Result<Alert> {
    let Some((severity, message)) = message(usage) else {
        return Ok(Alert::None);
    };
    let fingerprint = incidents::fingerprint(severity, SOURCE, &message);
    let last_seen = incidents::last_seen_unresolved(env, &fingerprint, day * DAY_MS)?;
    if last_seen.is_some_and(|t| t <= env.clock.now_ms() - DEDUP_WINDOW_MS) {
        return Ok(Alert::StillOpen);
    }
    let raised = incidents::raise(
        env,
        NewIncident {
            severity,
            source: SOURCE.into(),
            message,
            links: usage.links(day),
        },
    )?;
    Ok(if raised.repeat {
        Alert::Repeated
    } else {
        Alert::Raised
    })
}
