//! Jobs: what they are ([`model`]), how they are stored and read
//! ([`store`], [`record`]), the durable queue ([`queue`]), history links
//! sent by email ([`history`]), intake budgets ([`intake`]), filing finished
//! jobs to Google Drive ([`filing`]) and the HTTP API ([`api`]).

pub mod api;
pub mod filing;
pub mod history;
pub mod intake;
pub mod model;
pub mod queue;
pub mod record;
pub mod store;

pub use model::{Brief, Email, JobType, NewJob, Priority, Source, Status, Title};
pub use record::Job;
