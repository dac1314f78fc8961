//! Spin Serverless AI (`fermyon:spin/llm`): inference on models the
//! platform hosts. One call at a time (the host call blocks).

/// The result of one inference.
#[derive(Debug, Clone, PartialEq)]
pub struct Inference {
    /// The generated text.
    pub text: String,
    /// Tokens in the prompt.
    pub prompt_tokens: i64,
    /// Tokens generated.
    pub generated_tokens: i64,
}

/// Platform-hosted inference.
pub trait Llm {
    /// Run `prompt` on `model` (which the component must list in `ai_models`).
    fn infer(
        &self,
        model: &str,
        prompt: &str,
        max_tokens: u32,
        temperature: f32,
    ) -> Result<Inference, String>;
}

/// No platform inference (native tests, or a platform without it).
pub struct NoLlm;

impl Llm for NoLlm {
    fn infer(&self, model: &str, _: &str, _: u32, _: f32) -> Result<Inference, String> {
        Err(format!(
            "model `{model}` is not available: this platform has no Serverless AI"
        ))
    }
}
