//! Reading a queue page's properties, whatever their Notion types.

use super::settings::NotionSettings;
use serde_json::Value;

/// What a Queued page asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedPage {
    /// The page id.
    pub id: String,
    /// Its last-edited time (part of the idempotency key).
    pub last_edited: String,
    /// The title.
    pub title: String,
    /// The brief (empty when the page has none).
    pub brief: String,
    /// The job type's name, if set.
    pub job_type: Option<String>,
    /// The priority's name, if set.
    pub priority: Option<String>,
    /// The requester's email, if set.
    pub email: Option<String>,
}

/// The plain text of any text-like property (title, rich text, select,
/// status, email, url, phone, number).
pub fn text(prop: Option<&Value>) -> Option<String> {
    let p = prop?;
    let kind = p.get("type")?.as_str()?;
    let v = p.get(kind)?;
    let s = match kind {
        "title" | "rich_text" => v
            .as_array()?
            .iter()
            .filter_map(|t| t.get("plain_text").and_then(Value::as_str))
            .collect::<String>(),
        "select" | "status" => v.get("name")?.as_str()?.to_string(),
        "email" | "url" | "phone_number" => v.as_str()?.to_string(),
        "number" => v.as_f64()?.to_string(),
        _ => return None,
    };
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

impl QueuedPage {
    /// Read a page object from a database query.
    pub fn parse(page: &Value, s: &NotionSettings) -> Option<Self> {
        let props = page.get("properties")?;
        let get = |name: &str| text(props.get(name));
        Some(QueuedPage {
            id: page.get("id")?.as_str()?.to_string(),
            last_edited: page.get("last_edited_time")?.as_str()?.to_string(),
            title: get(&s.title_prop).unwrap_or_else(|| "Untitled".into()),
            brief: get(&s.brief_prop).unwrap_or_default(),
            job_type: get(&s.type_prop),
            priority: get(&s.priority_prop),
            email: get(&s.email_prop),
        })
    }
}

/// Paragraph blocks holding `text` (Notion caps a text object at 2,000
/// characters and a request at 100 blocks).
pub fn paragraphs(text: &str) -> Vec<Value> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(1900)
        .take(90)
        .map(|chunk| {
            let content: String = chunk.iter().collect();
            serde_json::json!({
                "object": "block", "type": "paragraph",
                "paragraph": { "rich_text": [{ "type": "text", "text": { "content": content } }] }
            })
        })
        .collect()
}

/// A heading block.
pub fn heading(text: &str) -> Value {
    serde_json::json!({
        "object": "block", "type": "heading_3",
        "heading_3": { "rich_text": [{ "type": "text", "text": { "content": text } }] }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    fn settings() -> NotionSettings {
        NotionSettings::load(&MapConfig::new(&[
            ("notion_token", "t"),
            ("notion_queue_db", "abcd"),
        ]))
        .unwrap()
        .unwrap()
    }

    #[test]
    fn reads_every_kind_of_property() {
        let page = serde_json::json!({
            "id": "p1", "last_edited_time": "2026-11-22T10:00:00.000Z",
            "properties": {
                "Name": { "type": "title", "title": [{ "plain_text": "Launch " }, { "plain_text": "email" }] },
                "Brief": { "type": "rich_text", "rich_text": [{ "plain_text": "Write it" }] },
                "Status": { "type": "status", "status": { "name": "Queued" } },
                "Type": { "type": "select", "select": { "name": "report_gen" } },
                "Priority": { "type": "select", "select": null },
                "Email": { "type": "email", "email": "a@b.co" }
            }
        });
        let p = QueuedPage::parse(&page, &settings()).unwrap();
        assert_eq!(
            (p.title.as_str(), p.brief.as_str()),
            ("Launch email", "Write it")
        );
        assert_eq!(
            (p.job_type.as_deref(), p.priority, p.email.as_deref()),
            (Some("report_gen"), None, Some("a@b.co"))
        );
    }

    #[test]
    fn long_text_is_split_into_blocks() {
        let blocks = paragraphs(&"é".repeat(4000));
        assert_eq!(blocks.len(), 3);
        assert!(paragraphs("").is_empty());
    }
}
