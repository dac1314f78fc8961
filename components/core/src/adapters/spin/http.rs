use super::clock::Deadline;
use crate::ports::{HttpClient, HttpError, OutboundRequest, OutboundResponse};
use futures::future::{select, Either, LocalBoxFuture};
use spin_sdk::http::{ErrorCode, Method, Request, Response, SendError};

/// Outbound HTTP through Spin (`wasi:http/outgoing-handler`), limited by
/// the component's `allowed_outbound_hosts`, with a whole-exchange timeout.
pub struct SpinHttp;

fn method(m: &str) -> Method {
    match m {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    }
}

fn classify(url: &str, e: SendError) -> HttpError {
    match e {
        SendError::Http(ErrorCode::HttpRequestDenied) => HttpError::NotAllowed(url.to_string()),
        SendError::Http(
            ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout
            | ErrorCode::DnsTimeout,
        ) => HttpError::Timeout,
        SendError::Http(
            code @ (ErrorCode::ConnectionRefused
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DnsError(_)
            | ErrorCode::TlsProtocolError
            | ErrorCode::TlsCertificateError
            | ErrorCode::ConnectionTerminated),
        ) => HttpError::Connect(format!("{code:?}")),
        other => HttpError::Other(other.to_string()),
    }
}

impl HttpClient for SpinHttp {
    fn send(
        &self,
        req: OutboundRequest,
    ) -> LocalBoxFuture<'_, Result<OutboundResponse, HttpError>> {
        Box::pin(async move {
            let mut builder = Request::builder();
            builder.method(method(&req.method)).uri(req.url.clone());
            for (k, v) in req.wire_headers() {
                builder.header(k, v);
            }
            let request = builder.body(req.body).build();
            let deadline = Deadline::after_ms(req.timeout_ms);
            let exchange = Box::pin(spin_sdk::http::send::<_, Response>(request));
            match select(exchange, Box::pin(deadline)).await {
                Either::Left((Ok(resp), _)) => Ok(OutboundResponse {
                    status: *resp.status(),
                    headers: resp
                        .headers()
                        .map(|(k, v)| {
                            (
                                k.to_ascii_lowercase(),
                                v.as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect(),
                    body: resp.into_body(),
                }),
                Either::Left((Err(e), _)) => Err(classify(&req.url, e)),
                Either::Right(_) => Err(HttpError::Timeout),
            }
        })
    }
}
