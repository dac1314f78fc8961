//! Notion settings: the token, the databases, property names and status
//! values (so any Automation Queue layout can be mapped).

use crate::config;
use crate::error::{Error, Result};
use crate::ports::Config;

/// Notion's API version this client speaks.
pub const NOTION_VERSION: &str = "2022-06-28";

/// Where a setting comes from, for error messages.
fn pairs(c: &dyn Config, name: &str, default: &str, keys: &[&str]) -> Result<Vec<String>> {
    let text = config::text_or(c, name, default)?;
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        let defaults = default
            .split(',')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_string());
        let given = text
            .split(',')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim() == *key)
            .map(|(_, v)| v.trim().to_string());
        out.push(given.or(defaults).unwrap_or_default());
    }
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let known = part
            .split_once('=')
            .is_some_and(|(k, v)| keys.contains(&k.trim()) && !v.trim().is_empty());
        if !known {
            return Err(Error::unavailable(
                "invalid_configuration",
                format!(
                    "variable `{name}`: `{part}` is not one of {}=<value>",
                    keys.join("|")
                ),
            ));
        }
    }
    Ok(out)
}

/// Everything the sync needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct NotionSettings {
    /// Integration token.
    pub token: String,
    /// The Automation Queue database.
    pub queue_db: String,
    /// The Job Log database, if results should be logged there too.
    pub log_db: Option<String>,
    /// `notion_base_url` (an origin).
    pub base_url: String,
    /// Property names: title, brief, status, type, priority, email, log_title.
    pub title_prop: String,
    /// The brief (rich text).
    pub brief_prop: String,
    /// The status (status or select).
    pub status_prop: String,
    /// The job type (select, optional).
    pub type_prop: String,
    /// The priority (select, optional).
    pub priority_prop: String,
    /// The requester's email (email or rich text, optional).
    pub email_prop: String,
    /// The Job Log database's title property.
    pub log_title_prop: String,
    /// `status` or `select`.
    pub status_kind: String,
    /// The status values.
    pub queued: String,
    /// Being worked on.
    pub in_progress: String,
    /// Finished and passed QA.
    pub done: String,
    /// Failed, dead or cancelled.
    pub failed: String,
}

impl NotionSettings {
    /// The settings, or `None` when Notion is not configured (no token or no
    /// queue database).
    pub fn load(c: &dyn Config) -> Result<Option<Self>> {
        let (Some(token), Some(queue_db)) = (
            config::text(c, "notion_token")?,
            config::text(c, "notion_queue_db")?,
        ) else {
            return Ok(None);
        };
        for (name, id) in [
            ("notion_queue_db", Some(&queue_db)),
            ("notion_log_db", config::text(c, "notion_log_db")?.as_ref()),
        ] {
            if let Some(id) = id {
                if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
                    return Err(Error::unavailable(
                        "invalid_configuration",
                        format!("variable `{name}` must be a Notion database id (32 hex digits, dashes allowed)"),
                    ));
                }
            }
        }
        let props = pairs(
            c,
            "notion_properties",
            "title=Name,brief=Brief,status=Status,type=Type,priority=Priority,email=Email,log_title=Name",
            &["title", "brief", "status", "type", "priority", "email", "log_title"],
        )?;
        let values = pairs(
            c,
            "notion_status_values",
            "queued=Queued,in_progress=In Progress,done=Done,failed=Failed",
            &["queued", "in_progress", "done", "failed"],
        )?;
        let status_kind = config::text_or(c, "notion_status_kind", "status")?;
        if status_kind != "status" && status_kind != "select" {
            return Err(Error::unavailable(
                "invalid_configuration",
                "variable `notion_status_kind` must be `status` or `select`",
            ));
        }
        let [title_prop, brief_prop, status_prop, type_prop, priority_prop, email_prop, log_title_prop]: [String; 7] =
            props.try_into().map_err(|_| Error::internal("property list"))?;
        let [queued, in_progress, done, failed]: [String; 4] = values
            .try_into()
            .map_err(|_| Error::internal("status list"))?;
        Ok(Some(NotionSettings {
            token,
            queue_db,
            log_db: config::text(c, "notion_log_db")?,
            base_url: config::origin(c, "notion_base_url", "https://api.notion.com")?,
            title_prop,
            brief_prop,
            status_prop,
            type_prop,
            priority_prop,
            email_prop,
            log_title_prop,
            status_kind,
            queued,
            in_progress,
            done,
            failed,
        }))
    }

    /// The property value that sets the status to `name`.
    pub fn status_value(&self, name: &str) -> serde_json::Value {
        serde_json::json!({ self.status_kind.as_str(): { "name": name } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    #[test]
    fn unconfigured_without_token_or_database() {
        assert!(NotionSettings::load(&MapConfig::new(&[]))
            .unwrap()
            .is_none());
        assert!(
            NotionSettings::load(&MapConfig::new(&[("notion_token", "x")]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn defaults_and_overrides() {
        let c = MapConfig::new(&[
            ("notion_token", "secret_x"),
            ("notion_queue_db", "0123456789abcdef0123456789abcdef"),
            ("notion_properties", "brief=Task, status=State"),
            ("notion_status_kind", "select"),
        ]);
        let s = NotionSettings::load(&c).unwrap().unwrap();
        assert_eq!(
            (
                s.brief_prop.as_str(),
                s.status_prop.as_str(),
                s.title_prop.as_str()
            ),
            ("Task", "State", "Name")
        );
        assert_eq!(s.in_progress, "In Progress");
        assert_eq!(
            s.status_value("Done"),
            serde_json::json!({"select": {"name": "Done"}})
        );
        assert_eq!(s.base_url, "https://api.notion.com");
        let bad = MapConfig::new(&[
            ("notion_token", "x"),
            ("notion_queue_db", "abc"),
            ("notion_properties", "colour=Blue"),
        ]);
        assert!(NotionSettings::load(&bad).is_err());
        let bad = MapConfig::new(&[("notion_token", "x"), ("notion_queue_db", "../../x")]);
        assert!(NotionSettings::load(&bad).is_err());
    }
}
