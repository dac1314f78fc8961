//! Grading: the second model scores an output 0-100 on four criteria, each
//! with a reason, as strict JSON. The overall score is the weighted mean;
//! it passes at the threshold. Criteria under the threshold become the
//! feedback for the next round.

use super::provider::Message;
use crate::error::{Error, Result};
use serde::Serialize;

/// Recorded on every attempt, so grades from different graders are never
/// compared blindly.
pub const GRADER_VERSION: &str = "grader-v1";

/// The criteria, in order.
pub const CRITERIA: [&str; 4] = ["clarity", "accuracy", "completeness", "professional_tone"];

/// Criterion weights (equal by default). From `qa_weights`:
/// `clarity=1,accuracy=2,completeness=1,professional_tone=1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights(pub [f64; 4]);

impl Weights {
    /// Parse `qa_weights`; `None` is equal weights.
    pub fn parse(s: Option<&str>) -> Result<Self> {
        let mut w = [1.0; 4];
        let Some(s) = s else { return Ok(Weights(w)) };
        let bad = |why: String| {
            Error::unavailable(
                "invalid_configuration",
                format!("variable `qa_weights`: {why}"),
            )
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("`{part}` is not name=weight")))?;
            let i = CRITERIA
                .iter()
                .position(|c| *c == name.trim())
                .ok_or_else(|| {
                    bad(format!(
                        "unknown criterion `{}`; use {}",
                        name.trim(),
                        CRITERIA.join(", ")
                    ))
                })?;
            let v: f64 = value
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{value}` is not a number")))?;
            if !(0.0..=100.0).contains(&v) {
                return Err(bad(format!("weight {v} is out of 0..100")));
            }
            w[i] = v;
        }
        if w.iter().sum::<f64>() <= 0.0 {
            return Err(bad("the weights sum to zero".into()));
        }
        Ok(Weights(w))
    }
}

/// One criterion's grade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grade {
    /// 0-100.
    pub score: i64,
    /// Why.
    pub reason: String,
}

/// The four grades.
#[derive(Debug, Clone, PartialEq)]
pub struct Grades(pub [Grade; 4]);

impl Grades {
    /// The weighted mean, rounded to 0.01.
    pub fn overall(&self, w: &Weights) -> f64 {
        let total: f64 = w.0.iter().sum();
        let sum: f64 = self
            .0
            .iter()
            .zip(w.0.iter())
            .map(|(g, w)| g.score as f64 * w)
            .sum();
        ((sum / total) * 100.0).round() / 100.0
    }

    /// As stored and served: `{"clarity": {"score": 90, "reason": "..."}, ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (name, g) in CRITERIA.iter().zip(self.0.iter()) {
            m.insert(
                name.to_string(),
                serde_json::json!({ "score": g.score, "reason": g.reason }),
            );
        }
        serde_json::Value::Object(m)
    }

    /// Feedback on the criteria under `threshold` only (empty when none).
    pub fn feedback(&self, threshold: f64) -> String {
        let failed: Vec<String> = CRITERIA
            .iter()
            .zip(self.0.iter())
            .filter(|(_, g)| (g.score as f64) < threshold)
            .map(|(name, g)| {
                format!(
                    "- {} ({}/100): {}",
                    name.replace('_', " "),
                    g.score,
                    g.reason
                )
            })
            .collect();
        if failed.is_empty() {
            String::new()
        } else {
            format!(
                "A reviewer found these problems with the previous answer. Fix them and keep what was good:\n{}",
                failed.join("\n")
            )
        }
    }
}

/// The grading conversation for `brief` and `output`.
pub fn messages(brief: &str, output: &str) -> Vec<Message> {
    vec![
        Message::system(
            "You are a strict, fair quality reviewer. Grade the RESPONSE against the BRIEF on four criteria, \
             each an integer from 0 to 100: clarity, accuracy, completeness, professional_tone. \
             Answer with one JSON object and nothing else, exactly in this shape: \
             {\"clarity\":{\"score\":0,\"reason\":\"...\"},\"accuracy\":{\"score\":0,\"reason\":\"...\"},\
             \"completeness\":{\"score\":0,\"reason\":\"...\"},\"professional_tone\":{\"score\":0,\"reason\":\"...\"}}. \
             Each reason is one sentence naming what to improve, or what is good.",
        ),
        Message::user(format!("BRIEF:\n{brief}\n\nRESPONSE:\n{output}")),
    ]
}

/// The message sent after a malformed answer (once).
pub fn reask() -> Message {
    Message::user(
        "Your previous answer was not the required JSON object. Answer again with only the JSON object \
         with the four criteria, each with an integer score 0-100 and a reason.",
    )
}

/// Parse a grader's answer strictly: one JSON object (optionally in a
/// Markdown code fence), the four criteria, integer scores 0-100, string reasons.
pub fn parse(text: &str) -> std::result::Result<Grades, String> {
    let t = text.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .map(|rest| rest.trim_end().trim_end_matches("```").trim())
        .unwrap_or(t);
    let v: serde_json::Value = serde_json::from_str(t).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let mut grades = Vec::with_capacity(4);
    for name in CRITERIA {
        let c = obj
            .get(name)
            .ok_or_else(|| format!("missing criterion `{name}`"))?;
        let score = c
            .get("score")
            .and_then(|s| s.as_f64())
            .ok_or_else(|| format!("`{name}` has no numeric score"))?;
        if !(0.0..=100.0).contains(&score) || score.fract() != 0.0 {
            return Err(format!(
                "`{name}` score {score} is not an integer from 0 to 100"
            ));
        }
        let reason = c
            .get("reason")
            .and_then(|r| r.as_str())
            .ok_or_else(|| format!("`{name}` has no reason"))?;
        grades.push(Grade {
            score: score as i64,
            reason: reason.chars().take(500).collect(),
        });
    }
    let grades: [Grade; 4] = grades
        .try_into()
        .map_err(|_| "wrong number of criteria".to_string())?;
    Ok(Grades(grades))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"clarity":{"score":90,"reason":"clear"},"accuracy":{"score":70,"reason":"one wrong date"},"completeness":{"score":85,"reason":"ok"},"professional_tone":{"score":95,"reason":"good"}}"#;

    #[test]
    fn parses_strict_json_and_fenced_json() {
        let g = parse(GOOD).unwrap();
        assert_eq!(g.0[1].score, 70);
        assert_eq!(parse(&format!("```json\n{GOOD}\n```")).unwrap(), g);
    }

    #[test]
    fn refuses_malformed_grades() {
        for bad in [
            "Sure! Here are the grades",
            "[]",
            r#"{"clarity":{"score":90,"reason":"x"}}"#,
            &GOOD.replace("90", "\"90\""),
            &GOOD.replace("90", "101"),
            &GOOD.replace("90", "89.5"),
            &GOOD.replace("\"clear\"", "5"),
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weighted_mean_and_feedback_on_failed_criteria_only() {
        let g = parse(GOOD).unwrap();
        assert_eq!(g.overall(&Weights::parse(None).unwrap()), 85.0);
        let w = Weights::parse(Some("accuracy=2")).unwrap();
        assert_eq!(g.overall(&w), 82.0);
        let fb = g.feedback(80.0);
        assert!(fb.contains("accuracy (70/100): one wrong date"));
        assert!(!fb.contains("clarity"));
        assert_eq!(g.feedback(60.0), "");
        assert!(Weights::parse(Some("speed=1")).is_err());
        assert!(Weights::parse(Some(
            "clarity=0,accuracy=0,completeness=0,professional_tone=0"
        ))
        .is_err());
    }
}
