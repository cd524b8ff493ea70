//! Downloads MNIST and CIFAR-10 for users who are online and start with an empty folder.
//! Everything is checked against the published MD5 before it is kept, and every file appears
//! under its final name only once complete (temp file in the same folder, then an atomic rename),
//! so an interrupted download never leaves a half file that a loader would take for data.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

use flate2::read::GzDecoder;
use md5::{Digest, Md5};
use tempfile::NamedTempFile;

use super::{DataError, Result};
use crate::progress::bytes_bar;

/// The official CIFAR-10 binary tarball and its published MD5.
pub const CIFAR10_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
pub const CIFAR10_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
/// The folder inside the CIFAR-10 tarball whose files are unpacked (flat) into the target folder.
pub const CIFAR10_TAR_DIR: &str = "cifar-10-batches-bin";

/// MNIST mirrors tried in order (LeCun's own site refuses downloads now).
pub const MNIST_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];
/// The four .gz files with their published MD5s (those of the original LeCun downloads).
pub const MNIST_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "d53e105ee54ea40749a09fcbcd1e9432",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "9fb629c4189551a2d022fa330f9573f3",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
];

/// Where the data sets are downloaded from: the official sources by default ([`Sources::official`]);
/// the tests point them at a local server.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Folder URLs (ending in `/`) tried in order for each MNIST file.
    pub mnist_mirrors: Vec<String>,
    /// The MNIST files and their MD5s.
    pub mnist_files: Vec<(String, String)>,
    pub cifar10_url: String,
    pub cifar10_md5: String,
}

impl Sources {
    pub fn official() -> Self {
        Self {
            mnist_mirrors: MNIST_MIRRORS.iter().map(|m| m.to_string()).collect(),
            mnist_files: MNIST_FILES
                .iter()
                .map(|(name, md5)| (name.to_string(), md5.to_string()))
                .collect(),
            cifar10_url: CIFAR10_URL.into(),
            cifar10_md5: CIFAR10_MD5.into(),
        }
    }
}

/// Downloads the MNIST files missing from `dir` (created if needed).
pub fn download_mnist(dir: &Path, sources: &Sources) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(DataError::io(dir))?;
    for (name, md5) in &sources.mnist_files {
        let dest = dir.join(name);
        if dest.is_file() {
            continue;
        }
        let mut last_error = None;
        for mirror in &sources.mnist_mirrors {
            let url = format!("{mirror}{name}");
            match get(&url).and_then(|body| save_verified(body, md5, &dest, &url)) {
                Ok(()) => {
                    last_error = None;
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        if let Some(e) = last_error {
            return Err(e);
        }
    }
    Ok(())
}

/// Downloads the CIFAR-10 binary tarball and unpacks it flat into `dir` (created if needed),
/// unless `dir` already holds its test batch.
pub fn download_cifar10(dir: &Path, sources: &Sources) -> Result<()> {
    if dir.join("test_batch.bin").is_file() {
        return Ok(());
    }
    let url = &sources.cifar10_url;
    install_cifar10(get(url)?, &sources.cifar10_md5, dir, url)
}

/// Reads a CIFAR-10 tarball from `tarball`, checks its MD5 and only then unpacks the files of
/// [`CIFAR10_TAR_DIR`] into `dir`. `what` names the source in errors.
pub fn install_cifar10(
    tarball: impl Read,
    expected_md5: &str,
    dir: &Path,
    what: &str,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(DataError::io(dir))?;
    let mut temp = NamedTempFile::new_in(dir).map_err(DataError::io(dir))?;
    copy_checked(tarball, temp.as_file_mut(), expected_md5, what)?;
    let mut file = temp.reopen().map_err(DataError::io(temp.path()))?;
    unpack_cifar10(&mut file, dir, what)
}

/// Streams `body` into `dest` if its MD5 is `expected_md5`; `dest` is not created otherwise.
pub fn save_verified(body: impl Read, expected_md5: &str, dest: &Path, what: &str) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut temp = NamedTempFile::new_in(dir).map_err(DataError::io(dir))?;
    copy_checked(body, temp.as_file_mut(), expected_md5, what)?;
    temp.persist(dest).map_err(|e| DataError::Io {
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// MD5 of a file, lowercase hex.
pub fn md5_file(path: &Path) -> Result<String> {
    let mut hasher = Md5::new();
    io::copy(
        &mut File::open(path).map_err(DataError::io(path))?,
        &mut hasher,
    )
    .map_err(DataError::io(path))?;
    Ok(hex(&hasher.finalize()))
}

/// GET with timeouts on connecting and on each read, so a stalled server gives an error rather
/// than a hang (no overall limit: CIFAR-10 is 162 MB); the body is read with a progress bar.
fn get(url: &str) -> Result<impl Read + use<>> {
    let agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .new_agent();
    let response = agent.get(url).call().map_err(|e| DataError::Download {
        url: url.into(),
        message: e.to_string(),
    })?;
    let length = response.body().content_length();
    let name = url.rsplit('/').next().unwrap_or(url);
    Ok(bytes_bar(length, name).wrap_read(response.into_body().into_reader()))
}

/// Copies `from` into `to` while hashing; fails if the MD5 differs.
fn copy_checked(from: impl Read, to: &mut File, expected_md5: &str, what: &str) -> Result<()> {
    let mut hashing = HashingReader {
        inner: from,
        hasher: Md5::new(),
    };
    io::copy(&mut hashing, to)
        .and_then(|_| to.flush())
        .map_err(|e| DataError::Download {
            url: what.into(),
            message: e.to_string(),
        })?;
    let found = hex(&hashing.hasher.finalize());
    if !found.eq_ignore_ascii_case(expected_md5) {
        return Err(DataError::Checksum {
            what: what.into(),
            expected: expected_md5.into(),
            found,
        });
    }
    Ok(())
}

/// Unpacks the regular files directly inside [`CIFAR10_TAR_DIR`] (names only, so no entry can
/// write outside `dir`), each through a temp file and a rename.
fn unpack_cifar10(tar_gz: &mut File, dir: &Path, what: &str) -> Result<()> {
    let bad = |e: io::Error| DataError::Invalid {
        path: what.into(),
        message: format!("not a readable tar.gz: {e}"),
    };
    let mut archive = tar::Archive::new(GzDecoder::new(tar_gz));
    let mut unpacked = 0;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let in_dir = path
            .parent()
            .is_some_and(|p| p == Path::new(CIFAR10_TAR_DIR));
        let Some(name) = path
            .file_name()
            .filter(|_| in_dir && entry.header().entry_type().is_file())
        else {
            continue;
        };
        let dest = dir.join(name);
        let mut temp = NamedTempFile::new_in(dir).map_err(DataError::io(dir))?;
        io::copy(&mut entry, temp.as_file_mut()).map_err(bad)?;
        temp.persist(&dest).map_err(|e| DataError::Io {
            path: dest.clone(),
            source: e.error,
        })?;
        unpacked += 1;
    }
    if unpacked == 0 {
        return Err(DataError::Invalid {
            path: what.into(),
            message: format!("no files under {CIFAR10_TAR_DIR}/"),
        });
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct HashingReader<R> {
    inner: R,
    hasher: Md5,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
