//! The run's JSON report, `report.json`: one section per step, each step rewriting only its own
//! section (atomically), so the file always describes the latest of every step.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::atomic::write_json_atomic;
use super::error::{Result, TrainError};

/// Sets `section` of the report at `path` to `value`, keeping the other sections, and records
/// the process's peak memory so far under `peak_memory_bytes.<section>` (where the system says it).
pub fn update_section<T: Serialize>(path: &Path, section: &str, value: &T) -> Result<()> {
    let mut report = match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => map,
            // A damaged report is rebuilt rather than blocking the run; the checkpoints hold the truth.
            _ => Map::new(),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(TrainError::io("read", path)(e)),
    };
    report.insert(
        section.into(),
        serde_json::to_value(value).expect("report sections serialise to JSON"),
    );
    if let Some(bytes) = peak_memory_bytes() {
        let peaks = report
            .entry(PEAK_MEMORY)
            .or_insert_with(|| Value::Object(Map::new()));
        if !peaks.is_object() {
            *peaks = Value::Object(Map::new());
        }
        peaks[section] = bytes.into();
    }
    write_json_atomic(path, &Value::Object(report))
}

/// The report's section of peak memory per step.
const PEAK_MEMORY: &str = "peak_memory_bytes";

/// The most resident memory this process has used (Linux's `VmHWM`): for one step's subcommand
/// that step's peak, for `pipeline` the peak of the steps so far. `None` where the system does not
/// say.
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Reads `section` of the report at `path`, if present.
pub fn read_section<T: for<'de> Deserialize<'de>>(path: &Path, section: &str) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    let report: Value = serde_json::from_slice(&bytes).ok()?;
    serde_json::from_value(report.get(section)?.clone()).ok()
}
