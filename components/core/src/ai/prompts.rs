//! Prompt templates: per job type, versioned in the database; one version
//! per type is active. Attempts record the template id and version they
//! used, so QA statistics can be compared between versions.

use crate::db::transaction;
use crate::error::{Error, Result};
use crate::jobs::JobType;
use crate::params;
use crate::ports::{DbExt, Env, Row};
use crate::tenancy::Scope;
use crate::time::rfc3339;

/// A template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Its id (`pt_<type>_v<version>`).
    pub id: String,
    /// The job type it serves.
    pub job_type: String,
    /// Its version within the type.
    pub version: i64,
    /// The system prompt.
    pub system_prompt: String,
    /// The user message, with `{{brief}}`, `{{title}}` and `{{feedback}}`.
    pub user_template: String,
    /// Whether it is the type's active version.
    pub active: bool,
    notes: Option<String>,
    created_by: String,
    created_at: i64,
}

const COLUMNS: &str =
    "id, job_type, version, system_prompt, user_template, active, notes, created_by, created_at";

impl Template {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(Template {
            id: r.text(0)?,
            job_type: r.text(1)?,
            version: r.i64(2)?,
            system_prompt: r.text(3)?,
            user_template: r.text(4)?,
            active: r.bool(5)?,
            notes: r.opt_text(6)?,
            created_by: r.text(7)?,
            created_at: r.i64(8)?,
        })
    }

    /// As served.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "job_type": self.job_type, "version": self.version, "active": self.active,
            "system_prompt": self.system_prompt, "user_template": self.user_template,
            "notes": self.notes, "created_by": self.created_by, "created_at": rfc3339(self.created_at),
        })
    }

    /// The user message for a job: each `{{name}}` of the template replaced
    /// once (values are never re-scanned, so a brief containing `{{title}}`
    /// stays as written).
    pub fn render(&self, brief: &str, title: Option<&str>, feedback: &str) -> String {
        let mut out =
            String::with_capacity(self.user_template.len() + brief.len() + feedback.len());
        let mut rest = self.user_template.as_str();
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            match after.find("}}") {
                Some(end) => {
                    match after[..end].trim() {
                        "brief" => out.push_str(brief),
                        "title" => out.push_str(title.unwrap_or("(untitled)")),
                        "feedback" if !feedback.is_empty() => {
                            out.push_str("\n\n");
                            out.push_str(feedback);
                        }
                        "feedback" => {}
                        other => {
                            out.push_str("{{");
                            out.push_str(other);
                            out.push_str("}}");
                        }
                    }
                    rest = &after[end + 2..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The active template of every job type.
pub fn active(env: &Env) -> Result<Vec<Template>> {
    let rows = env.db.exec(
        &format!("SELECT {COLUMNS} FROM prompt_templates WHERE active = 1"),
        &[],
    )?;
    rows.rows.iter().map(Template::from_row).collect()
}

/// Every template, newest version first within each type.
pub fn list(env: &Env) -> Result<Vec<Template>> {
    let rows = env.db.exec(
        &format!("SELECT {COLUMNS} FROM prompt_templates ORDER BY job_type, version DESC"),
        &[],
    )?;
    rows.rows.iter().map(Template::from_row).collect()
}

/// One template.
pub fn get(env: &Env, id: &str) -> Result<Template> {
    env.db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM prompt_templates WHERE id = ?1"),
            params![id],
        )?
        .map(|r| Template::from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("no prompt template `{id}`")))
}

/// A new template version for `job_type`, the next number; made the active
/// one when `activate`.
pub fn create(
    env: &Env,
    job_type: JobType,
    system_prompt: &str,
    user_template: &str,
    notes: Option<&str>,
    activate: bool,
    author: &str,
) -> Result<Template> {
    if !user_template.contains("{{brief}}") {
        return Err(Error::unprocessable(
            "invalid_template",
            "user_template must contain {{brief}}",
        ));
    }
    for (name, text, max) in [
        ("system_prompt", system_prompt, 20_000),
        ("user_template", user_template, 20_000),
    ] {
        if text.trim().is_empty() || text.chars().count() > max {
            return Err(Error::unprocessable(
                "invalid_template",
                format!("{name} must be 1 to {max} characters"),
            ));
        }
    }
    let now = env.clock.now_ms();
    transaction(env.db.as_ref(), |db| {
        let version = db
            .query_one(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM prompt_templates WHERE job_type = ?1",
                params![job_type.as_str()],
            )?
            .i64(0)?;
        let id = format!("pt_{}_v{version}", job_type.as_str());
        if activate {
            db.exec(
                "UPDATE prompt_templates SET active = 0 WHERE job_type = ?1",
                params![job_type.as_str()],
            )?;
        }
        let row = db.query_one(
            &format!(
                "INSERT INTO prompt_templates ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {COLUMNS}"
            ),
            params![id.as_str(), job_type.as_str(), version, system_prompt, user_template, activate, notes, author, now],
        )?;
        Template::from_row(&row)
    })
}

/// QA statistics of a template's attempts since `since_ms`, counting only
/// the attempts of jobs `scope` may see.
pub fn stats(env: &Env, scope: &Scope, id: &str, since_ms: i64) -> Result<serde_json::Value> {
    let template = get(env, id)?;
    let (cond, tenant) = scope.condition("tenant_id", 3);
    let mut params = params![id, since_ms].to_vec();
    params.extend(tenant.map(crate::ports::Value::from));
    let r = env.db.query_one(
        &format!(
            "SELECT COUNT(*),
                SUM(qa_passed IS NOT NULL),
                SUM(qa_passed = 1),
                AVG(qa_score),
                AVG(cost_micros + qa_cost_micros),
                AVG(latency_ms),
                AVG(json_extract(qa_scores, '$.clarity.score')),
                AVG(json_extract(qa_scores, '$.accuracy.score')),
                AVG(json_extract(qa_scores, '$.completeness.score')),
                AVG(json_extract(qa_scores, '$.professional_tone.score')),
                SUM(round > 0),
                COUNT(DISTINCT job_id)
         FROM job_attempts WHERE prompt_template_id = ?1 AND started_at >= ?2 AND {cond}"
        ),
        &params,
    )?;
    let f = |i: usize| -> Result<Option<f64>> {
        match &r.values[i] {
            crate::ports::Value::Null => Ok(None),
            _ => Ok(Some((r.f64(i)? * 100.0).round() / 100.0)),
        }
    };
    let attempts = r.i64(0)?;
    let graded = r.opt_i64(1)?.unwrap_or(0);
    let passed = r.opt_i64(2)?.unwrap_or(0);
    Ok(serde_json::json!({
        "template": { "id": template.id, "job_type": template.job_type, "version": template.version, "active": template.active },
        "since": rfc3339(since_ms),
        "jobs": r.i64(11)?,
        "attempts": attempts,
        "graded": graded,
        "passed": passed,
        "pass_rate": if graded > 0 { Some(((passed as f64 / graded as f64) * 10_000.0).round() / 10_000.0) } else { None },
        "retry_rounds": r.opt_i64(10)?.unwrap_or(0),
        "avg_qa_score": f(3)?,
        "avg_cost_micros": f(4)?,
        "avg_latency_ms": f(5)?,
        "avg_by_criterion": {
            "clarity": f(6)?, "accuracy": f(7)?, "completeness": f(8)?, "professional_tone": f(9)?,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(user: &str) -> Template {
        Template {
            id: "x".into(),
            job_type: "ai_task".into(),
            version: 1,
            system_prompt: "s".into(),
            user_template: user.into(),
            active: true,
            notes: None,
            created_by: "t".into(),
            created_at: 0,
        }
    }

    #[test]
    fn renders_each_placeholder_once() {
        let tpl = t("Brief: {{brief}} / {{title}}{{feedback}} {{unknown}} {{");
        assert_eq!(
            tpl.render("say {{title}}", None, ""),
            "Brief: say {{title}} / (untitled) {{unknown}} {{"
        );
        assert_eq!(
            tpl.render("b", Some("T"), "fix x"),
            "Brief: b / T\n\nfix x {{unknown}} {{"
        );
    }
}
