//! CIFAR-10 in the official binary layout: `data_batch_{1..5}.bin`, `test_batch.bin` (records of
//! one label byte then 1024 R, 1024 G and 1024 B bytes, each plane row-major 32x32) and
//! `batches.meta.txt` (class names, one per line).
//!
//! Whatever training batches exist are used (the shared copy has 1-4). Validation: [`VAL_SIZE`]
//! images held out of them, chosen by the seed ([`ImageSet::split_holdout`]); train keeps the rest
//! in file order (45,000 with all five batches, 35,000 with four).

use std::path::Path;

use super::{DataError, ImageSet, Result, Split, read_file};

pub const SIDE: usize = 32;
pub const RECORD: usize = 1 + 3 * SIDE * SIDE;
/// Images held out of the training batches for validation.
pub const VAL_SIZE: usize = 5_000;

const HINT: &str = "put the CIFAR-10 binary version there (data_batch_*.bin, test_batch.bin, \
    batches.meta.txt from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz, unpacked flat), \
    or run the trainer again with --download";

/// Train (rest of the training batches), validation ([`VAL_SIZE`], seeded holdout) and test.
pub fn load(dir: &Path, val_seed: u64) -> Result<Split> {
    let (train_full, test) = load_official(dir)?;
    Ok(Split::holding_out(train_full, test, VAL_SIZE, val_seed))
}

/// All training batches found, concatenated in batch order, and the test batch.
pub fn load_official(dir: &Path) -> Result<(ImageSet, ImageSet)> {
    if !dir.is_dir() {
        return Err(DataError::MissingDir {
            path: dir.to_path_buf(),
            hint: HINT.into(),
        });
    }
    let class_names = read_class_names(dir)?;
    let batches: Vec<_> = (1..=5)
        .map(|i| dir.join(format!("data_batch_{i}.bin")))
        .filter(|p| p.is_file())
        .collect();
    if batches.is_empty() {
        return Err(DataError::Empty {
            path: dir.to_path_buf(),
            what: "data_batch_*.bin file",
            hint: HINT.into(),
        });
    }
    let mut train = empty(&class_names);
    for batch in &batches {
        append_batch(&mut train, batch)?;
    }
    let test_path = dir.join("test_batch.bin");
    if !test_path.is_file() {
        return Err(DataError::MissingFile {
            path: test_path,
            hint: HINT.into(),
        });
    }
    let mut test = empty(&class_names);
    append_batch(&mut test, &test_path)?;
    Ok((train, test))
}

/// Class names from `batches.meta.txt`, blank lines ignored.
pub fn read_class_names(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join("batches.meta.txt");
    if !path.is_file() {
        return Err(DataError::MissingFile {
            path,
            hint: HINT.into(),
        });
    }
    let text = String::from_utf8_lossy(&read_file(&path)?).into_owned();
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        return Err(DataError::Empty {
            path,
            what: "class name",
            hint: HINT.into(),
        });
    }
    Ok(names)
}

fn empty(class_names: &[String]) -> ImageSet {
    ImageSet {
        images: Vec::new(),
        width: SIDE,
        height: SIDE,
        labels: Vec::new(),
        groups: None,
        class_names: class_names.to_vec(),
        group_names: Vec::new(),
    }
}

/// Appends one batch file's records to `set`, converting CHW planes to HWC.
fn append_batch(set: &mut ImageSet, path: &Path) -> Result<()> {
    let bytes = read_file(path)?;
    if bytes.len() % RECORD != 0 {
        return Err(DataError::BadRecordSize {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            record: RECORD as u64,
        });
    }
    let plane = SIDE * SIDE;
    set.images.reserve(bytes.len() / RECORD * 3 * plane);
    for (r, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0] as usize;
        if label >= set.class_names.len() {
            return Err(DataError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "record {r} has label {label}, but there are {} classes",
                    set.class_names.len()
                ),
            });
        }
        set.labels.push(label as u32);
        let pixels = &record[1..];
        for p in 0..plane {
            set.images
                .extend_from_slice(&[pixels[p], pixels[plane + p], pixels[2 * plane + p]]);
        }
    }
    Ok(())
}
