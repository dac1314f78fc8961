//! Users: email, Argon2id password hash, role, tenant, disabled flag. The
//! first admin comes from the `admin_email` and `admin_password` variables
//! when the users table is empty.

use super::{password, Role};
use crate::config;
use crate::error::{Error, Result};
use crate::jobs::Email;
use crate::params;
use crate::ports::{ids, DbError, DbExt, Env, Row};
use crate::tenancy::{Scope, TenantId};
use crate::time::rfc3339;

/// A user (never with the hash).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// `usr_…`
    pub id: String,
    /// Home tenant.
    pub tenant_id: String,
    /// Lower-case email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Disabled users cannot sign in, and their tokens stop working.
    pub disabled: bool,
    created_at: i64,
    last_login_at: Option<i64>,
}

const COLUMNS: &str = "id, tenant_id, email, role, disabled, created_at, last_login_at";

impl User {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(User {
            id: r.text(0)?,
            tenant_id: r.text(1)?,
            email: r.text(2)?,
            role: Role::parse(&r.text(3)?)?,
            disabled: r.bool(4)?,
            created_at: r.i64(5)?,
            last_login_at: r.opt_i64(6)?,
        })
    }

    /// As served.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "tenant_id": self.tenant_id, "email": self.email, "role": self.role,
            "disabled": self.disabled, "created_at": rfc3339(self.created_at),
            "last_login_at": self.last_login_at.map(rfc3339),
        })
    }
}

/// Create a user.
pub fn create(env: &Env, tenant: &TenantId, email: &Email, pw: &str, role: Role) -> Result<User> {
    password::validate(pw)?;
    crate::identity::tenants::require(env, tenant)?;
    let now = env.clock.now_ms();
    let id = ids::new_id("usr_", now, env.ids.as_ref())?;
    let hash = password::hash(pw, env.ids.as_ref())?;
    let result = env.db.execute(
        &format!(
            "INSERT INTO users (id, tenant_id, email, password_hash, role, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING {COLUMNS}"
        ),
        params![
            id.as_str(),
            tenant.as_str(),
            email.as_str(),
            hash,
            role.as_str(),
            now
        ],
    );
    match result {
        Ok(rows) => User::from_row(
            rows.first()
                .ok_or_else(|| Error::internal("insert returned nothing"))?,
        ),
        Err(DbError::Constraint(_)) => Err(Error::conflict(
            "email_taken",
            "a user with this email already exists",
        )),
        Err(e) => Err(e.into()),
    }
}

/// The account `email` signs in to, with its password hash: the one in
/// `tenant` when given, else the email's first account (an email may have
/// an account in several tenants; the later ones sign in with their
/// tenant named).
pub fn find_for_login(
    env: &Env,
    email: &str,
    tenant: Option<&TenantId>,
) -> Result<Option<(User, String)>> {
    let row = match tenant {
        Some(t) => env.db.query_opt(
            &format!("SELECT {COLUMNS}, password_hash FROM users WHERE email = ?1 AND tenant_id = ?2"),
            params![email, t.as_str()],
        )?,
        // The first account made with this email (rowid breaks a tie within
        // a millisecond: ids are random).
        None => env.db.query_opt(
            &format!(
                "SELECT {COLUMNS}, password_hash FROM users WHERE email = ?1 ORDER BY created_at, rowid LIMIT 1"
            ),
            params![email],
        )?,
    };
    row.map(|r| Ok((User::from_row(&r)?, r.text(7)?)))
        .transpose()
}

/// A user by id, within `scope`.
pub fn get(env: &Env, scope: &Scope, id: &str) -> Result<User> {
    let (cond, tenant) = scope.condition("tenant_id", 2);
    let mut p = vec![crate::ports::Value::from(id)];
    p.extend(tenant.map(crate::ports::Value::from));
    env.db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM users WHERE id = ?1 AND {cond}"),
            &p,
        )?
        .map(|r| User::from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("no user `{id}`")))
}

/// Users within `scope`.
pub fn list(env: &Env, scope: &Scope) -> Result<Vec<User>> {
    let (cond, tenant) = scope.condition("tenant_id", 1);
    let p: Vec<crate::ports::Value> = tenant.into_iter().map(Into::into).collect();
    let rows = env.db.exec(
        &format!("SELECT {COLUMNS} FROM users WHERE {cond} ORDER BY id LIMIT 1000"),
        &p,
    )?;
    rows.rows.iter().map(User::from_row).collect()
}

/// Change a user's role, disabled flag or password. Disabling revokes the
/// user's refresh tokens.
pub fn update(
    env: &Env,
    scope: &Scope,
    id: &str,
    role: Option<Role>,
    disabled: Option<bool>,
    new_password: Option<&str>,
) -> Result<User> {
    let user = get(env, scope, id)?;
    let now = env.clock.now_ms();
    let hash = match new_password {
        Some(p) => {
            password::validate(p)?;
            Some(password::hash(p, env.ids.as_ref())?)
        }
        None => None,
    };
    env.db.exec(
        "UPDATE users SET role = COALESCE(?2, role), disabled = COALESCE(?3, disabled),
            password_hash = COALESCE(?4, password_hash), updated_at = ?5 WHERE id = ?1",
        params![
            user.id.as_str(),
            role.map(|r| r.as_str()),
            disabled,
            hash,
            now
        ],
    )?;
    if disabled == Some(true) || new_password.is_some() {
        super::sessions::revoke_user_refresh_tokens(env, &user.id)?;
    }
    get(env, scope, id)
}

/// Record a successful sign-in.
pub fn touch_login(env: &Env, id: &str) -> Result<()> {
    env.db.exec(
        "UPDATE users SET last_login_at = ?2 WHERE id = ?1",
        params![id, env.clock.now_ms()],
    )?;
    Ok(())
}

/// What a token's subject is now, read on every token use so that role
/// changes, disabling and tenant deactivation apply at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The current role.
    pub role: Role,
    /// The home tenant.
    pub tenant_id: String,
    /// The user is disabled.
    pub disabled: bool,
    /// The user's tenant is active.
    pub tenant_active: bool,
}

impl Standing {
    /// 401 for a disabled user, 403 `tenant_inactive` for an inactive
    /// tenant; the role and tenant otherwise.
    pub fn admit(self) -> Result<(Role, String)> {
        if self.disabled {
            return Err(Error::unauthorized("this account is disabled"));
        }
        if !self.tenant_active {
            return Err(Error::new(
                crate::error::Kind::Forbidden,
                "tenant_inactive",
                "this account's tenant is inactive",
            ));
        }
        Ok((self.role, self.tenant_id))
    }
}

/// User `id`'s standing, or `None` when the user no longer exists.
pub fn current(env: &Env, id: &str) -> Result<Option<Standing>> {
    env.db
        .query_opt(
            "SELECT u.role, u.tenant_id, u.disabled, COALESCE(t.active, 0)
             FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id WHERE u.id = ?1",
            params![id],
        )?
        .map(|r| {
            Ok(Standing {
                role: Role::parse(&r.text(0)?)?,
                tenant_id: r.text(1)?,
                disabled: r.bool(2)?,
                tenant_active: r.bool(3)?,
            })
        })
        .transpose()
}

/// Create the first admin from `admin_email`/`admin_password` when there
/// are no users yet. Returns the admin created, if any.
pub fn bootstrap_admin(env: &Env) -> Result<Option<User>> {
    let (Some(email), Some(pw)) = (
        config::text(env.config.as_ref(), "admin_email")?,
        config::text(env.config.as_ref(), "admin_password")?,
    ) else {
        return Ok(None);
    };
    if env
        .db
        .query_opt("SELECT 1 FROM users LIMIT 1", &[])?
        .is_some()
    {
        return Ok(None);
    }
    let email = Email::parse(&email).map_err(|_| {
        Error::unavailable(
            "invalid_configuration",
            "variable `admin_email` is not an email address",
        )
    })?;
    match create(env, &TenantId::default_tenant(), &email, &pw, Role::Admin) {
        Ok(u) => {
            crate::audit::append(
                env,
                &crate::audit::Event::new("default", "system", "user.bootstrap_admin")
                    .target(&u.id),
            )?;
            Ok(Some(u))
        }
        Err(e) if e.code == "email_taken" => Ok(None),
        Err(e) if e.code == "weak_password" => Err(Error::unavailable(
            "invalid_configuration",
            "variable `admin_password` must be 12 to 256 characters",
        )),
        Err(e) => Err(e),
    }
}
