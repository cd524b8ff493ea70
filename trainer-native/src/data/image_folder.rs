//! Any class-per-folder image set: `root/<class>/*.{png,jpg,jpeg,bmp,webp}`, or with split folders
//! `root/{train,val,test}/<class>/...` (train required then, val and test optional).
//! Classes are the train folder's subfolders, sorted by name; label = index in that order.
//! Every image is centre-cropped to a square and resized to `size` x `size` RGB.
//! Also home of [`decode_resized`] and [`decode_all`], which the CelebA loader shares.

use std::path::{Path, PathBuf};

use masktune::square_image;
use rayon::prelude::*;

use super::{DataError, ImageSet, Result};
use crate::progress::images_bar;

/// File extensions (any case) read as images; other files are ignored.
pub const EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "webp"];

pub const LAYOUT: &str =
    "expected one subfolder per class holding its images, optionally under train/, val/ and test/";

#[derive(Debug, Clone, PartialEq)]
pub struct ImageFolder {
    /// `root/train`, or all of `root` when it has no split folders.
    pub train: ImageSet,
    pub val: Option<ImageSet>,
    pub test: Option<ImageSet>,
}

pub fn load(root: &Path, size: u32) -> Result<ImageFolder> {
    let train_dir = root.join("train");
    if !train_dir.is_dir() {
        let classes = class_dirs(root)?;
        return Ok(ImageFolder {
            train: load_classes(root, &classes, size)?,
            val: None,
            test: None,
        });
    }
    let classes = class_dirs(&train_dir)?;
    let optional = |name: &str| -> Result<Option<ImageSet>> {
        let dir = root.join(name);
        if !dir.is_dir() {
            return Ok(None);
        }
        if let Some(unknown) = class_dirs(&dir)?.into_iter().find(|c| !classes.contains(c)) {
            return Err(DataError::Invalid {
                path: dir.join(&unknown),
                message: format!(
                    "class {unknown:?} is not a class of {}",
                    train_dir.display()
                ),
            });
        }
        load_classes(&dir, &classes, size).map(Some)
    };
    Ok(ImageFolder {
        train: load_classes(&train_dir, &classes, size)?,
        val: optional("val")?,
        test: optional("test")?,
    })
}

/// Subfolder names of `dir`, sorted; hidden ones skipped.
fn class_dirs(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = read_dir(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(String::from))
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(DataError::Empty {
            path: dir.to_path_buf(),
            what: "class folder",
            hint: LAYOUT.into(),
        });
    }
    Ok(names)
}

/// Loads `dir/<class>/*` for each of `classes` that exists under `dir`, labels by position.
fn load_classes(dir: &Path, classes: &[String], size: u32) -> Result<ImageSet> {
    let side = size as usize;
    let mut set = ImageSet {
        images: Vec::new(),
        width: side,
        height: side,
        labels: Vec::new(),
        groups: None,
        class_names: classes.to_vec(),
        group_names: Vec::new(),
    };
    for (label, class) in classes.iter().enumerate() {
        let class_dir = dir.join(class);
        if !class_dir.is_dir() {
            continue;
        }
        let files = image_files(&class_dir)?;
        if files.is_empty() {
            return Err(DataError::Empty {
                path: class_dir,
                what: "image file",
                hint: LAYOUT.into(),
            });
        }
        let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        for pixels in decode_all(&paths, size, class)? {
            set.images.extend(pixels);
            set.labels.push(label as u32);
        }
    }
    Ok(set)
}

/// Image files of a folder (by extension), sorted by name for a reproducible order.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = read_dir(dir)?
        .into_iter()
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
        .map_err(DataError::io(dir))
}

/// [`decode_resized`] of every file, in parallel on rayon's threads, in order, with a progress
/// bar labelled `label`.
pub fn decode_all(paths: &[&Path], size: u32, label: &str) -> Result<Vec<Vec<u8>>> {
    let bar = images_bar(paths.len(), label);
    let decoded = paths
        .par_iter()
        .map(|path| {
            let pixels = decode_resized(path, size);
            bar.inc(1);
            pixels
        })
        .collect();
    bar.finish_and_clear();
    decoded
}

/// Decodes an image file and makes it the model's `size` x `size` RGB input with
/// [`masktune::square_image`] (upright, transparency over white, centre square, antialiased
/// resize), exactly as the page does. Returns HWC bytes.
pub fn decode_resized(path: &Path, size: u32) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(DataError::io(path))?;
    let image = square_image::decoder(&bytes)
        .and_then(square_image::upright)
        .map_err(|source| DataError::Image {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(square_image::square_input(&image, size))
}
