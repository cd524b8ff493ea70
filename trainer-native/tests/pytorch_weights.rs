//! PyTorch weights in and out, against files PyTorch wrote (tests/fixtures/pytorch: the modules
//! of pytorch/masktune_models.py, randomly initialised, with their logits on stored inputs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use masktune::bundle::CheckpointKind;
use masktune::cam_model::CamModel;
use masktune::model_file;
use masktune::models::Architecture;
use masktune::models::preprocess::{InputSize, Normalization};
use masktune::pytorch::{self, Classifier, StateDict};
use serde::Deserialize;
use trainer_native::pytorch_weights::{load_into, read_state_dict};
use trainer_native::train::TrainError;

#[derive(Deserialize)]
struct Fixtures {
    models: BTreeMap<String, ModelFixture>,
    full_size: BTreeMap<String, FullSize>,
}

#[derive(Deserialize)]
struct ModelFixture {
    architecture: Architecture,
    file: String,
    /// What `masktune_models.save` wrote into the file's metadata, where it wrote the file.
    description: Option<Description>,
}

#[derive(Deserialize)]
struct Description {
    class_names: Vec<String>,
    normalization: Normalization,
    dataset: String,
}

/// A full-size torchvision model's keys and shapes, and those of its counterpart in
/// pytorch/masktune_models.py at width 64.
#[derive(Deserialize)]
struct FullSize {
    architecture: Architecture,
    torchvision: BTreeMap<String, Vec<usize>>,
    masktune_models: BTreeMap<String, Vec<usize>>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch")
}

fn fixtures() -> Fixtures {
    serde_json::from_slice(&std::fs::read(dir().join("fixtures.json")).unwrap()).unwrap()
}

/// Each model's input and PyTorch's logits on it.
fn inputs_and_logits() -> StateDict {
    let bytes = std::fs::read(dir().join("io.safetensors")).unwrap();
    pytorch::safetensors::read(&bytes).unwrap().0
}

fn logits(model: &masktune::models::AnyModel, input: &TensorData) -> Vec<f32> {
    let x = Tensor::<4>::from_data(input.clone(), &Device::flex());
    model.forward(x).into_data().try_to_vec::<f32>().unwrap()
}

fn assert_close(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}");
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= 1e-4,
        "{what}: logits differ by up to {worst}\n{ours:?}\n{theirs:?}"
    );
}

fn load(
    architecture: &Architecture,
    file: &Path,
    classifier: Classifier,
) -> masktune::models::AnyModel {
    let model = architecture.init(&Device::flex());
    load_into(model, architecture, file, classifier)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[test]
fn pytorch_files_give_pytorchs_logits() {
    let io = inputs_and_logits();
    for (name, fixture) in fixtures().models {
        let model = load(
            &fixture.architecture,
            &dir().join(&fixture.file),
            Classifier::Load,
        );
        let theirs = io[&format!("{name}.logits")].try_to_vec::<f32>().unwrap();
        assert_close(
            &logits(&model, &io[&format!("{name}.input")]),
            &theirs,
            &name,
        );
    }
}

/// A file that `pytorch/masktune_models.py`'s `save` wrote describes its model as our export
/// does: `masktune::model_file` builds it from the description alone, with PyTorch's logits.
#[test]
fn models_saved_with_their_description_in_pytorch_read_as_described() {
    let io = inputs_and_logits();
    let described: Vec<_> = fixtures()
        .models
        .into_iter()
        .filter_map(|(name, mut f)| f.description.take().map(|d| (name, f, d)))
        .collect();
    assert!(!described.is_empty(), "make_fixtures.py saves one");
    for (name, fixture, description) in described {
        let bytes = std::fs::read(dir().join(&fixture.file)).unwrap();
        let (model, meta) = model_file::read(&bytes, &Device::flex())
            .unwrap_or_else(|e| panic!("{}: {e}", fixture.file));
        assert_eq!(meta.architecture, fixture.architecture, "{name}");
        assert_eq!(meta.class_names, description.class_names, "{name}");
        assert_eq!(meta.normalization, description.normalization, "{name}");
        assert_eq!(meta.dataset, description.dataset, "{name}");
        assert_eq!(meta.input_size, InputSize::square(32), "{name}");
        assert_eq!(meta.checkpoint, CheckpointKind::Erm, "{name}");
        let theirs = io[&format!("{name}.logits")].try_to_vec::<f32>().unwrap();
        assert_close(
            &logits(&model, &io[&format!("{name}.input")]),
            &theirs,
            &name,
        );
    }
}

/// Written back, each model is PyTorch's state dict again: the same keys, shapes, types and
/// values, except that conv biases are zero and folded into the running mean of the batch norm
/// after them (the next index of the Sequential); and it computes PyTorch's logits.
#[test]
fn exported_state_dicts_are_pytorchs() {
    let io = inputs_and_logits();
    for (name, fixture) in fixtures().models {
        let file = dir().join(&fixture.file);
        let original: StateDict = read_state_dict(&file)
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.strip_prefix("state_dict.module.")
                        .unwrap_or(&k)
                        .to_string(),
                    v,
                )
            })
            .collect();
        let model = load(&fixture.architecture, &file, Classifier::Load);
        let exported = pytorch::to_state_dict(&model, &fixture.architecture).unwrap();
        let signature = |state: &StateDict| {
            state
                .iter()
                .map(|(k, v)| (k.clone(), v.shape().to_vec(), v.dtype()))
                .collect::<Vec<_>>()
        };
        assert_eq!(signature(&exported), signature(&original), "{name}");

        let conv_biases: Vec<&String> = original
            .keys()
            .filter(|k| k.ends_with(".bias"))
            .filter(|k| original[&k.replace(".bias", ".weight")].shape().len() == 4)
            .collect();
        let mut folded_means = Vec::new();
        for bias in &conv_biases {
            let values = exported[*bias].try_to_vec::<f32>().unwrap();
            assert!(values.iter().all(|&v| v == 0.0), "{name}: {bias}");
            let mean = next_layer(bias, "running_mean");
            let want: Vec<f32> = f32s(&original[&mean])
                .iter()
                .zip(f32s(&original[*bias]))
                .map(|(m, b)| m - b)
                .collect();
            assert_eq!(f32s(&exported[&mean]), want, "{name}: {mean}");
            folded_means.push(mean);
        }
        for (key, value) in &exported {
            let changed = conv_biases.contains(&key)
                || folded_means.contains(key)
                || key.ends_with("num_batches_tracked");
            if !changed {
                assert_eq!(f32s(value), f32s(&original[key]), "{name}: {key}");
            }
        }

        let bytes = pytorch::safetensors::write(&exported, Default::default()).unwrap();
        let again = architecture_model(&fixture.architecture, &bytes);
        let theirs = io[&format!("{name}.logits")].try_to_vec::<f32>().unwrap();
        assert_close(
            &logits(&again, &io[&format!("{name}.input")]),
            &theirs,
            &name,
        );
    }
}

fn f32s(data: &TensorData) -> Vec<f32> {
    data.clone().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// `param` of the layer after `key`'s in its Sequential (`features.4.bias` -> `features.5.param`).
fn next_layer(key: &str, param: &str) -> String {
    let layer = key.rsplit_once('.').unwrap().0;
    let (sequential, index) = layer.rsplit_once('.').unwrap();
    format!(
        "{sequential}.{}.{param}",
        index.parse::<usize>().unwrap() + 1
    )
}

fn architecture_model(
    architecture: &Architecture,
    safetensors: &[u8],
) -> masktune::models::AnyModel {
    let (state, _) = pytorch::safetensors::read(safetensors).unwrap();
    let model = architecture.init(&Device::flex());
    pytorch::load_state_dict(model, architecture, &state, Classifier::Load)
        .unwrap()
        .0
}

/// At full size our names and shapes are torchvision's (ResNets: every key; VGG: the
/// features, the head being masktune's GAP + linear `fc`), and those of masktune_models.py.
#[test]
fn full_size_models_have_torchvisions_keys() {
    for (name, full) in fixtures().full_size {
        let model = full.architecture.init(&Device::flex());
        let ours: BTreeMap<String, Vec<usize>> = pytorch::to_state_dict(&model, &full.architecture)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.shape().to_vec()))
            .collect();
        assert_eq!(ours, full.masktune_models, "{name}");
        let shared: Vec<&String> = ours
            .keys()
            .filter(|k| full.torchvision.contains_key(*k))
            .collect();
        let only_ours: Vec<&String> = ours
            .keys()
            .filter(|k| !full.torchvision.contains_key(*k))
            .collect();
        match name.starts_with("vgg") {
            true => assert_eq!(only_ours, ["fc.bias", "fc.weight"], "{name}"),
            false => assert!(only_ours.is_empty(), "{name}: {only_ours:?}"),
        }
        for key in shared {
            assert_eq!(ours[key], full.torchvision[key], "{name}: {key}");
        }
    }
}

fn weights_error(architecture: &Architecture, file: &Path, classifier: Classifier) -> String {
    let model = architecture.init(&Device::flex());
    match load_into(model, architecture, file, classifier) {
        Ok(_) => panic!("{} should not load into {architecture:?}", file.display()),
        Err(e @ TrainError::PytorchWeights { .. }) => e.to_string(),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn fixture(name: &str) -> (Architecture, PathBuf) {
    let f = fixtures().models.remove(name).unwrap();
    (f.architecture, dir().join(f.file))
}

#[test]
fn weights_of_another_model_are_refused_with_the_keys_at_fault() {
    let (_, file) = fixture("resnet18_w2");
    let resnet = |depth, width, num_classes| Architecture::ResNet {
        in_channels: 3,
        num_classes,
        depth,
        width,
    };
    let wider = resnet(18, 4, 3);
    let err = weights_error(&wider, &file, Classifier::Load);
    assert!(
        err.contains("resnet18_w2.pth")
            && err.contains(
                "'state_dict.module.conv1.weight' is [2, 3, 7, 7], expected [4, 3, 7, 7]"
            ),
        "{err}"
    );
    let deeper = resnet(34, 2, 3);
    let err = weights_error(&deeper, &file, Classifier::Load);
    assert!(
        err.contains("'state_dict.module.layer1.2.conv1.weight' is missing"),
        "{err}"
    );

    // Another number of classes: refused as the same model, taken to start a new task.
    let five_classes = resnet(18, 2, 5);
    let err = weights_error(&five_classes, &file, Classifier::Load);
    assert!(
        err.contains("'state_dict.module.fc.weight' is [3, 16], expected [5, 16]"),
        "{err}"
    );
    let state = read_state_dict(&file).unwrap();
    let model = five_classes.init(&Device::flex());
    let fresh = five_classes.init(&Device::flex());
    let (model, report) = pytorch::load_state_dict(
        model,
        &five_classes,
        &state,
        Classifier::KeepFreshIfItDiffers,
    )
    .unwrap();
    assert_eq!(
        report.stripped_prefix.as_deref(),
        Some("state_dict.module.")
    );
    assert!(report.fresh_classifier.unwrap().contains("fc.weight"));
    assert_eq!(
        report.unused,
        ["state_dict.module.fc.bias", "state_dict.module.fc.weight"]
    );
    let exported = pytorch::to_state_dict(&model, &five_classes).unwrap();
    let fresh = pytorch::to_state_dict(&fresh, &five_classes).unwrap();
    assert_eq!(
        exported["conv1.weight"],
        state["state_dict.module.conv1.weight"]
    );
    assert_eq!(exported["fc.weight"].shape(), fresh["fc.weight"].shape());
}

#[test]
fn damaged_files_are_named_with_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let (vgg, file) = fixture("vgg11_w4");
    let bytes = std::fs::read(&file).unwrap();
    let cut = tmp.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = weights_error(&vgg, &cut, Classifier::Load);
    assert!(
        err.contains("cut.safetensors") && err.contains("not a readable safetensors file"),
        "{err}"
    );

    let (mnist, file) = fixture("mnist_cnn_w4");
    let bytes = std::fs::read(&file).unwrap();
    let cut = tmp.path().join("cut.pth");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = weights_error(&mnist, &cut, Classifier::Load);
    assert!(
        err.contains("cut.pth") && err.contains("not a readable PyTorch file"),
        "{err}"
    );

    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "not weights").unwrap();
    let err = weights_error(&mnist, &text, Classifier::Load);
    assert!(
        err.contains("expected a safetensors file or a torch.save() .pth/.pt file"),
        "{err}"
    );
}
