//! Workflows (in progress).

pub mod expr;
pub mod model;
pub mod nodes;
pub mod template;
pub mod templates;
pub mod timing;
pub mod validate;
