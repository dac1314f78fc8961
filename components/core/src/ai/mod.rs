//! Doing and grading the work: providers ([`provider`], [`simulated`]),
//! model families ([`models`]), prices ([`pricing`]), grading ([`grader`]), judge consistency
//! ([`consistency`]), prompt templates ([`prompts`]), processing one job
//! ([`process`]), the worker tick ([`worker`]) and the HTTP API ([`api`]).

pub mod api;
pub mod consistency;
pub mod grader;
pub mod models;
pub mod pricing;
pub mod process;
pub mod prompts;
pub mod provider;
pub mod settings;
pub mod simulated;
pub mod worker;
