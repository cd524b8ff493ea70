//! Any class-per-folder image set on disk, placed by [`masktune::data::image_folder`]'s rule
//! (the page's Lab places a dropped folder by the same one): `root/<class>/*.{png,jpg,jpeg,bmp,webp}`,
//! or with split folders `root/{train,val,test}/<class>/...` (train required then, val and test
//! optional). Every image is centre-cropped to a square and resized to `size` x `size` RGB.
//! Also home of [`decode_resized`] and [`decode_all`], which the CelebA loader shares.

use std::path::{Path, PathBuf};

use masktune::data::image_folder::{FolderLayout, FolderSplit, arrange};
use masktune::square_image;
use rayon::prelude::*;

use super::{DataError, ImageSet, Result};
use crate::progress::images_bar;

pub use masktune::data::image_folder::LAYOUT;

#[derive(Debug, Clone, PartialEq)]
pub struct ImageFolder {
    /// `root/train`, or all of `root` when it has no split folders.
    pub train: ImageSet,
    pub val: Option<ImageSet>,
    pub test: Option<ImageSet>,
}

pub fn load(root: &Path, size: u32) -> Result<ImageFolder> {
    let files = files_under(root)?;
    let paths: Vec<String> = files
        .iter()
        .map(|file| {
            let relative = file.strip_prefix(root).expect("listed under the root");
            let names: Vec<_> = relative.iter().map(|n| n.to_string_lossy()).collect();
            names.join("/")
        })
        .collect();
    let layout =
        arrange(&paths.iter().map(String::as_str).collect::<Vec<_>>()).map_err(|error| {
            DataError::Invalid {
                path: root.to_path_buf(),
                message: error.to_string(),
            }
        })?;
    let set = |split| load_split(&layout, split, &files, size);
    Ok(ImageFolder {
        train: set(FolderSplit::Train)?,
        val: layout
            .has(FolderSplit::Val)
            .then(|| set(FolderSplit::Val))
            .transpose()?,
        test: layout
            .has(FolderSplit::Test)
            .then(|| set(FolderSplit::Test))
            .transpose()?,
    })
}

/// The files of `root` down to the depth the layout reads (`split/class/image`).
fn files_under(root: &Path) -> Result<Vec<PathBuf>> {
    const DEPTH: usize = 3;
    let mut files = Vec::new();
    let mut folders = vec![(root.to_path_buf(), 1)];
    while let Some((folder, depth)) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(DataError::io(&folder))? {
            let path = entry.map_err(DataError::io(&folder))?.path();
            if path.is_dir() {
                if depth < DEPTH {
                    folders.push((path, depth + 1));
                }
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Decodes the images of one split, labelled as the layout says.
fn load_split(
    layout: &FolderLayout,
    split: FolderSplit,
    files: &[PathBuf],
    size: u32,
) -> Result<ImageSet> {
    let placed: Vec<_> = layout.of(split).collect();
    let paths: Vec<&Path> = placed.iter().map(|p| files[p.index].as_path()).collect();
    let side = size as usize;
    Ok(ImageSet {
        images: decode_all(&paths, size, &format!("{split:?}").to_lowercase())?.concat(),
        width: side,
        height: side,
        labels: placed.iter().map(|p| p.label).collect(),
        groups: None,
        class_names: layout.class_names.clone(),
        group_names: Vec::new(),
    })
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
