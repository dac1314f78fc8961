use crate::ports::{Inference, Llm};
use spin_sdk::llm::{self, InferencingModel, InferencingParams};

/// Spin Serverless AI (`fermyon:spin/llm@2.0.0`).
pub struct SpinLlm;

impl Llm for SpinLlm {
    fn infer(
        &self,
        model: &str,
        prompt: &str,
        max_tokens: u32,
        temperature: f32,
    ) -> Result<Inference, String> {
        let params = InferencingParams {
            max_tokens,
            temperature,
            ..Default::default()
        };
        match llm::infer_with_options(InferencingModel::Other(model), prompt, params) {
            Ok(r) => Ok(Inference {
                text: r.text,
                prompt_tokens: r.usage.prompt_token_count as i64,
                generated_tokens: r.usage.generated_token_count as i64,
            }),
            Err(e) => Err(format!("{e:?}")),
        }
    }
}
