//! CelebA: `img_align_celeba/*.jpg`, `list_attr_celeba.txt` (row count, the 40 attribute names,
//! then `file v1 .. v40` with values -1/1) and `list_eval_partition.txt` (`file 0|1|2` = train, val,
//! test). Both text files are split on whitespace, so CRLF and trailing spaces do not matter.
//!
//! Label = the target attribute (default Blond_Hair), group = 2 * target + spurious (default Male).
//! Images are centre-cropped to 178x178 and resized ([`decode_resized`]), as in the usual CelebA
//! pipelines (CenterCrop(min side), Resize); the paper uses 224, the default here is CPU-sized.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::image_folder::decode_all;
use super::{DataError, ImageSet, Result, Split, read_file};

pub const ATTR_FILE: &str = "list_attr_celeba.txt";
pub const PARTITION_FILE: &str = "list_eval_partition.txt";
pub const IMAGE_DIR: &str = "img_align_celeba";

pub const LAYOUT: &str = "CelebA is not downloaded automatically (its terms need accepting): get img_align_celeba/, \
    list_attr_celeba.txt and list_eval_partition.txt from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html";

#[derive(Debug, Clone, PartialEq)]
pub struct CelebaOptions {
    pub target: String,
    pub spurious: String,
    /// Side of the square images produced.
    pub image_size: u32,
    /// At most this many images per split (the first ones in file order): for tests and demos.
    pub max_per_split: Option<usize>,
    /// Skip annotation rows whose image file is missing (counted) instead of failing.
    pub skip_missing: bool,
}

impl Default for CelebaOptions {
    fn default() -> Self {
        CelebaOptions {
            target: "Blond_Hair".into(),
            spurious: "Male".into(),
            image_size: 64,
            max_per_split: None,
            skip_missing: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Celeba {
    pub split: Split,
    /// Rows skipped because their image was missing (only with `skip_missing`).
    pub skipped_missing: usize,
}

/// The two annotation files, joined by file name, in attribute-file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotations {
    pub attribute_names: Vec<String>,
    pub files: Vec<String>,
    /// 0 train, 1 val, 2 test, per file.
    pub partition: Vec<u8>,
    /// files x attributes, true where the value is 1.
    values: Vec<bool>,
}

impl Annotations {
    /// Column of an attribute, or an error listing the valid names.
    pub fn attribute(&self, name: &str) -> Result<usize> {
        self.attribute_names
            .iter()
            .position(|a| a == name)
            .ok_or_else(|| DataError::UnknownAttribute {
                name: name.into(),
                valid: self.attribute_names.join(", "),
            })
    }

    pub fn value(&self, row: usize, attribute: usize) -> bool {
        self.values[row * self.attribute_names.len() + attribute]
    }

    /// Group (2 * target + spurious) of each row.
    pub fn groups(&self, target: &str, spurious: &str) -> Result<Vec<u32>> {
        let (t, s) = (self.attribute(target)?, self.attribute(spurious)?);
        Ok((0..self.files.len())
            .map(|r| 2 * u32::from(self.value(r, t)) + u32::from(self.value(r, s)))
            .collect())
    }

    /// counts[partition][group].
    pub fn group_counts(&self, target: &str, spurious: &str) -> Result<[[usize; 4]; 3]> {
        let mut counts = [[0; 4]; 3];
        for (g, &p) in self.groups(target, spurious)?.iter().zip(&self.partition) {
            counts[p as usize][*g as usize] += 1;
        }
        Ok(counts)
    }
}

/// Reads and joins the attribute and partition files of `dir`.
pub fn read_annotations(dir: &Path) -> Result<Annotations> {
    if !dir.is_dir() {
        return Err(DataError::MissingDir {
            path: dir.to_path_buf(),
            hint: LAYOUT.into(),
        });
    }
    let attr_path = required(dir, ATTR_FILE)?;
    let partition_path = required(dir, PARTITION_FILE)?;
    let partition_text = read_text(&partition_path)?;
    let partitions = parse_partition(&partition_text, &partition_path)?;
    let mut annotations = parse_attributes(&read_text(&attr_path)?, &attr_path)?;
    for file in &annotations.files {
        let p = partitions
            .get(file.as_str())
            .ok_or_else(|| DataError::Invalid {
                path: partition_path.clone(),
                message: format!("no partition for {file}, which {ATTR_FILE} lists"),
            })?;
        annotations.partition.push(*p);
    }
    Ok(annotations)
}

/// Decodes the images of each split with labels and groups per `options`.
pub fn load(dir: &Path, options: &CelebaOptions) -> Result<Celeba> {
    let annotations = read_annotations(dir)?;
    let target = annotations.attribute(&options.target)?;
    let groups = annotations.groups(&options.target, &options.spurious)?;
    let image_dir = dir.join(IMAGE_DIR);
    if !image_dir.is_dir() {
        return Err(DataError::MissingDir {
            path: image_dir,
            hint: LAYOUT.into(),
        });
    }
    let (t, s) = (readable(&options.target), readable(&options.spurious));
    let side = options.image_size as usize;
    let empty = ImageSet {
        images: Vec::new(),
        width: side,
        height: side,
        labels: Vec::new(),
        groups: Some(Vec::new()),
        class_names: vec![format!("not {t}"), t.clone()],
        group_names: vec![
            format!("not {t}, not {s}"),
            format!("not {t}, {s}"),
            format!("{t}, not {s}"),
            format!("{t}, {s}"),
        ],
    };
    // Which rows to load, in file order; then all of them decoded at once.
    let mut taken = [0usize; 3];
    let mut chosen = Vec::new();
    let mut skipped_missing = 0;
    for (row, file) in annotations.files.iter().enumerate() {
        let split = annotations.partition[row] as usize;
        if options.max_per_split.is_some_and(|max| taken[split] >= max) {
            continue;
        }
        let path = image_dir.join(file);
        if !path.is_file() {
            if options.skip_missing {
                skipped_missing += 1;
                continue;
            }
            return Err(DataError::MissingFile {
                path,
                hint: format!(
                    "{ATTR_FILE} lists it; restore the image, or ask the loader to skip missing images"
                ),
            });
        }
        taken[split] += 1;
        chosen.push((row, path));
    }
    let paths: Vec<&Path> = chosen.iter().map(|(_, path)| path.as_path()).collect();
    let decoded = decode_all(&paths, options.image_size, "decoding CelebA")?;
    let mut sets = [empty.clone(), empty.clone(), empty];
    for ((row, _), pixels) in chosen.iter().zip(decoded) {
        let set = &mut sets[annotations.partition[*row] as usize];
        set.images.extend(pixels);
        set.labels.push(u32::from(annotations.value(*row, target)));
        set.groups
            .as_mut()
            .expect("CelebA sets have groups")
            .push(groups[*row]);
    }
    let [train, val, test] = sets;
    Ok(Celeba {
        split: Split { train, val, test },
        skipped_missing,
    })
}

fn required(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(DataError::MissingFile {
            path,
            hint: LAYOUT.into(),
        })
    }
}

fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read_file(path)?).map_err(|_| DataError::Invalid {
        path: path.to_path_buf(),
        message: "not UTF-8 text".into(),
    })
}

/// Non-empty lines, split on whitespace, with 1-based line numbers.
fn rows(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split_whitespace().collect::<Vec<_>>()))
        .filter(|(_, f)| !f.is_empty())
}

fn parse_error(path: &Path, line: usize, message: String) -> DataError {
    DataError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    }
}

fn parse_partition<'a>(text: &'a str, path: &Path) -> Result<HashMap<&'a str, u8>> {
    rows(text)
        .map(|(line, fields)| match fields.as_slice() {
            [file, p @ ("0" | "1" | "2")] => Ok((*file, p.as_bytes()[0] - b'0')),
            _ => Err(parse_error(
                path,
                line,
                format!("expected `<file> 0|1|2`, found {:?}", fields.join(" ")),
            )),
        })
        .collect()
}

fn parse_attributes(text: &str, path: &Path) -> Result<Annotations> {
    let mut rows = rows(text);
    let count = match rows.next() {
        Some((_, f)) if f.len() == 1 => f[0].parse::<usize>().ok(),
        _ => None,
    }
    .ok_or_else(|| parse_error(path, 1, "expected the row count on the first line".into()))?;
    let attribute_names: Vec<String> = rows
        .next()
        .ok_or_else(|| {
            parse_error(
                path,
                2,
                "expected the attribute names on the second line".into(),
            )
        })?
        .1
        .into_iter()
        .map(String::from)
        .collect();
    let mut annotations = Annotations {
        attribute_names,
        files: Vec::new(),
        partition: Vec::new(),
        values: Vec::new(),
    };
    let width = annotations.attribute_names.len();
    for (line, fields) in rows {
        if fields.len() != width + 1 {
            return Err(parse_error(
                path,
                line,
                format!(
                    "expected a file name and {width} values, found {} fields",
                    fields.len()
                ),
            ));
        }
        annotations.files.push(fields[0].into());
        for v in &fields[1..] {
            annotations.values.push(match *v {
                "1" => true,
                "-1" => false,
                _ => {
                    return Err(parse_error(
                        path,
                        line,
                        format!("attribute value {v:?} is not 1 or -1"),
                    ));
                }
            });
        }
    }
    if annotations.files.len() != count {
        return Err(DataError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "first line says {count} rows, found {}; the file is truncated or edited",
                annotations.files.len()
            ),
        });
    }
    Ok(annotations)
}

/// An attribute name as people read it, for class and group names: `Blond_Hair` -> `blond hair`.
fn readable(attribute: &str) -> String {
    attribute.replace('_', " ").to_lowercase()
}
