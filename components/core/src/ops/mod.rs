//! Operations: the `api-ops` component's routes (metrics, logs) on top of
//! [`crate::telemetry`] and [`crate::events`].

pub mod api;
pub mod logs;
