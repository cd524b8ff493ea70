//! The user's own trained model as the Lab's ERM model: a bundle or a safetensors file
//! (`masktune::model_file`), described by the worker before a run and checked against the chosen
//! data, so that a model for other classes or another image size is named before anything
//! trains.

use masktune::bundle::BundleMetadata;
use send_wrapper::SendWrapper;

use crate::protocol::lab::{LabFile, LabTask};

/// The endings of the files a model may come in (bundles, safetensors).
pub const MODEL_FILE_ENDINGS: [&str; 3] = [".mtb", ".bundle", ".safetensors"];

/// Whether a file's name is a model file's.
pub fn is_model_file(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    MODEL_FILE_ENDINGS
        .iter()
        .any(|ending| name.ends_with(ending))
}

/// A model file given to the Lab.
#[derive(Debug, Clone)]
pub struct GivenModel {
    pub name: String,
    /// Numbers the files given: the worker's description of an older one is not this one's.
    pub id: u64,
    /// A page-thread value, hence the wrapper.
    file: SendWrapper<web_sys::Blob>,
    /// What the file says its model is, or why it cannot be read; `None` while the worker
    /// reads it (the whole file: a bundle's checksum covers its weights).
    pub meta: Option<Result<BundleMetadata, String>>,
}

impl GivenModel {
    /// The file `name`, `id`th given, before the worker has described it.
    pub fn new(id: u64, name: String, file: web_sys::Blob) -> Self {
        GivenModel {
            name,
            id,
            file: SendWrapper::new(file),
            meta: None,
        }
    }

    /// The same file with the worker's description.
    pub fn described(&self, meta: Result<BundleMetadata, String>) -> Self {
        GivenModel {
            meta: Some(meta),
            ..self.clone()
        }
    }

    /// The file as the worker gets it.
    pub fn lab_file(&self) -> LabFile {
        LabFile {
            path: self.name.clone(),
            blob: (*self.file).clone(),
        }
    }

    /// What the file says its model is, once the worker has read it without error.
    pub fn description(&self) -> Option<&BundleMetadata> {
        self.meta.as_ref()?.as_ref().ok()
    }

    /// What the model is, if its file has been read and it fits `task` (the chosen data, if it
    /// is usable); else why not.
    pub fn fitting(&self, task: &Result<LabTask, String>) -> Result<&BundleMetadata, String> {
        let meta = self
            .meta
            .as_ref()
            .ok_or("its file is still being read")?
            .as_ref()
            .map_err(Clone::clone)?;
        if let Ok(task) = task {
            task.check_model(meta)?;
        }
        Ok(meta)
    }

    /// The model in a sentence, if it fits `task` ([`GivenModel::fitting`]).
    pub fn summary(&self, task: &Result<LabTask, String>) -> Result<String, String> {
        let meta = self.fitting(task)?;
        let size = meta.input_size;
        Ok(format!(
            "{}: {} trained on {}; classes {}; {}×{} px images.",
            self.name,
            meta.architecture,
            meta.dataset,
            meta.class_names.join(", "),
            size.width,
            size.height
        ))
    }
}
