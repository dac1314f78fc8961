//! Privacy (GDPR/CCPA): what EchoPilot holds about a data subject, by
//! email, and what it does with it.
//!
//! - [`subject`]: the data subject (an email), its pseudonym, and who may
//!   act for it (tenant admins within their tenant, platform admins across,
//!   a signed-in user for their own email only);
//! - [`export`]: `GET /api/privacy/export?email=`, everything about the
//!   subject as JSON;
//! - [`erase`]: `POST /api/privacy/delete`, briefs and outputs anonymised,
//!   personal fields cleared, sessions revoked, payment records kept for
//!   the statutory period;
//! - [`consent`]: consent records (what, when, version, source), given and
//!   withdrawn, append-only;
//! - [`retention`]: the windows per kind of data and the hourly job
//!   (`cron-retention`) that enforces them in bounded batches.
//!
//! Every export, erasure and consent change is appended to the audit chain
//! with the subject's pseudonym, never the email itself: the chain cannot
//! be rewritten, so it must not hold what an erasure removes.

pub mod api;
pub mod consent;
pub mod erase;
pub mod export;
pub mod retention;
pub mod subject;

use crate::app::App;

/// The api-privacy component.
pub const APP: App = App {
    component: "api-privacy",
    routes: api::ROUTES,
    stateless: false,
};
