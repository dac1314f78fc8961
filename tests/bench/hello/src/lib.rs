//! Benchmark baseline: a hello world answering fixed JSON. What any Spin
//! HTTP component costs at the least (instantiation, routing, one response),
//! the yardstick for routes that touch no state (static files).

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
fn handle(_req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    spin_sdk::http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(r#"{"ok":true,"data":{"hello":"world"}}"#)
        .build()
}
