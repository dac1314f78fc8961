use crate::ports::{HttpClient, HttpError, OutboundRequest, OutboundResponse};
use futures::future::LocalBoxFuture;
use std::sync::Mutex;

type Responder = Box<dyn Fn(&OutboundRequest) -> Result<OutboundResponse, HttpError> + Send + Sync>;

/// An HTTP client whose answers a test scripts; it records every request.
pub struct ScriptedHttp {
    respond: Responder,
    sent: Mutex<Vec<OutboundRequest>>,
}

impl ScriptedHttp {
    /// Answer every request with `respond`.
    pub fn new(
        respond: impl Fn(&OutboundRequest) -> Result<OutboundResponse, HttpError>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        ScriptedHttp {
            respond: Box::new(respond),
            sent: Mutex::new(Vec::new()),
        }
    }

    /// Refuse every destination, like a component with no allowed hosts.
    pub fn deny_all() -> Self {
        Self::new(|r| Err(HttpError::NotAllowed(r.url.clone())))
    }

    /// Every request sent so far.
    pub fn sent(&self) -> Vec<OutboundRequest> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl HttpClient for ScriptedHttp {
    fn send(
        &self,
        req: OutboundRequest,
    ) -> LocalBoxFuture<'_, Result<OutboundResponse, HttpError>> {
        let answer = (self.respond)(&req);
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(req);
        Box::pin(async move { answer })
    }
}
