//! Calling a model: OpenAI-compatible chat completions over HTTP, Spin
//! Serverless AI, or the simulated provider. Rate limits and server errors
//! are retried inside the call when the wait is short; a long Retry-After
//! comes back as [`AiError::RateLimited`] so the job is snoozed, not failed.

use super::settings::{AiSettings, Provider};
use crate::ports::{Env, HttpError, OutboundRequest};
use serde::Serialize;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    /// The text.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(s: impl Into<String>) -> Self {
        Message {
            role: "system",
            content: s.into(),
        }
    }
    /// A user message.
    pub fn user(s: impl Into<String>) -> Self {
        Message {
            role: "user",
            content: s.into(),
        }
    }
    /// An assistant message.
    pub fn assistant(s: impl Into<String>) -> Self {
        Message {
            role: "assistant",
            content: s.into(),
        }
    }
}

/// A model's answer and what it used.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The text.
    pub text: String,
    /// Prompt tokens, as the provider reported them.
    pub tokens_in: i64,
    /// Completion tokens, as the provider reported them.
    pub tokens_out: i64,
    /// The model that answered (and bills).
    pub model: String,
    /// Wall time of the call, including in-call retries.
    pub latency_ms: f64,
    /// From the simulated provider.
    pub simulated: bool,
}

/// Why a call produced no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum AiError {
    /// Rate limited for longer than is worth waiting: try again after this.
    RateLimited {
        /// Milliseconds to wait.
        retry_after_ms: u64,
    },
    /// Might work later (server error, timeout, malformed answer).
    Transient(String),
    /// Will not work by retrying (bad key, bad request, host not allowed).
    Permanent(String),
}

impl std::fmt::Display for AiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AiError::RateLimited { retry_after_ms } => {
                write!(f, "rate limited; retry after {retry_after_ms} ms")
            }
            AiError::Transient(m) => write!(f, "transient: {m}"),
            AiError::Permanent(m) => write!(f, "permanent: {m}"),
        }
    }
}

/// What a call asks for.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The model.
    pub model: &'a str,
    /// The conversation.
    pub messages: &'a [Message],
    /// Ask for a JSON object (graders).
    pub json: bool,
    /// Give up after this long.
    pub timeout_ms: u64,
    /// Sampling temperature.
    pub temperature: f32,
}

/// Tries per call for rate limits and server errors.
const TRIES: u32 = 3;

/// Run `call` on the configured provider.
pub async fn complete(env: &Env, s: &AiSettings, call: &Call<'_>) -> Result<Completion, AiError> {
    let started = env.clock.monotonic_ms();
    let mut c = match &s.provider {
        Provider::OpenAi {
            api_key,
            base_url,
            chat_path,
        } => openai(env, s, call, api_key, &format!("{base_url}{chat_path}")).await?,
        Provider::SpinLlm => spin_llm(env, call)?,
        Provider::Simulated => super::simulated::complete(call),
    };
    c.latency_ms = env.clock.monotonic_ms() - started;
    Ok(c)
}

fn retry_after_ms(headers: &crate::ports::OutboundResponse) -> Option<u64> {
    if let Some(ms) = headers
        .header("retry-after-ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(ms);
    }
    headers.retry_after_secs().map(|s| (s * 1000.0) as u64)
}

fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
}

async fn openai(
    env: &Env,
    s: &AiSettings,
    call: &Call<'_>,
    key: &str,
    url: &str,
) -> Result<Completion, AiError> {
    let mut body = serde_json::json!({
        "model": call.model,
        "messages": call.messages,
        "temperature": call.temperature,
    });
    if call.json {
        body["response_format"] = serde_json::json!({ "type": "json_object" });
    }
    let mut last = AiError::Transient("no attempt made".into());
    for attempt in 0..TRIES {
        let req = OutboundRequest::new("POST", url)
            .header("authorization", format!("Bearer {key}"))
            .json(&body)
            .timeout_ms(call.timeout_ms);
        let resp = match env.http.send(req).await {
            Ok(r) => r,
            Err(HttpError::NotAllowed(u)) => {
                return Err(AiError::Permanent(format!(
                    "{u} is not in this component's allowed_outbound_hosts (check openai_base_url)"
                )))
            }
            Err(HttpError::Timeout) => {
                return Err(AiError::Transient(format!(
                    "no answer within {} ms",
                    call.timeout_ms
                )))
            }
            Err(e) => {
                last = AiError::Transient(e.to_string());
                env.clock.sleep(250 << attempt).await;
                continue;
            }
        };
        match resp.status {
            200..=299 => return parse_openai(call.model, &resp.body),
            429 => {
                let wait = retry_after_ms(&resp).unwrap_or(1000 << attempt);
                if wait > s.max_inline_wait_ms || attempt + 1 == TRIES {
                    return Err(AiError::RateLimited {
                        retry_after_ms: wait.max(1000),
                    });
                }
                env.clock.sleep(wait).await;
                last = AiError::RateLimited {
                    retry_after_ms: wait,
                };
            }
            408 | 409 | 500..=599 => {
                last = AiError::Transient(format!(
                    "HTTP {}: {}",
                    resp.status,
                    error_message(&resp.body)
                ));
                let wait = retry_after_ms(&resp).unwrap_or(500 << attempt);
                if wait > s.max_inline_wait_ms {
                    return Err(last);
                }
                if attempt + 1 < TRIES {
                    env.clock.sleep(wait).await;
                }
            }
            status => {
                return Err(AiError::Permanent(format!(
                    "HTTP {status}: {}",
                    error_message(&resp.body)
                )))
            }
        }
    }
    Err(last)
}

fn parse_openai(requested: &str, body: &[u8]) -> Result<Completion, AiError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| AiError::Transient(format!("malformed answer: {e}")))?;
    let text = v
        .pointer("/choices/0/message/content")
        .and_then(|c| c.as_str())
        .ok_or_else(|| AiError::Transient("answer has no choices[0].message.content".into()))?;
    let usage = |k: &str| {
        v.pointer(&format!("/usage/{k}"))
            .and_then(|n| n.as_i64())
            .unwrap_or(0)
    };
    Ok(Completion {
        text: text.to_string(),
        tokens_in: usage("prompt_tokens"),
        tokens_out: usage("completion_tokens"),
        model: v
            .get("model")
            .and_then(|m| m.as_str())
            .unwrap_or(requested)
            .to_string(),
        latency_ms: 0.0,
        simulated: false,
    })
}

fn spin_llm(env: &Env, call: &Call<'_>) -> Result<Completion, AiError> {
    let mut prompt = String::new();
    for m in call.messages {
        let who = match m.role {
            "system" => "System",
            "assistant" => "Assistant",
            _ => "User",
        };
        prompt.push_str(&format!("{who}: {}\n\n", m.content));
    }
    prompt.push_str("Assistant:");
    let r = env
        .llm
        .infer(call.model, &prompt, 1024, call.temperature)
        .map_err(|e| {
            if e.contains("ModelNotSupported") || e.contains("not available") {
                AiError::Permanent(e)
            } else {
                AiError::Transient(e)
            }
        })?;
    Ok(Completion {
        text: r.text.trim().to_string(),
        tokens_in: r.prompt_tokens,
        tokens_out: r.generated_tokens,
        model: format!("spin:{}", call.model),
        latency_ms: 0.0,
        simulated: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openai_answers() {
        let body = br#"{"id":"x","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#;
        let c = parse_openai("gpt-4o", body).unwrap();
        assert_eq!(
            (c.text.as_str(), c.tokens_in, c.tokens_out, c.model.as_str()),
            ("Hi", 12, 3, "gpt-4o-2024-08-06")
        );
        assert!(matches!(
            parse_openai("m", b"{}"),
            Err(AiError::Transient(_))
        ));
        assert!(matches!(
            parse_openai("m", b"<html>"),
            Err(AiError::Transient(_))
        ));
    }
}
