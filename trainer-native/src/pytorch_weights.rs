//! PyTorch weight files in and out: `.pth`/`.pt` files (`torch.save` of a state dict, also one
//! nested in a training checkpoint's dict) and `.safetensors` files are read into our models,
//! and our models are written as `.safetensors` under the PyTorch modules' own keys, through
//! `masktune::pytorch`.

use std::io::Read;
use std::path::Path;

use burn::prelude::Device;
use burn::store::{ModuleStore, PytorchStore, bridge};
use masktune::bundle::BundleMetadata;
use masktune::model_file;
use masktune::models::{AnyModel, Architecture};
use masktune::pytorch::{self, Classifier, StateDict};

use crate::train::atomic::write_atomic;
use crate::train::{Result, TrainError};

/// The first bytes of a `torch.save` file: a zip archive (PyTorch >= 1.6) or a pickle.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const PICKLE_MAGIC: u8 = 0x80;

/// Whether the file at `path` is a `torch.save` file, from its first bytes: its reader reads the
/// file itself.
fn is_torch_save(path: &Path) -> Result<bool> {
    let mut start = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(ZIP_MAGIC.len() as u64).read_to_end(&mut start))
        .map_err(TrainError::io("read", path))?;
    Ok(start.starts_with(ZIP_MAGIC) || start.first() == Some(&PICKLE_MAGIC))
}

/// Reads the tensors of a PyTorch weight file. Nested dicts come flattened with dots
/// (`state_dict.conv1.weight`); [`load_into`] finds the model's keys under such a prefix.
pub fn read_state_dict(path: &Path) -> Result<StateDict> {
    let fail = |reason: String| TrainError::PytorchWeights {
        path: path.to_path_buf(),
        reason,
    };
    if is_torch_save(path)? {
        let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
        let tensors = store
            .get_all_tensors()
            .map_err(|e| fail(format!("not a readable PyTorch file ({e})")))?;
        tensors
            .values()
            .map(|tensor| {
                let data = bridge::to_data(tensor)
                    .map_err(|e| fail(format!("cannot read '{}': {e}", tensor.name)))?;
                Ok((tensor.name.clone(), data))
            })
            .collect()
    } else {
        let bytes = std::fs::read(path).map_err(TrainError::io("read", path))?;
        pytorch::safetensors::read(&bytes)
            .map(|(state, _)| state)
            .map_err(|e| {
                fail(format!(
                    "{e}; expected a safetensors file or a torch.save() .pth/.pt file"
                ))
            })
    }
}

/// The model in a file that describes it (a bundle, or a safetensors file whose metadata holds
/// the description `export --format safetensors` writes), built on `device`, with the
/// description; `None` for a PyTorch file without one, whose model the command line names.
pub fn read_described(path: &Path, device: &Device) -> Result<Option<(AnyModel, BundleMetadata)>> {
    // A torch.save file never describes its model: its weights are read once, by `load_into`.
    if is_torch_save(path)? {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(TrainError::io("read", path))?;
    let described = model_file::is_bundle(&bytes)
        || pytorch::safetensors::read_metadata(&bytes)
            .is_ok_and(|metadata| pytorch::safetensors::describes_a_model(&metadata));
    if !described {
        return Ok(None);
    }
    model_file::read(&bytes, device)
        .map(Some)
        .map_err(|e| TrainError::PytorchWeights {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Loads the PyTorch weights at `path` into `model` (built from `architecture`) and says on
/// stderr what was left out.
pub fn load_into(
    model: AnyModel,
    architecture: &Architecture,
    path: &Path,
    classifier: Classifier,
) -> Result<AnyModel> {
    let state = read_state_dict(path)?;
    let (model, report) = pytorch::load_state_dict(model, architecture, &state, classifier)
        .map_err(|e| TrainError::PytorchWeights {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    eprintln!("loaded the PyTorch weights of {}", path.display());
    if let Some(prefix) = &report.stripped_prefix {
        eprintln!("  (its keys carry the prefix '{prefix}')");
    }
    if let Some(why) = &report.fresh_classifier {
        eprintln!("  the classifier starts fresh: {why}");
    }
    if !report.unused.is_empty() {
        const SHOWN: usize = 6;
        let shown: Vec<&str> = report
            .unused
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect();
        let more = report.unused.len().saturating_sub(SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        eprintln!(
            "  {} tensors this model has no use for: {}{more}",
            report.unused.len(),
            shown.join(", ")
        );
    }
    Ok(model)
}

/// Writes `model` as a safetensors file that `load_state_dict` takes on the PyTorch module
/// `pytorch/masktune_models.py` builds from the metadata it carries (architecture, classes,
/// input and normalisation, as in a bundle). Returns the bytes written.
pub fn write_safetensors(path: &Path, model: &AnyModel, meta: &BundleMetadata) -> Result<usize> {
    let state = pytorch::to_state_dict(model, &meta.architecture)
        .map_err(|e| TrainError::compute("cannot read the model's weights", e))?;
    let metadata = pytorch::safetensors::model_metadata(meta);
    let bytes = pytorch::safetensors::write(&state, metadata)
        .map_err(|e| TrainError::compute("cannot write the safetensors file", e))?;
    write_atomic(path, &bytes)?;
    Ok(bytes.len())
}
