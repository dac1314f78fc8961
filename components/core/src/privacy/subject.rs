//! The data subject of a privacy request, and who may act for it.

use crate::app::Ctx;
use crate::error::{Error, Kind, Result};
use crate::identity::{users, Credential, Role};
use crate::jobs::model::Email;
use crate::tenancy::Scope;
use sha2::{Digest, Sha256};

/// What replaces erased free text (briefs, outputs) and marks it erased.
pub const ERASED: &str = "[erased]";

/// A data subject: an email address (lower case) and its pseudonym.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    email: Email,
}

impl Subject {
    /// Parse an email address (422 `invalid_email`).
    pub fn parse(email: &str) -> Result<Self> {
        Ok(Subject {
            email: Email::parse(email)?,
        })
    }

    /// The email, lower case.
    pub fn email(&self) -> &str {
        self.email.as_str()
    }

    /// `sha256:<hex>` of the lower-case email: what the audit chain and the
    /// erased rows keep. Whoever knows the address can recompute it (to
    /// show that a request was honoured); it reveals nothing else.
    pub fn pseudonym(&self) -> String {
        let digest = Sha256::digest(self.email.as_str().as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// The placeholder address written where a column must keep an email
    /// (kept payment records): `erased+<16 hex>@erased.invalid`.
    pub fn placeholder_email(&self) -> String {
        let p = self.pseudonym();
        format!("erased+{}@erased.invalid", &p[7..23])
    }
}

/// What a caller wants to do with a subject's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read it (export, consent history).
    Read,
    /// Record a consent given or withdrawn.
    Consent,
    /// Erase it.
    Erase,
}

/// Refuse unless the caller may act for `subject`: an admin (of a tenant,
/// within it; of the platform, across), or a signed-in user for their own
/// email and only to read it or record their own consent. Partner keys
/// never (the access policy already refuses them). Erasure is an admin's:
/// it cannot be undone, and a stolen session must not be able to wipe an
/// account's history.
pub fn authorize(ctx: &Ctx, subject: &Subject, action: Action) -> Result<()> {
    if matches!(ctx.principal.credential, Credential::ApiKey { .. }) {
        return Err(Error::forbidden("API keys cannot act on personal data"));
    }
    if ctx.principal.role == Some(Role::Admin) {
        return Ok(());
    }
    let own = match &ctx.principal.credential {
        Credential::User { user_id, .. } => {
            let scope = Scope::Tenant(ctx.principal.tenant.clone());
            Some(users::get(ctx.env, &scope, user_id)?.email)
        }
        _ => None,
    };
    let is_own = own.is_some_and(|o| o.eq_ignore_ascii_case(subject.email()));
    if !is_own {
        return Err(Error::new(
            Kind::Forbidden,
            "not_your_email",
            "only admins act for other people's data; users for their own email",
        ));
    }
    if action == Action::Erase {
        return Err(Error::forbidden(
            "erasure is done by an admin of your tenant; ask them",
        ));
    }
    Ok(())
}
