//! The AI and worker settings, read from variables once per run.

use super::grader::Weights;
use super::pricing::PriceTable;
use crate::config;
use crate::error::Result;
use crate::ports::Config;

/// Which backend does the work.
#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    /// An OpenAI-compatible chat completions endpoint.
    OpenAi {
        /// `openai_api_key`.
        api_key: String,
        /// `openai_base_url` (an origin).
        base_url: String,
        /// `openai_chat_path`.
        chat_path: String,
    },
    /// Spin Serverless AI (`fermyon:spin/llm`).
    SpinLlm,
    /// Deterministic offline answers, marked as simulated.
    Simulated,
}

impl Provider {
    /// Its name, as stored on jobs and attempts.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::OpenAi { .. } => "openai",
            Provider::SpinLlm => "spin-llm",
            Provider::Simulated => "simulated",
        }
    }
}

/// Settings for doing and grading work.
#[derive(Debug, Clone)]
pub struct AiSettings {
    /// The backend.
    pub provider: Provider,
    /// The model that does the work.
    pub work_model: String,
    /// The model that grades.
    pub qa_model: String,
    /// Pass mark for the weighted mean, 0-100.
    pub qa_threshold: f64,
    /// Re-runs with feedback after a failed grade.
    pub qa_max_retries: i64,
    /// Criterion weights.
    pub weights: Weights,
    /// Share of graded outputs graded twice, 0-1.
    pub consistency_sample: f64,
    /// The price table.
    pub prices: PriceTable,
    /// Timeout of one work call.
    pub work_timeout_ms: u64,
    /// Timeout of one grading call.
    pub qa_timeout_ms: u64,
    /// The longest Retry-After worth waiting for inside a call; longer ones
    /// snooze the job instead.
    pub max_inline_wait_ms: u64,
}

impl AiSettings {
    /// Read from variables. With `ai_provider = openai` (the default) but no
    /// `openai_api_key`, the simulated provider runs, so the app works with
    /// no configuration at all.
    pub fn load(c: &dyn Config) -> Result<Self> {
        let provider = match config::text_or(c, "ai_provider", "openai")?.as_str() {
            "openai" => match config::text(c, "openai_api_key")? {
                Some(api_key) => Provider::OpenAi {
                    api_key,
                    base_url: openai_origin(c)?,
                    chat_path: chat_path(c)?,
                },
                None => Provider::Simulated,
            },
            "spin-llm" => Provider::SpinLlm,
            "simulated" => Provider::Simulated,
            other => {
                return Err(config::invalid(
                    "ai_provider",
                    "openai, spin-llm or simulated",
                    other,
                ))
            }
        };
        let (work_model, qa_model) = match &provider {
            Provider::OpenAi { .. } => (
                config::text_or(c, "openai_model", "gpt-4o")?,
                config::text_or(c, "openai_qa_model", "gpt-4o-mini")?,
            ),
            Provider::SpinLlm => {
                let m = config::text_or(c, "spin_llm_model", "llama2-chat")?;
                (m.clone(), m)
            }
            Provider::Simulated => ("simulated".to_string(), "simulated".to_string()),
        };
        Ok(AiSettings {
            provider,
            work_model,
            qa_model,
            qa_threshold: config::float(c, "qa_threshold", 80.0, 0.0, 100.0)?,
            qa_max_retries: config::int(c, "qa_max_retries", 2, 0, 5)?,
            weights: Weights::parse(config::text(c, "qa_weights")?.as_deref())?,
            consistency_sample: config::float(c, "qa_consistency_sample", 0.1, 0.0, 1.0)?,
            prices: PriceTable::with_override(config::text(c, "price_table")?.as_deref())?,
            work_timeout_ms: config::int(c, "openai_timeout_ms", 60_000, 1_000, 600_000)? as u64,
            qa_timeout_ms: config::int(c, "openai_qa_timeout_ms", 30_000, 1_000, 600_000)? as u64,
            max_inline_wait_ms: 5_000,
        })
    }
}

/// `openai_base_url` as an origin. The form OpenAI-compatible servers
/// document, `http://localhost:11434/v1`, cannot work (see
/// [`config::origin`]); its error gives the two settings that do.
fn openai_origin(c: &dyn Config) -> Result<String> {
    const NAME: &str = "openai_base_url";
    config::origin(c, NAME, "https://api.openai.com").map_err(|e| {
        let value = config::text(c, NAME).ok().flatten().unwrap_or_default();
        match config::split_origin(&value) {
            Some((origin, path)) if !path.is_empty() => config::invalid(
                NAME,
                &format!(
                    "an origin without a path (spin.toml allows outbound requests to this \
                     variable's value, and Spin refuses a value with a path): set \
                     openai_base_url={origin} and openai_chat_path={path}/chat/completions"
                ),
                &value,
            ),
            _ => e,
        }
    })
}

fn chat_path(c: &dyn Config) -> Result<String> {
    let p = config::text_or(c, "openai_chat_path", "/v1/chat/completions")?;
    if p.starts_with('/') && !p.contains("..") && !p.contains(char::is_whitespace) {
        Ok(p)
    } else {
        Err(config::invalid(
            "openai_chat_path",
            "a path starting with /, like /v1/chat/completions",
            &p,
        ))
    }
}

/// Settings for the worker's ticks.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Jobs in flight at once in one tick, per autoscaler worker
    /// (`worker_concurrency`; [`super::worker::drain`] multiplies it).
    pub concurrency: usize,
    /// Stop claiming new jobs after this long (in-flight jobs finish).
    pub tick_budget_ms: f64,
    /// How long a claim holds a job.
    pub lease_ms: i64,
    /// A due job gains a priority level per this much waiting.
    pub aging_ms: i64,
    /// Backoff base after a failed attempt.
    pub retry_base_ms: i64,
    /// Backoff cap.
    pub retry_cap_ms: i64,
}

impl WorkerSettings {
    /// Read from variables.
    pub fn load(c: &dyn Config) -> Result<Self> {
        Ok(WorkerSettings {
            concurrency: config::int(c, "worker_concurrency", 16, 1, 1024)? as usize,
            tick_budget_ms: config::int(c, "worker_tick_budget_ms", 4_000, 100, 600_000)? as f64,
            lease_ms: config::int(c, "worker_lease_ms", 600_000, 10_000, 3_600_000)?,
            aging_ms: config::int(c, "queue_aging_ms", 600_000, 1_000, 86_400_000)?,
            retry_base_ms: config::int(c, "retry_base_ms", 30_000, 0, 86_400_000)?,
            retry_cap_ms: config::int(c, "retry_cap_ms", 3_600_000, 0, 604_800_000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    #[test]
    fn no_key_means_simulated() {
        let s = AiSettings::load(&MapConfig::new(&[])).unwrap();
        assert_eq!(s.provider, Provider::Simulated);
        assert_eq!(
            (s.work_model.as_str(), s.qa_threshold, s.qa_max_retries),
            ("simulated", 80.0, 2)
        );
    }

    #[test]
    fn openai_with_a_key() {
        let s = AiSettings::load(&MapConfig::new(&[
            ("openai_api_key", "sk-x"),
            ("openai_base_url", "http://127.0.0.1:9"),
        ]))
        .unwrap();
        assert_eq!(s.provider.name(), "openai");
        assert_eq!(
            (s.work_model.as_str(), s.qa_model.as_str()),
            ("gpt-4o", "gpt-4o-mini")
        );
        assert!(AiSettings::load(&MapConfig::new(&[("ai_provider", "gpt")])).is_err());
        assert!(AiSettings::load(&MapConfig::new(&[("qa_threshold", "120")])).is_err());
    }

    #[test]
    fn a_base_url_with_v1_names_the_two_settings_that_work() {
        let err = AiSettings::load(&MapConfig::new(&[
            ("openai_api_key", "sk-x"),
            ("openai_base_url", "http://localhost:11434/v1"),
        ]))
        .unwrap_err();
        let problem = config::Problem::of(&err.to_string()).unwrap();
        assert_eq!(problem.variable, "openai_base_url");
        assert!(
            problem.expected.ends_with(
                "set openai_base_url=http://localhost:11434 and openai_chat_path=/v1/chat/completions"
            ),
            "{problem:?}"
        );
    }
}
