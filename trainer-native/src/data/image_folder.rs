//! Any class-per-folder image set on disk, placed and split by [`masktune::data::image_folder`]'s
//! rules (the page's Lab places a dropped folder by the same ones): `root/<class>/*.{png,jpg,
//! jpeg,bmp,webp}`, or with split folders `root/{train,val,test}/<class>/...` (train required
//! then, val and test optional). Every image is centre-cropped to a square and resized to
//! `size` x `size` RGB.
//! Also home of [`decode_resized`] and [`decode_all`], which the CelebA loader shares.

use std::path::{Path, PathBuf};

use masktune::data::image_folder::{FolderLayout, arrange, plan};
use masktune::square_image;
use rayon::prelude::*;

use super::{DataError, ImageSet, Result};
use crate::progress::images_bar;

pub use masktune::data::image_folder::LAYOUT;

/// A folder's training, validation and test sets ([`masktune::data::image_folder::plan`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFolder {
    pub train: ImageSet,
    pub val: ImageSet,
    pub test: ImageSet,
}

/// Reads the folder at `root` as `size` x `size` images: the sets the seed and `subset` choose,
/// decoding only their images.
pub fn load(root: &Path, size: u32, seed: u64, subset: Option<usize>) -> Result<ImageFolder> {
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
    let plan = plan(&layout, seed, subset);
    let set = |chosen: &[usize], label| read_set(&layout, chosen, &files, size, label);
    Ok(ImageFolder {
        train: set(&plan.train, "train")?,
        val: set(&plan.val, "val")?,
        test: set(&plan.test, "test")?,
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

/// Decodes the `chosen` images of the layout, labelled as it says; `label` names the set on
/// the progress bar.
fn read_set(
    layout: &FolderLayout,
    chosen: &[usize],
    files: &[PathBuf],
    size: u32,
    label: &str,
) -> Result<ImageSet> {
    let placed: Vec<_> = chosen.iter().map(|&i| layout.images[i]).collect();
    let paths: Vec<&Path> = placed.iter().map(|p| files[p.index].as_path()).collect();
    let side = size as usize;
    Ok(ImageSet {
        images: decode_all(&paths, size, label)?.concat(),
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
