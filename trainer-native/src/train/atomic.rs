//! Crash-safe file writes: a reader sees either the old file or the complete new one, never a
//! torn write, so an interrupted run can always resume from its last checkpoint.

use std::io::Write;
use std::path::Path;

use super::error::{Result, TrainError};

/// Writes `bytes` to a temporary file in `path`'s folder, fsyncs it, renames it over `path`, and
/// fsyncs the folder so the rename itself survives a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(TrainError::io("create folder", dir))?;
    let mut builder = tempfile::Builder::new();
    // Temporary files are private (0600) by default; results are ordinary files.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(TrainError::io("create a temporary file in", dir))?;
    tmp.write_all(bytes)
        .map_err(TrainError::io("write", tmp.path()))?;
    tmp.as_file()
        .sync_all()
        .map_err(TrainError::io("sync", tmp.path()))?;
    tmp.persist(path).map_err(|e| TrainError::Io {
        action: "replace",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    // Directory fsync is not supported everywhere (e.g. Windows); the data itself is already synced.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).expect("report types serialise to JSON");
    write_atomic(path, &json)
}
