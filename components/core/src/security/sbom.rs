//! `GET /api/security/sbom`: the CycloneDX document generated at build time
//! (see [`super::cyclonedx`]), stamped with this build's time, version and
//! git revision when served.

use super::embedded;
use crate::build_info;
use crate::error::{Error, Result};
use serde_json::{json, Value};

/// The media type of a CycloneDX JSON document.
pub const CONTENT_TYPE: &str = "application/vnd.cyclonedx+json; version=1.5";

/// The served document: the embedded one with `metadata.timestamp` (the
/// build time), the application's version and its git revision.
pub fn document() -> Result<Value> {
    let e = embedded::get().ok_or_else(|| {
        Error::unavailable(
            "sbom_unavailable",
            "this component was built without a software bill of materials",
        )
    })?;
    let mut doc: Value = serde_json::from_str(e.sbom)
        .map_err(|err| Error::internal(format!("the embedded SBOM is not JSON: {err}")))?;
    let build = build_info::get();
    doc["metadata"]["timestamp"] = json!(build.build_time);
    doc["metadata"]["component"]["properties"] = json!([
        { "name": "echopilot:git_sha", "value": build.git_sha },
        { "name": "echopilot:dirty", "value": build.dirty.to_string() },
    ]);
    Ok(doc)
}

/// The file name a download is saved under.
pub fn filename() -> String {
    format!(
        "echopilot-{}-{}.cdx.json",
        build_info::VERSION,
        build_info::get().git_sha_short
    )
}
