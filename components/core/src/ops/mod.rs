//! Operations: the `api-ops` component's routes (metrics, logs, the
//! operator console) on top of [`crate::telemetry`] and [`crate::events`].

pub mod api;
pub mod console;
pub mod logs;
