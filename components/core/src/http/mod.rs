//! HTTP as core sees it: a plain request, a plain response, the router, the
//! JSON envelope and the headers every response carries. Nothing here knows
//! about Spin; `adapters::spin` converts at the edge.

pub mod body;
pub mod request;
pub mod response;
pub mod router;
pub mod security;

pub use request::{Method, Request};
pub use response::Response;
pub use router::{Handler, Params, Route};

/// The default request body limit: 1 MiB. Routes may lower or raise it.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
