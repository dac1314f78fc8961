//! Scheduled jobs: one core function per job, run once per schedule slot.
//!
//! A job runs from its cron component under `spin up` (the trigger-cron
//! plugin) and from `POST /api/internal/cron/{job}` on platforms without a
//! cron trigger (SpinKube with a Kubernetes CronJob, a platform scheduler).
//! The cron trigger itself has no retry, no catch-up and no overlap guard;
//! this runner adds them:
//!
//! - **One run per slot.** A slot is `floor(time / period)`. Claiming a slot
//!   is one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` statement, so of
//!   N replicas (or a cron and an external caller) exactly one runs it.
//! - **Overlap guard.** For exclusive jobs, the same statement refuses a slot
//!   while another slot of the job is still running under an unexpired lease.
//! - **Leases.** A run holds its slot until `lease_expires_at`; a run whose
//!   process died is taken over once the lease expires.
//! - **Retry.** A failed slot may be claimed again (by a later call for the
//!   same slot) until `max_attempts`.
//! - **Catch-up.** Each run is told the last slot that succeeded and how
//!   many were missed since, so it can cover the gap.

mod problems;
mod runner;

pub use problems::{configuration_problems, JobProblem};
pub use runner::{run, run_and_log, run_via_http, unknown_job, Outcome, Report};

use crate::error::Result;
use crate::ports::Env;
use futures::future::LocalBoxFuture;

/// Defines `APP`, the HTTP side of a cron component: `POST $path` runs
/// `$job` through the runner (for platforms that drive schedules from
/// outside).
macro_rules! cron_http_app {
    ($component:literal, $path:literal, $job:expr) => {
        /// The component's HTTP side: the job's internal route.
        pub const APP: $crate::app::App = $crate::app::App {
            component: $component,
            routes: &[$crate::http::Route::asynchronous(
                $crate::http::Method::Post,
                $path,
                {
                    fn run<'a>(
                        ctx: &'a $crate::app::Ctx<'a>,
                        req: &'a $crate::http::Request,
                    ) -> futures::future::LocalBoxFuture<'a, $crate::Result<$crate::http::Response>>
                    {
                        Box::pin($crate::scheduler::run_via_http(&$job, ctx, req))
                    }
                    run
                },
            )],
            stateless: false,
        };
    };
}
pub(crate) use cron_http_app;

/// The whole of a cron component's crate: the trigger-cron export (the
/// plugin calls `handle-cron-event` on schedule under `spin up`) and the
/// HTTP export (`POST /api/internal/cron/{job}` for platforms that drive
/// schedules from outside), both running `$job` through the runner. The
/// crate needs `spin-sdk` and `wit-bindgen` (wasm32 only) and lives in
/// `components/`, so `../../wit` is the vendored cron world.
///
/// ```ignore
/// echopilot_core::cron_component!(echopilot_core::slo::JOB, echopilot_core::slo::APP);
/// ```
#[macro_export]
macro_rules! cron_component {
    ($job:path, $app:path) => {
        #[cfg(target_arch = "wasm32")]
        mod cron {
            wit_bindgen::generate!({ world: "spin-cron", path: "../../wit" });

            struct Component;

            impl Guest for Component {
                fn handle_cron_event(metadata: Metadata) -> Result<(), Error> {
                    $crate::adapters::spin::run_cron(&$job, metadata.timestamp)
                        .map_err(Error::Other)
                }
            }

            export!(Component);
        }

        #[cfg(target_arch = "wasm32")]
        #[spin_sdk::http_component]
        async fn handle(
            req: spin_sdk::http::IncomingRequest,
            out: spin_sdk::http::ResponseOutparam,
        ) {
            $crate::adapters::spin::serve_http(&$app, req, out).await
        }
    };
}

/// Every scheduled job's name; `POST /api/internal/cron/{job}` answers 404
/// for anything else. A test keeps it equal to the jobs in spin.toml.
pub const JOB_NAMES: &[&str] = &[
    "heartbeat",
    "worker",
    "notion-sync",
    "incidents",
    "slo",
    "costs",
    "autoscale",
    "anomaly",
    "reports",
    "payments",
    "backup",
    "audit",
    "analytics",
    "demo",
    "secrets",
    "retention",
    "dr",
];

/// How a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The cron trigger of `spin up`.
    Cron,
    /// `POST /api/internal/cron/{job}`.
    Http,
}

impl Trigger {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cron => "cron",
            Trigger::Http => "http",
        }
    }
}

/// What a job is told about its run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The slot number (`floor(time / period)`).
    pub slot: i64,
    /// When the slot starts, Unix ms.
    pub slot_start_ms: i64,
    /// Now, Unix ms.
    pub now_ms: i64,
    /// Cron or HTTP.
    pub trigger: Trigger,
    /// 1 for the first attempt at this slot.
    pub attempt: i64,
    /// The last earlier slot that succeeded, if any.
    pub last_success_slot: Option<i64>,
    /// Slots between that one and this one that never succeeded.
    pub missed_slots: i64,
}

/// A job body: returns a one-line summary of what it did.
pub type SyncJob = fn(&Env, &RunContext) -> Result<String>;
/// An async job body (outbound calls in flight together).
pub type AsyncJob = for<'a> fn(&'a Env, &'a RunContext) -> LocalBoxFuture<'a, Result<String>>;

/// A job body.
#[derive(Clone, Copy)]
pub enum JobFn {
    /// Plain function.
    Sync(SyncJob),
    /// Returns a future.
    Async(AsyncJob),
}

/// A scheduled job.
#[derive(Clone, Copy)]
pub struct Job {
    /// Its name (in `/api/internal/cron/{name}` and in `scheduler_runs`).
    pub name: &'static str,
    /// The cron component that runs it.
    pub component: &'static str,
    /// Its 6-field cron expression (seconds first, UTC), as in spin.toml.
    pub schedule: &'static str,
    /// The slot length in seconds (the schedule's period).
    pub period_secs: i64,
    /// How long a run may hold its slot before another may take it over.
    pub lease_secs: i64,
    /// Attempts per slot before it is given up.
    pub max_attempts: i64,
    /// Refuse a slot while another slot of this job is still running (the
    /// overlap guard). Jobs whose runs are safe side by side turn it off.
    pub exclusive: bool,
    /// What runs.
    pub body: JobFn,
}
