//! The user's own folder for the Lab, chosen or dropped: its images by their paths inside it, and
//! where the trainer's rule (`masktune::data::image_folder`) places them, shown before a run so
//! that a wrong layout is named before anything trains.

use masktune::data::image_folder::{self, FolderLayout, FolderSplit, LayoutError};
use send_wrapper::SendWrapper;

use crate::protocol::lab::{LabFile, LabTask};

/// A folder given to the Lab.
#[derive(Debug)]
pub struct ChosenFolder {
    /// The folder's own name, where the browser gave one folder.
    pub name: Option<String>,
    /// (path inside the folder, file); page-thread values, hence the wrapper.
    files: SendWrapper<Vec<(String, web_sys::Blob)>>,
    pub layout: Result<FolderLayout, LayoutError>,
    /// Files that are not images (by the browser's type, or by the trainer's extensions).
    pub left_out: usize,
}

impl ChosenFolder {
    /// `files` named by their paths as the browser gives them: a chosen or dropped folder's own
    /// name first, or (several class folders dropped together) each class folder's.
    pub fn new(files: Vec<(String, web_sys::Blob)>, left_out: usize) -> Self {
        let (name, files) = inside_folder(files);
        let paths: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
        let layout = image_folder::arrange(&paths);
        let placed = layout.as_ref().map_or(0, |l| l.images.len());
        ChosenFolder {
            name,
            left_out: left_out + files.len() - placed,
            files: SendWrapper::new(files),
            layout,
        }
    }

    /// What a run on this folder trains, if the folder can be trained on.
    pub fn task(&self) -> Result<LabTask, String> {
        self.layout
            .as_ref()
            .map(|layout| LabTask::Folder {
                class_names: layout.class_names.clone(),
            })
            .map_err(|error| format!("the folder cannot be trained on: {error}"))
    }

    /// How many files the folder holds, images or not.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// The files as the worker gets them: every file, by its path inside the folder (the worker
    /// places them by the same rule).
    pub fn lab_files(&self) -> Vec<LabFile> {
        self.files
            .iter()
            .map(|(path, blob)| LabFile {
                path: path.clone(),
                blob: blob.clone(),
            })
            .collect()
    }

    /// The folder in a sentence: its classes with their images, and where validation and test
    /// images come from.
    pub fn summary(&self) -> String {
        let Ok(layout) = &self.layout else {
            return String::new();
        };
        let count = |split, label: usize| {
            layout
                .of(split)
                .filter(|image| image.label as usize == label)
                .count()
        };
        let classes = layout
            .class_names
            .iter()
            .enumerate()
            .map(|(label, name)| format!("{name} ({})", count(FolderSplit::Train, label)))
            .collect::<Vec<_>>()
            .join(", ");
        let held_out = format!("{:.0} %", image_folder::HOLDOUT * 100.0);
        let split = |split, folder: &str| {
            if layout.has(split) {
                format!("{} in {folder}/", layout.of(split).count())
            } else {
                format!("{held_out} of the training images held out")
            }
        };
        let left_out = match self.left_out {
            0 => String::new(),
            1 => " 1 file is not an image the trainer reads and is left out.".into(),
            n => format!(" {n} files are not images the trainer reads and are left out."),
        };
        format!(
            "{}{} classes, training images: {classes}. Validation: {}; test: {}.{left_out}",
            self.name
                .as_ref()
                .map_or(String::new(), |name| format!("{name}: ")),
            layout.class_names.len(),
            split(FolderSplit::Val, "val"),
            split(FolderSplit::Test, "test"),
        )
    }
}

/// The folder's name and the files' paths inside it, where every path starts with the same
/// folder and goes deeper than one file in it; otherwise the paths as they are (class folders
/// given together, each its own name first).
fn inside_folder(
    files: Vec<(String, web_sys::Blob)>,
) -> (Option<String>, Vec<(String, web_sys::Blob)>) {
    let top = |path: &str| path.split_once('/').map(|(top, _)| top.to_string());
    let shared = files
        .first()
        .and_then(|(path, _)| top(path))
        .filter(|name| {
            files
                .iter()
                .all(|(path, _)| top(path).as_ref() == Some(name))
                && files.iter().any(|(path, _)| path.matches('/').count() >= 2)
        });
    match shared {
        Some(name) => {
            let inside = files
                .into_iter()
                .map(|(path, blob)| (path[name.len() + 1..].to_string(), blob))
                .collect();
            (Some(name), inside)
        }
        None => (None, files),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn folder(paths: &[&str]) -> ChosenFolder {
        let blob = web_sys::Blob::new().unwrap();
        ChosenFolder::new(
            paths
                .iter()
                .map(|p| (p.to_string(), blob.clone()))
                .collect(),
            0,
        )
    }

    #[wasm_bindgen_test]
    fn a_chosen_folder_is_read_inside_its_own_name() {
        let chosen = folder(&[
            "shapes/train/disc/a.png",
            "shapes/train/square/b.png",
            "shapes/test/disc/c.png",
            "shapes/notes.gif",
        ]);
        assert_eq!(chosen.name.as_deref(), Some("shapes"));
        let class_names = vec!["disc".to_string(), "square".to_string()];
        assert_eq!(chosen.task(), Ok(LabTask::Folder { class_names }));
        assert_eq!(chosen.lab_files()[0].path, "train/disc/a.png");
        assert_eq!(
            chosen.summary(),
            "shapes: 2 classes, training images: disc (1), square (1). Validation: 10 % of the \
             training images held out; test: 1 in test/. 1 file is not an image the trainer \
             reads and is left out."
        );
    }

    #[wasm_bindgen_test]
    fn class_folders_dropped_together_are_the_classes() {
        let chosen = folder(&["cat/a.png", "dog/b.jpg"]);
        assert_eq!(chosen.name, None);
        let class_names = vec!["cat".to_string(), "dog".to_string()];
        assert_eq!(chosen.task(), Ok(LabTask::Folder { class_names }));
    }

    #[wasm_bindgen_test]
    fn a_folder_of_loose_images_is_named_as_unusable() {
        let chosen = folder(&["photos/a.png", "photos/b.png"]);
        assert_eq!(
            chosen.name, None,
            "one file deep: the folder is its only class"
        );
        assert!(
            chosen
                .task()
                .unwrap_err()
                .contains("only one class folder, photos/")
        );
        let chosen = folder(&["a.png"]);
        assert!(chosen.task().unwrap_err().contains("no class folder"));
    }
}
