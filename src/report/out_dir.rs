//! What `serve` and the proxy write to `--out` when they stop: the ownership log as the
//! snapshot holds it, the report as their `/_dpsim/report` answers it, and the report page.

use std::path::Path;

use serde_json::Value;

use crate::trace::Trace;

use super::Report;

/// Writes `log.txt`, `report.json` (`json`, the server's own report answer) and
/// `report.html` (titled `title`) into `dir`, creating it.
pub(crate) fn write(dir: &Path, title: &str, report: &Report, json: &Value, trace: &Trace) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("log.txt"), report.snapshot_text())?;
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(json).unwrap_or_default())?;
    std::fs::write(dir.join("report.html"), super::page::render(title, report, trace))
}
