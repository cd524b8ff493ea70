//! A trained model given as a file: a bundle or a safetensors state dict with the model's
//! description in its metadata read into the same model; files that cannot be read named.

use burn::prelude::*;
use masktune::bundle::{Bundle, BundleMetadata, CheckpointKind, WeightPrecision};
use masktune::cam_model::CamModel;
use masktune::model_file::{self, ModelFileError};
use masktune::models::preprocess::DatasetKind;
use masktune::models::{AnyModel, Architecture};
use masktune::pytorch::{self, safetensors};

mod support;
use support::{images, trained};

const ARCH: Architecture = Architecture::SmallCnn {
    in_channels: 3,
    num_classes: 2,
    width: 2,
};

fn metadata() -> BundleMetadata {
    let dataset = DatasetKind::SpuriousMnist;
    BundleMetadata {
        architecture: ARCH,
        dataset: dataset.name().to_string(),
        class_names: vec!["0-4".into(), "5-9".into()],
        input_size: dataset.input_size(),
        normalization: dataset.normalization(),
        checkpoint: CheckpointKind::Erm,
        training: None,
        selective_thresholds: Vec::new(),
        selective_summaries: Vec::new(),
    }
}

fn safetensors_file(
    model: &AnyModel,
    metadata: std::collections::HashMap<String, String>,
) -> Vec<u8> {
    let state = pytorch::to_state_dict(model, &ARCH).unwrap();
    safetensors::write(&state, metadata).unwrap()
}

fn logits(model: &AnyModel, input: &Tensor<4>) -> Vec<f32> {
    model
        .forward(input.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn a_bundle_and_a_safetensors_file_give_the_model_and_its_description() {
    let device = Device::flex();
    let model = trained(ARCH);
    let meta = metadata();
    let files = [
        Bundle::to_bytes(&model, &meta, WeightPrecision::F32).unwrap(),
        safetensors_file(&model, safetensors::model_metadata(&meta)),
    ];
    let input = images(&device);
    for bytes in files {
        let (read, read_meta) = model_file::read(&bytes, &device).unwrap();
        assert_eq!(read_meta, meta);
        assert_eq!(model_file::metadata(&bytes).unwrap(), meta);
        assert_eq!(logits(&read, &input), logits(&model, &input));
    }
}

#[test]
fn a_safetensors_file_without_the_models_description_says_what_is_missing() {
    let mut metadata = safetensors::model_metadata(&metadata());
    metadata.remove("masktune.class_names");
    metadata.remove("masktune.input_size");
    let bytes = safetensors_file(&trained(ARCH), metadata);
    let error = model_file::read(&bytes, &Device::flex()).unwrap_err();
    assert!(matches!(error, ModelFileError::Safetensors(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("lacks masktune.class_names, masktune.input_size")
            && message.contains("trainer-native export --format safetensors"),
        "{message}"
    );
    assert_eq!(
        model_file::metadata(&bytes).unwrap_err().to_string(),
        message
    );
}

#[test]
fn a_description_that_does_not_fit_its_weights_or_itself_is_named() {
    let model = trained(ARCH);
    // Three class names for a model with two outputs.
    let mut meta = metadata();
    meta.class_names.push("extra".into());
    let bytes = safetensors_file(&model, safetensors::model_metadata(&meta));
    let message = model_file::metadata(&bytes).unwrap_err().to_string();
    assert!(
        message.contains("masktune.architecture") && message.contains("3 class names"),
        "{message}"
    );
    // A description of a wider model than the weights are.
    let mut meta = metadata();
    meta.architecture = Architecture::SmallCnn {
        in_channels: 3,
        num_classes: 2,
        width: 4,
    };
    let bytes = safetensors_file(&model, safetensors::model_metadata(&meta));
    let error = model_file::read(&bytes, &Device::flex()).unwrap_err();
    assert!(matches!(error, ModelFileError::Weights(_)), "{error:?}");
    // Unreadable JSON in a field.
    let mut metadata = safetensors::model_metadata(&metadata());
    metadata.insert("masktune.input_size".into(), "28 px".into());
    let bytes = safetensors_file(&model, metadata);
    let message = model_file::metadata(&bytes).unwrap_err().to_string();
    assert!(
        message.contains("'masktune.input_size' cannot be read"),
        "{message}"
    );
}

#[test]
fn other_and_damaged_files_are_named() {
    let error = model_file::read(b"\x89PNG\r\n\x1a\n not a model", &Device::flex()).unwrap_err();
    assert!(matches!(error, ModelFileError::UnknownFormat), "{error:?}");
    let bytes = safetensors_file(&trained(ARCH), safetensors::model_metadata(&metadata()));
    let cut = &bytes[..bytes.len() - 10];
    let message = model_file::read(cut, &Device::flex())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("not a readable safetensors file"),
        "{message}"
    );
    let bundle = Bundle::to_bytes(&trained(ARCH), &metadata(), WeightPrecision::F32).unwrap();
    let message = model_file::read(&bundle[..bundle.len() - 10], &Device::flex())
        .unwrap_err()
        .to_string();
    assert!(message.contains("bundle is truncated"), "{message}");
}
