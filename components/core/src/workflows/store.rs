//! Workflows at rest: each save validates the graph and stores it as a new
//! version (runs execute the version they began with); reads are scoped to
//! the caller's tenant, so another tenant's workflow is "not found".

use super::model::Graph;
use super::validate::{self, Policy, Problem};
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{ids, DbExt, Env, Row};
use crate::tenancy::{Scope, TenantId};
use serde_json::{json, Value};

/// The longest workflow name, in characters.
pub const MAX_NAME_CHARS: usize = 120;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// The most workflows a tenant may keep.
pub const MAX_PER_TENANT: i64 = 200;

const COLUMNS: &str = "id, tenant_id, name, description, version, graph, created_at, updated_at";

/// A stored workflow (its current version).
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// `wf_…`.
    pub id: String,
    /// The owner.
    pub tenant_id: String,
    /// A name for people.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Its current version (1 at creation, +1 per save).
    pub version: i64,
    /// The current graph (valid when saved).
    pub graph: Value,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last saved, Unix ms.
    pub updated_at: i64,
}

impl Workflow {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(Workflow {
            id: r.text(0)?,
            tenant_id: r.text(1)?,
            name: r.text(2)?,
            description: r.opt_text(3)?,
            version: r.i64(4)?,
            graph: serde_json::from_str(&r.text(5)?)
                .map_err(|e| Error::internal(format!("stored graph unreadable: {e}")))?,
            created_at: r.i64(6)?,
            updated_at: r.i64(7)?,
        })
    }

    /// As the API serves it.
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "graph": self.graph,
            "created_at": crate::time::rfc3339(self.created_at),
            "updated_at": crate::time::rfc3339(self.updated_at),
        })
    }
}

/// What a save holds: a name, a description and a graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// A name for people.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// The graph, as sent (validated on save).
    pub graph: Value,
}

impl Draft {
    /// Read a draft from a request body: `name`, `description`, and
    /// `graph` or `template` (one of [`super::templates`]).
    pub fn from_json(body: &Value) -> Result<Draft> {
        let obj = body
            .as_object()
            .ok_or_else(|| Error::bad_request("invalid_body", "the body is a JSON object"))?;
        let template = match obj.get("template") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(super::templates::find(id).ok_or_else(|| {
                Error::unprocessable(
                    "unknown_template",
                    format!(
                        "no workflow template `{}` (GET /api/workflow-templates lists them)",
                        id.chars().take(64).collect::<String>()
                    ),
                )
            })?),
            Some(_) => {
                return Err(Error::unprocessable(
                    "invalid_template",
                    "`template` is a template id",
                ))
            }
        };
        let graph = match (obj.get("graph"), template) {
            (Some(g), None) => g.clone(),
            (None, Some(t)) => (t.graph)(),
            (Some(_), Some(_)) => {
                return Err(Error::unprocessable(
                    "graph_and_template",
                    "send either `graph` or `template`, not both",
                ))
            }
            (None, None) => {
                return Err(Error::unprocessable(
                    "missing_graph",
                    "a workflow needs a `graph` (nodes and edges) or a `template`",
                ))
            }
        };
        let name = match obj.get("name") {
            Some(Value::String(n)) => n.trim().to_string(),
            None | Some(Value::Null) => template.map(|t| t.name.to_string()).unwrap_or_default(),
            Some(_) => return Err(Error::unprocessable("invalid_name", "`name` is a string")),
        };
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(Error::unprocessable(
                "invalid_name",
                format!("a workflow's name is 1 to {MAX_NAME_CHARS} characters on one line"),
            ));
        }
        let description = match obj.get("description") {
            Some(Value::String(d)) if d.chars().count() <= MAX_DESCRIPTION_CHARS => {
                Some(d.trim().to_string()).filter(|d| !d.is_empty())
            }
            None | Some(Value::Null) => template.map(|t| t.description.to_string()),
            Some(_) => {
                return Err(Error::unprocessable(
                    "invalid_description",
                    format!(
                        "`description` is a string of at most {MAX_DESCRIPTION_CHARS} characters"
                    ),
                ))
            }
        };
        Ok(Draft {
            name,
            description,
            graph,
        })
    }
}

/// The 422 for an invalid graph: every problem, each with its node id.
pub fn invalid_graph(problems: &[Problem]) -> Error {
    let first = problems
        .first()
        .map(|p| match &p.node {
            Some(n) => format!("node `{n}`: {}", p.message),
            None => p.message.clone(),
        })
        .unwrap_or_default();
    Error::unprocessable(
        "invalid_workflow",
        format!(
            "the workflow has {} problem(s); first: {first}",
            problems.len()
        ),
    )
    .with_details(json!({ "problems": problems }))
}

/// Validate `draft`'s graph under the tenant's policy.
pub fn check(env: &Env, tenant: &TenantId, draft: &Draft) -> Result<Graph> {
    let policy = Policy::load(env.config.as_ref(), tenant.as_str())?;
    validate::validate(&draft.graph, &policy).map_err(|p| invalid_graph(&p))
}

/// Create a workflow; returns it and its webhook signing secret (shown
/// only now).
pub fn create(
    env: &Env,
    tenant: &TenantId,
    draft: &Draft,
    actor: &str,
) -> Result<(Workflow, String)> {
    let graph = check(env, tenant, draft)?.to_json().to_string();
    let count = env
        .db
        .query_one(
            "SELECT COUNT(*) FROM workflows WHERE tenant_id = ?1",
            params![tenant.as_str()],
        )?
        .i64(0)?;
    if count >= MAX_PER_TENANT {
        return Err(Error::conflict(
            "too_many_workflows",
            format!("a tenant keeps at most {MAX_PER_TENANT} workflows; delete one first"),
        ));
    }
    let now = env.clock.now_ms();
    let id = ids::new_id("wf_", now, env.ids.as_ref())?;
    let secret = format!("whsec_{}", ids::random_hex(32, env.ids.as_ref())?);
    crate::db::transaction(env.db.as_ref(), |db| {
        db.exec(
            "INSERT INTO workflows (id, tenant_id, name, description, version, graph, webhook_secret, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?8)",
            params![
                id.as_str(),
                tenant.as_str(),
                draft.name.as_str(),
                opt(&draft.description),
                graph.as_str(),
                secret.as_str(),
                actor,
                now
            ],
        )?;
        db.exec(
            "INSERT INTO workflow_versions (workflow_id, version, graph, created_at) VALUES (?1, 1, ?2, ?3)",
            params![id.as_str(), graph.as_str(), now],
        )?;
        Ok(())
    })?;
    Ok((get(env, &Scope::Tenant(tenant.clone()), &id)?, secret))
}

fn opt(v: &Option<String>) -> crate::ports::Value {
    v.as_deref()
        .map(Into::into)
        .unwrap_or(crate::ports::Value::Null)
}

/// The workflow `id` within `scope` (404 otherwise).
pub fn get(env: &Env, scope: &Scope, id: &str) -> Result<Workflow> {
    let row = match scope {
        Scope::All => env.db.query_opt(
            &format!("SELECT {COLUMNS} FROM workflows WHERE id = ?1"),
            params![id],
        )?,
        Scope::Tenant(t) => env.db.query_opt(
            &format!("SELECT {COLUMNS} FROM workflows WHERE id = ?1 AND tenant_id = ?2"),
            params![id, t.as_str()],
        )?,
    };
    row.map(|r| Workflow::from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found("no such workflow"))
}

/// The graph of version `version` of workflow `id`, checked again under
/// the tenant's policy now (an operator may since have withdrawn an
/// integration or an allowed origin: such a run fails with the reason).
pub fn graph_at(env: &Env, tenant: &str, id: &str, version: i64) -> Result<Graph> {
    let text = env
        .db
        .query_one(
            "SELECT graph FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2",
            params![id, version],
        )?
        .text(0)?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Error::internal(format!("stored graph unreadable: {e}")))?;
    let policy = Policy::load(env.config.as_ref(), tenant)?;
    validate::validate(&value, &policy).map_err(|p| invalid_graph(&p))
}

/// The tenant's workflows, newest first.
pub fn list(env: &Env, scope: &Scope) -> Result<Vec<Workflow>> {
    let rows = match scope {
        Scope::All => env.db.exec(
            &format!("SELECT {COLUMNS} FROM workflows ORDER BY created_at DESC, id DESC LIMIT ?1"),
            params![MAX_PER_TENANT],
        )?,
        Scope::Tenant(t) => env.db.exec(
            &format!(
                "SELECT {COLUMNS} FROM workflows WHERE tenant_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2"
            ),
            params![t.as_str(), MAX_PER_TENANT],
        )?,
    };
    rows.rows.iter().map(Workflow::from_row).collect()
}

/// Every tenant's workflows whose trigger is of kind `kind` (the pollers
/// of schedule and Notion triggers), oldest first.
pub fn with_trigger(env: &Env, kind: &str) -> Result<Vec<Workflow>> {
    env.db
        .exec(
            &format!(
                "SELECT {COLUMNS} FROM workflows
                 WHERE EXISTS (SELECT 1 FROM json_each(graph, '$.nodes')
                               WHERE json_extract(value, '$.type') = 'trigger'
                                 AND json_extract(value, '$.config.kind') = ?1)
                 ORDER BY created_at, id"
            ),
            params![kind],
        )?
        .rows
        .iter()
        .map(Workflow::from_row)
        .collect()
}

fn changed_meanwhile() -> Error {
    Error::conflict(
        "workflow_changed",
        "the workflow was saved by someone else meanwhile; reload it and save again",
    )
}

/// Save a new version of workflow `id`. With `expected` (the version the
/// editor's change was based on), a workflow saved since is not
/// overwritten: 409 `workflow_changed`.
pub fn update(
    env: &Env,
    tenant: &TenantId,
    id: &str,
    draft: &Draft,
    expected: Option<i64>,
) -> Result<Workflow> {
    let scope = Scope::Tenant(tenant.clone());
    let current = get(env, &scope, id)?;
    if expected.is_some_and(|v| v != current.version) {
        return Err(changed_meanwhile());
    }
    let graph = check(env, tenant, draft)?.to_json().to_string();
    let now = env.clock.now_ms();
    let version = current.version + 1;
    crate::db::transaction(env.db.as_ref(), |db| {
        let changed = db.exec(
            "UPDATE workflows SET name = ?1, description = ?2, graph = ?3, version = ?4, updated_at = ?5
             WHERE id = ?6 AND version = ?7 RETURNING id",
            params![
                draft.name.as_str(),
                opt(&draft.description),
                graph.as_str(),
                version,
                now,
                id,
                current.version
            ],
        )?;
        if changed.rows.is_empty() {
            return Err(changed_meanwhile());
        }
        db.exec(
            "INSERT INTO workflow_versions (workflow_id, version, graph, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, version, graph.as_str(), now],
        )?;
        Ok(())
    })?;
    get(env, &scope, id)
}

/// Delete workflow `id`: its versions go, running runs are cancelled, and
/// finished runs stay readable by id for their record.
pub fn delete(env: &Env, tenant: &TenantId, id: &str) -> Result<()> {
    let wf = get(env, &Scope::Tenant(tenant.clone()), id)?;
    let now = env.clock.now_ms();
    crate::db::transaction(env.db.as_ref(), |db| {
        db.exec(
            "UPDATE workflow_steps SET status = 'cancelled', error = 'the workflow was deleted', updated_at = ?2, finished_at = ?2
             WHERE status IN ('queued', 'processing') AND run_id IN
                (SELECT id FROM workflow_runs WHERE workflow_id = ?1 AND status = 'running')",
            params![wf.id.as_str(), now],
        )?;
        db.exec(
            "UPDATE workflow_runs SET status = 'cancelled', error = 'the workflow was deleted', updated_at = ?2, finished_at = ?2
             WHERE workflow_id = ?1 AND status = 'running'",
            params![wf.id.as_str(), now],
        )?;
        db.exec(
            "DELETE FROM workflows WHERE id = ?1",
            params![wf.id.as_str()],
        )?;
        for table in [
            "workflow_schedule_slots",
            "workflow_notion_cursors",
            "workflow_notion_pages",
        ] {
            db.exec(
                &format!("DELETE FROM {table} WHERE workflow_id = ?1"),
                params![wf.id.as_str()],
            )?;
        }
        Ok(())
    })
}

/// The webhook signing secret of workflow `id` (any tenant: the webhook
/// route is authenticated by the signature itself).
pub fn webhook_secret(env: &Env, id: &str) -> Result<Option<(Workflow, String)>> {
    let Some(row) = env.db.query_opt(
        &format!("SELECT {COLUMNS}, webhook_secret FROM workflows WHERE id = ?1"),
        params![id],
    )?
    else {
        return Ok(None);
    };
    Ok(Some((Workflow::from_row(&row)?, row.text(8)?)))
}
