//! Business events: what people and jobs did to the business (a job
//! cancelled, a refund, a cap changed, scaling applied, an operator
//! command, a setting changed, a privacy request, a restore or a drill),
//! in the same chain as the security events.
//!
//! One function records them all: [`record_business`]. Each entry says
//! who (actor, tenant, client address, request), what (the action,
//! `area.verb`), to what (the target) and, where it makes sense, the state
//! before and after. Details never carry secrets: keys that name one
//! (`password`, `secret`, `token`, `api_key`, `authorization`, `cookie`,
//! `credential`, `private_key`, `signing_key`) are replaced by
//! `"[redacted]"` at any depth before the entry is hashed.
//!
//! ```ignore
//! use echopilot_core::audit::{self, Change, Who};
//! audit::record_business(
//!     ctx.env,
//!     &Who::of(ctx).in_tenant(&job.tenant_id),
//!     "job.cancel",
//!     Change::on(&job.id)
//!         .before(json!({ "status": "queued" }))
//!         .after(json!({ "status": "cancelled" }))
//!         .detail(json!({ "reason": reason })),
//! )?;
//! ```

use super::{append, Event};
use crate::app::Ctx;
use crate::error::{Error, Result};
use crate::ports::Env;
use serde_json::Value;

/// Who acted: the entry's tenant and actor, and where the request came
/// from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// The tenant the action touched (the entry is visible to its admins).
    pub tenant: String,
    /// `user:usr_…`, `key:pk_…`, `dashboard`, `scheduler`.
    pub actor: String,
    /// The client address, for actions that came in a request.
    pub client: Option<String>,
    /// The request id, for actions that came in a request.
    pub request_id: Option<String>,
}

impl Who {
    /// The caller of a request, acting for the request's tenant (a
    /// platform admin acting for every tenant: their own, unless
    /// [`Who::in_tenant`] names the one touched).
    pub fn of(ctx: &Ctx) -> Who {
        Who {
            tenant: ctx.acting_tenant().as_str().to_string(),
            actor: ctx.principal.actor(),
            client: (!ctx.client.is_empty()).then(|| ctx.client.clone()),
            request_id: Some(ctx.request_id.clone()),
        }
    }

    /// A scheduled job acting on its own (actor `scheduler`, as a
    /// scheduler's request is named), in the default tenant.
    pub fn scheduler() -> Who {
        Who {
            tenant: crate::tenancy::DEFAULT_TENANT.to_string(),
            actor: "scheduler".to_string(),
            client: None,
            request_id: None,
        }
    }

    /// The same actor, recorded in the tenant whose data was touched.
    pub fn in_tenant(mut self, tenant: &str) -> Who {
        self.tenant = tenant.to_string();
        self
    }
}

/// What changed: the target, and the state before and after.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    target: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
    detail: Option<Value>,
}

impl Change {
    /// A change to `target` (an id, or `kind:name`).
    pub fn on(target: &str) -> Change {
        Change {
            target: Some(target.to_string()),
            ..Change::default()
        }
    }
    /// A change with no single target (a bulk action).
    pub fn untargeted() -> Change {
        Change::default()
    }
    /// The state before.
    pub fn before(mut self, v: Value) -> Change {
        self.before = Some(v);
        self
    }
    /// The state after.
    pub fn after(mut self, v: Value) -> Change {
        self.after = Some(v);
        self
    }
    /// Anything else an auditor needs (a JSON object; its keys sit beside
    /// `before` and `after`).
    pub fn detail(mut self, v: Value) -> Change {
        self.detail = Some(v);
        self
    }
}

/// The key names whose values are never recorded.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "authorization",
    "cookie",
    "credential",
    "credentials",
];

/// Whether a detail key names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let words: Vec<&str> = k.split(['_', '-', '.']).collect();
    words
        .iter()
        .any(|w| SECRET_WORDS.contains(w) || *w == "token" || *w == "apikey")
        || ["api_key", "private_key", "signing_key", "secret_key"]
            .iter()
            .any(|s| k == *s || k.ends_with(&format!("_{s}")))
}

/// `v` with every secret-named key's value replaced, at any depth.
pub fn redact(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(&k) {
                        Value::from("[redacted]")
                    } else {
                        redact(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

fn valid_action(action: &str) -> bool {
    let mut parts = action.split('.');
    let ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    matches!((parts.next(), parts.next()), (Some(a), Some(b)) if ok(a) && ok(b))
        && parts.all(ok)
        && action.len() <= 64
}

/// Append the business event `action` (`area.verb`, e.g. `job.cancel`,
/// `privacy.export`, `backup.restore`) by `who` to the audit chain; returns
/// its sequence number. The details are `change`'s `detail` with `before`,
/// `after` and the client address beside it, secrets redacted.
///
/// An error means nothing was recorded: callers whose action already
/// happened outside (a refund at the processor) log it rather than fail.
pub fn record_business(env: &Env, who: &Who, action: &str, change: Change) -> Result<i64> {
    if !valid_action(action) {
        return Err(Error::internal(format!(
            "`{action}` is not a business action name (area.verb, lower case)"
        )));
    }
    let mut detail = match change.detail {
        None => serde_json::Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            let mut m = serde_json::Map::new();
            m.insert("value".into(), other);
            m
        }
    };
    if let Some(b) = change.before {
        detail.insert("before".into(), b);
    }
    if let Some(a) = change.after {
        detail.insert("after".into(), a);
    }
    let mut event =
        Event::new(&who.tenant, &who.actor, action).detail(redact(Value::Object(detail)));
    if let Some(t) = &change.target {
        event = event.target(t);
    }
    if let Some(r) = &who.request_id {
        event = event.request(r);
    }
    if let Some(c) = &who.client {
        event = event.client(c);
    }
    append(env, &event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_are_named_by_their_words() {
        for k in [
            "password",
            "new_password",
            "stripe_secret_key",
            "api_key",
            "openai_api_key",
            "refresh_token",
            "Authorization",
            "cookie",
            "signing_key",
            "client_secret",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "tokens_in",
            "reason",
            "key_id",
            "billing_email_set",
            "status",
            "cap_micros",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn redaction_reaches_nested_values_and_keeps_the_rest() {
        let v = redact(json!({
            "after": { "smtp": { "password": "hunter2", "host": "mail" } },
            "list": [{ "token": "t" }, 3],
            "reason": "x",
        }));
        assert_eq!(v["after"]["smtp"]["password"], "[redacted]");
        assert_eq!(v["after"]["smtp"]["host"], "mail");
        assert_eq!(v["list"][0]["token"], "[redacted]");
        assert_eq!(v["list"][1], 3);
        assert_eq!(v["reason"], "x");
    }

    #[test]
    fn action_names_are_area_dot_verb() {
        for a in [
            "job.cancel",
            "privacy.export",
            "backup.restore_drill",
            "dr.drill",
        ] {
            assert!(valid_action(a), "{a}");
        }
        for a in ["", "job", "Job.cancel", "job.", ".x", "job cancel", "a.b c"] {
            assert!(!valid_action(a), "{a}");
        }
    }
}
