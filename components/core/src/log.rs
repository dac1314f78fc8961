//! Structured log lines (one JSON object per line on stderr, which Spin
//! collects per component).

fn line(level: &str, area: &str, message: &str) {
    let v = serde_json::json!({ "level": level, "area": area, "msg": message });
    eprintln!("{v}");
}

/// Something worth knowing that needs no action.
pub fn info(area: &str, message: &str) {
    line("info", area, message);
}

/// Something degraded that still works.
pub fn warn(area: &str, message: &str) {
    line("warn", area, message);
}

/// Something failed.
pub fn error(area: &str, message: &str) {
    line("error", area, message);
}
