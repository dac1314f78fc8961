//! Workflows: versioned graphs of typed nodes ([`model`], [`nodes`]),
//! checked at save ([`validate`], with the condition language [`expr`] and
//! data templates [`template`]), stored per tenant ([`store`]), run durably
//! step by step on the worker ([`engine`], [`execute`]); five starting
//! points ([`templates`]); triggers beyond manual: [`schedule`],
//! [`webhook`], [`notion_trigger`].

pub mod api;
pub mod engine;
pub mod execute;
pub mod expr;
pub mod model;
pub mod nodes;
pub mod notion_trigger;
pub mod schedule;
pub mod store;
pub mod template;
pub mod templates;
pub mod timing;
pub mod validate;
pub mod webhook;
