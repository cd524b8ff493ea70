//! Downloading MNIST and CIFAR-10, against a local HTTP server on 127.0.0.1 serving small fixture
//! archives made here (never the internet): good files are kept and load; a wrong checksum, a
//! server error and a connection cut mid-file are errors that leave nothing behind. And the
//! command line: the default data folder, and `--download` where nothing can be downloaded.
//! Also the pieces under them: unpacking a tarball, and keeping only files of the right MD5.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;
use trainer_native::data::download::{self, Sources, download_cifar10, download_mnist};
use trainer_native::data::{DataError, cifar10, mnist};

mod support;
use support::{cifar_tarball, md5_hex};

/// Serves `files` by name under four routes: `/good/` as they are, `/corrupt/` with one byte
/// changed, `/error/` as HTTP 500, and `/cut/` announcing the whole length but closing the
/// connection halfway. Returns the base URL.
fn serve(files: HashMap<String, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            // The rest of the request head.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (route, name) = path[1..].split_once('/').unwrap_or(("", ""));
            let Some(body) = files.get(name) else {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                continue;
            };
            let head = |status: &str, length: usize| {
                format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
                )
            };
            let _ = match route {
                "good" => stream
                    .write_all(head("200 OK", body.len()).as_bytes())
                    .and_then(|()| stream.write_all(body)),
                "corrupt" => {
                    let mut changed = body.clone();
                    let last = changed.len() - 1;
                    changed[last] ^= 0xff;
                    stream
                        .write_all(head("200 OK", body.len()).as_bytes())
                        .and_then(|()| stream.write_all(&changed))
                }
                "cut" => stream
                    .write_all(head("200 OK", body.len()).as_bytes())
                    .and_then(|()| stream.write_all(&body[..body.len() / 2])),
                _ => stream.write_all(head("500 Internal Server Error", 0).as_bytes()),
            };
        }
    });
    base
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// MNIST's four gzipped idx files with `n` digits each (train and test), by file name.
fn mnist_fixture(n: usize) -> HashMap<String, Vec<u8>> {
    let images = |n: usize| {
        let mut bytes = [0x803u32, n as u32, 28, 28]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect::<Vec<u8>>();
        bytes.extend((0..n * 784).map(|i| (i % 251) as u8));
        bytes
    };
    let labels = |n: usize| {
        let mut bytes = [0x801u32, n as u32]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect::<Vec<u8>>();
        bytes.extend((0..n).map(|i| (i % 10) as u8));
        bytes
    };
    [
        ("train-images-idx3-ubyte.gz", gzip(&images(n))),
        ("train-labels-idx1-ubyte.gz", gzip(&labels(n))),
        ("t10k-images-idx3-ubyte.gz", gzip(&images(n))),
        ("t10k-labels-idx1-ubyte.gz", gzip(&labels(n))),
    ]
    .into_iter()
    .map(|(name, bytes)| (name.to_string(), bytes))
    .collect()
}

fn mnist_sources(files: &HashMap<String, Vec<u8>>, mirrors: Vec<String>) -> Sources {
    let mut sources = Sources::official();
    sources.mnist_mirrors = mirrors;
    sources.mnist_files = files
        .iter()
        .map(|(name, bytes)| (name.clone(), md5_hex(bytes)))
        .collect();
    sources
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn mnist_is_downloaded_checked_and_loads_even_when_the_first_mirror_fails() {
    let files = mnist_fixture(7);
    let base = serve(files.clone());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("mnist");
    let sources = mnist_sources(
        &files,
        vec![format!("{base}/error/"), format!("{base}/good/")],
    );
    download_mnist(&data, &sources).unwrap();
    let mut expected: Vec<String> = files.keys().cloned().collect();
    expected.sort();
    assert_eq!(
        files_in(&data),
        expected,
        "only the four files, no leftovers"
    );
    let (train, test) = mnist::load_official(&data).unwrap();
    assert_eq!((train.len(), test.len()), (7, 7));
    // A second call finds the files and asks the (now unreachable) server for nothing.
    let offline = mnist_sources(&files, vec!["http://127.0.0.1:9/".into()]);
    download_mnist(&data, &offline).unwrap();
}

#[test]
fn a_bad_mnist_download_is_an_error_that_keeps_nothing() {
    let files = mnist_fixture(3);
    let base = serve(files.clone());
    for (route, expected) in [("corrupt", "MD5"), ("cut", "failed"), ("error", "500")] {
        let dir = tempfile::tempdir().unwrap();
        let sources = mnist_sources(&files, vec![format!("{base}/{route}/")]);
        let err = download_mnist(dir.path(), &sources).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(expected), "{route}: {message}");
        assert!(
            message.contains(&format!("{base}/{route}/")),
            "{route}: the message names the URL: {message}"
        );
        assert!(
            matches!(err, DataError::Checksum { .. } | DataError::Download { .. }),
            "{route}: {err:?}"
        );
        assert_eq!(
            files_in(dir.path()),
            Vec::<String>::new(),
            "{route}: nothing kept"
        );
    }
}

#[test]
fn cifar10_is_downloaded_checked_and_unpacked_and_a_bad_tarball_keeps_nothing() {
    let tarball = cifar_tarball();
    let md5 = md5_hex(&tarball);
    let base = serve([("cifar-10-binary.tar.gz".to_string(), tarball)].into());
    let sources = |route: &str| {
        let mut sources = Sources::official();
        sources.cifar10_url = format!("{base}/{route}/cifar-10-binary.tar.gz");
        sources.cifar10_md5 = md5.clone();
        sources
    };

    let dir = tempfile::tempdir().unwrap();
    download_cifar10(dir.path(), &sources("good")).unwrap();
    assert_eq!(
        files_in(dir.path()),
        [
            "batches.meta.txt",
            "data_batch_1.bin",
            "readme.html",
            "test_batch.bin"
        ]
    );
    let (train, test) = cifar10::load_official(dir.path()).unwrap();
    assert_eq!((train.len(), test.len()), (2, 1));

    for route in ["corrupt", "cut", "error"] {
        let dir = tempfile::tempdir().unwrap();
        let err = download_cifar10(dir.path(), &sources(route)).unwrap_err();
        assert!(err.to_string().contains(route), "{route}: {err}");
        assert_eq!(
            files_in(dir.path()),
            Vec::<String>::new(),
            "{route}: nothing kept"
        );
    }
}

fn trainer(args: &[&str], data_root: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_trainer-native"))
        .args(args)
        .env("MASKTUNE_DATA", data_root)
        .output()
        .unwrap();
    assert!(!output.status.success(), "the trainer should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_data_folder_defaults_to_masktune_data_and_says_how_to_fill_it() {
    let root = tempfile::tempdir().unwrap();
    let runs = root.path().join("runs");
    let runs = runs.to_str().unwrap();
    let err = trainer(
        &[
            "train",
            "--experiment",
            "spurious-mnist",
            "--runs-dir",
            runs,
        ],
        root.path(),
    );
    let expected = root.path().join("mnist");
    assert!(
        err.contains(&expected.display().to_string()) && err.contains("--download"),
        "{err}"
    );
    // CelebA cannot be downloaded: the message names the files it needs.
    let err = trainer(
        &[
            "train",
            "--experiment",
            "celeba",
            "--download",
            "--runs-dir",
            runs,
        ],
        root.path(),
    );
    assert!(
        err.contains("list_attr_celeba.txt") && err.contains("img_align_celeba"),
        "{err}"
    );
    let err = trainer(
        &[
            "train",
            "--experiment",
            "folder",
            "--download",
            "--runs-dir",
            runs,
        ],
        root.path(),
    );
    assert!(err.contains("one subfolder per class"), "{err}");
}

#[test]
fn cifar_install_verifies_md5_then_unpacks_flat() {
    let tarball = cifar_tarball();
    let dir = tempfile::tempdir().unwrap();
    download::install_cifar10(
        tarball.as_slice(),
        &md5_hex(&tarball),
        dir.path(),
        "test tarball",
    )
    .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "batches.meta.txt",
            "data_batch_1.bin",
            "readme.html",
            "test_batch.bin"
        ]
    );
    let (train, test) = cifar10::load_official(dir.path()).unwrap();
    assert_eq!(
        (train.labels, test.labels, train.class_names),
        (
            vec![1, 2],
            vec![0],
            vec!["x".into(), "y".into(), "z".into()]
        )
    );

    let dir = tempfile::tempdir().unwrap();
    let e = download::install_cifar10(
        tarball.as_slice(),
        download::CIFAR10_MD5,
        dir.path(),
        "test tarball",
    )
    .unwrap_err();
    assert!(
        matches!(e, DataError::Checksum { .. }) && e.to_string().contains(download::CIFAR10_MD5),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing kept after a bad checksum"
    );

    let not_tar = b"plain bytes".to_vec();
    let e = download::install_cifar10(not_tar.as_slice(), &md5_hex(&not_tar), dir.path(), "junk")
        .unwrap_err();
    assert!(matches!(e, DataError::Invalid { .. }), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn save_verified_keeps_only_matching_files() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("train-labels-idx1-ubyte.gz");
    let body = b"some bytes".to_vec();
    let e = download::save_verified(
        body.as_slice(),
        "00000000000000000000000000000000",
        &dest,
        "mirror",
    )
    .unwrap_err();
    assert!(matches!(e, DataError::Checksum { .. }), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    download::save_verified(
        body.as_slice(),
        &md5_hex(&body).to_uppercase(),
        &dest,
        "mirror",
    )
    .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(download::md5_file(&dest).unwrap(), md5_hex(&body));
}
