//! The files of the browser's file lists (a file input's choice, a drop's files), read a slice
//! per turn of the event loop: each file costs calls into the browser (its name, its type, its
//! path in a folder), about 2 µs, so a folder of 20,000 read in one task held the page's thread
//! for 40 ms. Between the slices the page draws and answers input.

use js_sys::Array;
use wasm_bindgen::JsCast;
use web_sys::{Blob, File, FileList};

/// How many files are read per turn of the event loop (a few milliseconds' worth).
const FILES_PER_TURN: usize = 2048;

/// The files of `list`, taken at once in one call (the input they came from can then be reset).
pub fn all(list: Option<FileList>) -> Array {
    list.map_or_else(Array::new, |list| Array::from(&list))
}

/// `read` applied to each of `files` in order, [`FILES_PER_TURN`] of them per turn.
pub async fn read<T>(files: &Array, mut read: impl FnMut(File) -> T) -> Vec<T> {
    let mut read_so_far = Vec::with_capacity(files.length() as usize);
    for (i, file) in files.iter().enumerate() {
        if i > 0 && i % FILES_PER_TURN == 0 {
            gloo_timers::future::TimeoutFuture::new(0).await;
        }
        read_so_far.push(read(file.unchecked_into()));
    }
    read_so_far
}

/// The files of `files` as (name, blob) pairs.
pub async fn named_blobs(files: &Array) -> Vec<(String, Blob)> {
    read(files, |file| (file.name(), file.into())).await
}
