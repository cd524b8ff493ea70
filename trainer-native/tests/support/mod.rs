//! Fixtures shared by the test files (each test file compiles its own copy: not every one uses
//! every fixture).
#![allow(dead_code)]

use flate2::Compression;
use flate2::write::GzEncoder;
use md5::{Digest, Md5};

/// Lowercase hex MD5, as the data sets publish theirs.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One CIFAR-10 record: the label byte, then 3072 pixel bytes that depend on `seed`.
pub fn cifar_record(label: u8, seed: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend((0..3072).map(|i| (i as u8).wrapping_add(seed)));
    r
}

/// A CIFAR-10 tarball: two training and one test image, three class names, a file that is not
/// data and one outside the batches folder (neither may be unpacked as data).
pub fn cifar_tarball() -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    let files: [(&str, Vec<u8>); 5] = [
        (
            "cifar-10-batches-bin/data_batch_1.bin",
            [cifar_record(1, 0), cifar_record(2, 1)].concat(),
        ),
        ("cifar-10-batches-bin/test_batch.bin", cifar_record(0, 2)),
        (
            "cifar-10-batches-bin/batches.meta.txt",
            b"x\ny\nz\n".to_vec(),
        ),
        ("cifar-10-batches-bin/readme.html", b"<p>hi</p>".to_vec()),
        ("elsewhere/data_batch_2.bin", cifar_record(0, 0)),
    ];
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}
