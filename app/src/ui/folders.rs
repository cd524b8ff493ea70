//! Folders of images, chosen ("or a folder") or dropped: every image in them and their
//! subfolders, named by its path in the folder (so that equal names in two subfolders stay
//! apart), and the paths of the other files, which are left out and named: a folder of photos
//! often holds notes or thumbnails' databases too.

use js_sys::{Array, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DataTransfer, File, FileSystemDirectoryEntry, FileSystemDirectoryReader, FileSystemEntry,
    FileSystemFileEntry,
};

use super::file_lists;

/// Files named for the page, and the paths of those left out.
pub type Sorted = (Vec<(String, web_sys::Blob)>, Vec<String>);

/// The images of a chosen folder's files and the paths of its other files.
pub async fn chosen(files: &js_sys::Array) -> Sorted {
    // The file's path in the chosen folder (web-sys binds no getter for it).
    let path_key = JsValue::from_str("webkitRelativePath");
    let named = file_lists::read(files, |file| {
        let path = js_sys::Reflect::get(&file, &path_key)
            .ok()
            .and_then(|path| path.as_string())
            .filter(|path| !path.is_empty())
            .unwrap_or_else(|| file.name());
        (path, file)
    })
    .await;
    let (images, mut left_out) = images_and_left_out(named.into_iter());
    left_out.sort();
    (images, left_out)
}

/// What a drop holds, taken while its event lasts (the browser empties the drop's data after):
/// the files dropped as they are, and the folders, whose files the browser lists on request.
pub struct Dropped {
    files: Vec<(String, web_sys::Blob)>,
    folders: Vec<FileSystemDirectoryEntry>,
}

impl Dropped {
    pub fn take(transfer: &DataTransfer) -> Self {
        let (mut files, mut folders) = (Vec::new(), Vec::new());
        let items = transfer.items();
        for item in (0..items.length()).filter_map(|i| items.get(i)) {
            match item.webkit_get_as_entry() {
                Ok(Some(entry)) if entry.is_directory() => folders.push(entry.unchecked_into()),
                _ => {
                    if let Ok(Some(file)) = item.get_as_file() {
                        files.push((file.name(), file.into()));
                    }
                }
            }
        }
        Dropped { files, folders }
    }

    /// The files dropped, when no folder was: they need no reading.
    /// The one file dropped, where nothing else was.
    pub fn one_file(&self) -> Option<&(String, web_sys::Blob)> {
        match (self.files.as_slice(), self.folders.is_empty()) {
            ([file], true) => Some(file),
            _ => None,
        }
    }

    pub fn files_only(self) -> Result<Vec<(String, web_sys::Blob)>, Self> {
        if self.folders.is_empty() {
            Ok(self.files)
        } else {
            Err(self)
        }
    }

    /// The files dropped, then the images of each folder in the order of their paths; and the
    /// paths of the folders' other files. `listed` hears how many files the folders have shown so
    /// far (a folder of thousands takes seconds to list).
    pub async fn read(self, listed: impl Fn(usize)) -> Result<Sorted, JsValue> {
        let (mut files, mut left_out) = (self.files, Vec::new());
        let mut listed_before = 0;
        for folder in self.folders {
            let mut found = files_in(folder, |count| listed(listed_before + count)).await?;
            listed_before += found.len();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            let (images, others) = images_and_left_out(found.into_iter());
            files.extend(images);
            left_out.extend(others);
        }
        left_out.sort();
        Ok((files, left_out))
    }
}

/// What the page says of the files a folder held that are not images.
pub fn left_out_note(left_out: &[String]) -> Option<String> {
    const NAMED: usize = 5;
    let (named, more) = (
        left_out.iter().take(NAMED),
        left_out.len().saturating_sub(NAMED),
    );
    let mut names = named.cloned().collect::<Vec<_>>().join(", ");
    if more > 0 {
        names.push_str(&format!(" and {more} more"));
    }
    (!left_out.is_empty()).then(|| {
        let files = if left_out.len() == 1 { "file" } else { "files" };
        format!(
            "Left out {} {files} of the folder that are not images: {names}.",
            left_out.len()
        )
    })
}

/// Splits a folder's files (path, file) into its images and the paths of the rest.
fn images_and_left_out(files: impl Iterator<Item = (String, File)>) -> Sorted {
    let (mut images, mut left_out) = (Vec::new(), Vec::new());
    for (path, file) in files {
        if is_image(&file.type_(), &path) {
            images.push((path, file.into()));
        } else {
            left_out.push(path);
        }
    }
    (images, left_out)
}

/// By its type, or by its extension where the system gave no type.
fn is_image(mime: &str, path: &str) -> bool {
    const EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "avif"];
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    mime.starts_with("image/")
        || (mime.is_empty() && extension.is_some_and(|e| EXTENSIONS.contains(&e.as_str())))
}

/// Every file in `folder` and its subfolders, with its path from the folder dropped (as a chosen
/// folder's `webkitRelativePath`: the folder's own name first); `listed` hears the count so far.
async fn files_in(
    folder: FileSystemDirectoryEntry,
    listed: impl Fn(usize),
) -> Result<Vec<(String, File)>, JsValue> {
    let (mut files, mut pending) = (Vec::new(), vec![folder]);
    while let Some(directory) = pending.pop() {
        let reader = directory.create_reader();
        // The browser lists a folder in batches (100 at a time in Chromium) until an empty one.
        loop {
            let batch = read_entries(&reader).await?;
            if batch.length() == 0 {
                break;
            }
            let (mut paths, batch_files) = (Vec::new(), Array::new());
            for entry in batch.iter().map(JsCast::unchecked_into::<FileSystemEntry>) {
                if entry.is_directory() {
                    pending.push(entry.unchecked_into());
                } else {
                    paths.push(entry.full_path().trim_start_matches('/').to_string());
                    batch_files.push(&file_of(entry.unchecked_ref()));
                }
            }
            // The batch's files asked for together: one after the other, a folder of 5,000
            // took 2.4 s to read.
            let batch_files: Array = JsFuture::from(Promise::all(&batch_files))
                .await?
                .unchecked_into();
            files.extend(
                paths
                    .into_iter()
                    .zip(batch_files.iter().map(JsCast::unchecked_into)),
            );
            listed(files.len());
        }
    }
    Ok(files)
}

/// `reader.readEntries()` as a future.
async fn read_entries(reader: &FileSystemDirectoryReader) -> Result<Array, JsValue> {
    let mut called = Ok(());
    let listed = Promise::new(&mut |resolve, reject| {
        called = reader.read_entries_with_callback_and_callback(&resolve, &reject);
    });
    called?;
    Ok(JsFuture::from(listed).await?.unchecked_into())
}

/// `entry.file()` as a promise of the `File`.
fn file_of(entry: &FileSystemFileEntry) -> Promise {
    Promise::new(&mut |resolve, reject| {
        entry.file_with_callback_and_callback(&resolve, &reject);
    })
}
