//! Bundle round trip, and every kind of bad blob giving its own error without a panic.

use burn::prelude::*;
use masktune::bundle::{
    Bundle, BundleError, BundleMetadata, CheckpointKind, CoverageThreshold, TrainingSummary,
    WeightPrecision,
};
use masktune::cam_model::CamModel;
use masktune::inference::ModelPair;
use masktune::models::preprocess::DatasetKind;
use masktune::models::{AnyModel, Architecture};
use masktune::saliency::{GradientPath, Method, Target, saliency_maps};

mod support;
use support::{images, trained};

const ARCH: Architecture = Architecture::SmallCnn {
    in_channels: 3,
    num_classes: 2,
    width: 2,
};

fn metadata(architecture: Architecture) -> BundleMetadata {
    let dataset = DatasetKind::SpuriousMnist;
    BundleMetadata {
        class_names: (0..architecture.num_classes())
            .map(|c| format!("class {c}"))
            .collect(),
        architecture,
        dataset: dataset.name().to_string(),
        input_size: dataset.input_size(),
        normalization: dataset.normalization(),
        checkpoint: CheckpointKind::MaskTune,
        training: Some(TrainingSummary {
            epochs: Some(1),
            seed: Some(7),
            accuracies: [("biased_test".to_string(), 0.9)].into(),
            ..Default::default()
        }),
        selective_thresholds: vec![CoverageThreshold {
            target_coverage: 0.9,
            threshold: 0.75,
        }],
        selective_summaries: Vec::new(),
    }
}

fn trained_model() -> AnyModel {
    trained(ARCH)
}

fn bundle() -> Vec<u8> {
    Bundle::to_bytes(
        &ARCH.init(&Device::flex()),
        &metadata(ARCH),
        WeightPrecision::F32,
    )
    .unwrap()
}

#[test]
fn round_trip_gives_identical_logits_and_metadata() {
    let device = Device::flex();
    let model = trained_model();
    let meta = metadata(ARCH);
    let bytes = Bundle::to_bytes(&model, &meta, WeightPrecision::F32).unwrap();
    let (loaded, loaded_meta) = Bundle::from_bytes(&bytes, &device).unwrap();
    assert_eq!(loaded_meta, meta);
    // The same weights in another model make the same file (parameter ids are not kept).
    let again = Bundle::to_bytes(&loaded, &meta, WeightPrecision::F32).unwrap();
    assert!(again == bytes, "the model read back writes another bundle");
    let x = images(&device);
    let fresh = ARCH.init(&device).forward(x.clone()).into_data();
    let (want, got) = (
        model.forward(x.clone()).into_data(),
        loaded.forward(x).into_data(),
    );
    assert_eq!(got, want);
    assert_ne!(
        got, fresh,
        "the loaded model must not be a freshly initialised one"
    );
}

/// Every weight of `model`, by tensor name.
fn weights(model: &AnyModel) -> Vec<(String, Vec<f32>)> {
    use burn::store::ModuleSnapshot;
    model
        .collect(None, None, false)
        .into_iter()
        .map(|tensor| {
            assert_eq!(tensor.dtype, burn::tensor::DType::F32, "{}", tensor.name);
            let bytes = tensor.to_bytes().unwrap();
            let values = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            (tensor.name.clone(), values)
        })
        .collect()
}

#[test]
fn f16_bundles_hold_the_f16_rounded_weights_in_about_half_the_bytes() {
    let device = Device::flex();
    let (model, meta) = wide_model();
    let f32_bytes = Bundle::to_bytes(&model, &meta, WeightPrecision::F32).unwrap();
    let f16_bytes = Bundle::to_bytes(&model, &meta, WeightPrecision::F16).unwrap();
    let ratio = f16_bytes.len() as f64 / f32_bytes.len() as f64;
    assert!(
        (0.45..0.6).contains(&ratio),
        "f16 bundle is {ratio:.2} of the f32 one"
    );

    let (loaded, loaded_meta) = Bundle::from_bytes(&f16_bytes, &device).unwrap();
    assert_eq!(loaded_meta, meta);
    let mut rounded_somewhere = false;
    for ((name, want), (loaded_name, got)) in weights(&model).into_iter().zip(weights(&loaded)) {
        assert_eq!(name, loaded_name);
        // Batch norms are kept in f32: exactly equal. Everything else is f16-rounded.
        let exact = name.contains(".bn.");
        for (w, g) in want.iter().zip(&got) {
            let expected = if exact {
                *w
            } else {
                burn::tensor::f16::from_f32(*w).to_f32()
            };
            assert_eq!(*g, expected, "{name}: {w} read back as {g}");
            rounded_somewhere |= g != w;
        }
    }
    assert!(
        rounded_somewhere,
        "no weight changed: were the weights stored in f16 at all?"
    );
    assert!(
        weights(&model)
            .iter()
            .any(|(name, _)| name.contains(".bn.running_var")),
        "the model has no batch norm: the f32 batch norms are not tested"
    );
    // The same bytes read twice give the same model: page and trainer compute alike.
    let (again, _) = Bundle::from_bytes(&f16_bytes, &device).unwrap();
    let x = images(&device);
    assert_eq!(
        loaded.forward(x.clone()).into_data(),
        again.forward(x).into_data()
    );
}

/// A model wide enough that its weights, not the metadata, make up the bundle.
fn wide_model() -> (AnyModel, BundleMetadata) {
    let arch = Architecture::SmallCnn {
        in_channels: 3,
        num_classes: 2,
        width: 16,
    };
    (trained(arch.clone()), metadata(arch))
}

#[test]
fn int8_bundles_hold_each_weight_within_half_a_step_in_about_a_quarter_of_the_bytes() {
    let device = Device::flex();
    let (model, meta) = wide_model();
    let f32_bytes = Bundle::to_bytes(&model, &meta, WeightPrecision::F32).unwrap();
    let int8_bytes = Bundle::to_bytes(&model, &meta, WeightPrecision::Int8).unwrap();
    let ratio = int8_bytes.len() as f64 / f32_bytes.len() as f64;
    assert!(
        (0.22..0.35).contains(&ratio),
        "int8 bundle is {ratio:.2} of the f32 one"
    );

    let (loaded, loaded_meta) = Bundle::from_bytes(&int8_bytes, &device).unwrap();
    assert_eq!(loaded_meta, meta);
    let mut quantized = 0;
    for ((name, want), (loaded_name, got)) in weights(&model).into_iter().zip(weights(&loaded)) {
        assert_eq!(name, loaded_name);
        if !name.ends_with(".weight") {
            // Biases and batch norms are kept in f32.
            assert_eq!(got, want, "{name}");
            continue;
        }
        quantized += 1;
        // One step is at most the tensor's largest magnitude / 127 (each output channel's
        // step is its own largest magnitude / 127).
        let step = want.iter().fold(0f32, |m, w| m.max(w.abs())) / 127.0;
        for (w, g) in want.iter().zip(&got) {
            assert!(
                (w - g).abs() <= step * 0.5001,
                "{name}: {w} read back as {g}"
            );
        }
        assert_ne!(got, want, "{name} was not quantised");
    }
    assert!(quantized >= 3, "only {quantized} weights were quantised");
    // The same bytes read twice give the same model: page and trainer compute alike.
    let (again, _) = Bundle::from_bytes(&int8_bytes, &device).unwrap();
    let x = images(&device);
    assert_eq!(
        loaded.forward(x.clone()).into_data(),
        again.forward(x).into_data()
    );
}

#[test]
fn int8_weights_without_their_scales_are_reported() {
    use burn::store::burn_pack::{Bytes, Reader, Writer};
    let device = Device::flex();
    let (model, meta) = wide_model();
    let bytes = Bundle::to_bytes(&model, &meta, WeightPrecision::Int8).unwrap();
    let (json, weights) = sections(&bytes);
    let tensors = Reader::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
        .and_then(Reader::into_tensors)
        .unwrap();
    let scales = tensors
        .iter()
        .position(|t| t.name.ends_with(".int8_scale"))
        .expect("an int8 bundle stores scales");
    let mut without_scales = tensors.clone();
    let removed = without_scales.remove(scales);
    let weights = Writer::new(without_scales).into_bytes().unwrap();
    let err = Bundle::from_bytes(&frame(json, &weights), &device).unwrap_err();
    let weight = removed.name.trim_end_matches(".int8_scale");
    assert!(
        matches!(&err, BundleError::InvalidWeights(m) if m.contains(weight) && m.contains("no scales")),
        "{err}"
    );
}

#[test]
fn a_pair_given_in_either_order_is_sorted_by_kind_and_each_problem_is_named() {
    let device = Device::flex();
    let model = trained_model();
    let masktune_meta = metadata(ARCH);
    let erm_meta = BundleMetadata {
        checkpoint: CheckpointKind::Erm,
        ..metadata(ARCH)
    };
    let bytes = |model: &AnyModel, meta: &BundleMetadata| {
        Bundle::to_bytes(model, meta, WeightPrecision::F32).unwrap()
    };
    let (erm, masktune) = (bytes(&model, &erm_meta), bytes(&model, &masktune_meta));
    for files in [
        [
            ("erm.mtb", erm.as_slice()),
            ("masktune.mtb", masktune.as_slice()),
        ],
        [
            ("masktune.mtb", masktune.as_slice()),
            ("erm.mtb", erm.as_slice()),
        ],
    ] {
        let pair = ModelPair::load_either_order(files, &device).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pair.meta, masktune_meta);
    }
    let problem = |files| match ModelPair::load_either_order(files, &device) {
        Ok(_) => panic!("the pair should have been refused"),
        Err(message) => message,
    };
    let message = problem([("a.mtb", erm.as_slice()), ("b.mtb", erm.as_slice())]);
    assert!(
        message.contains("a.mtb and b.mtb are both ERM bundles"),
        "{message}"
    );
    let cut = &masktune[..masktune.len() / 2];
    let message = problem([("erm.mtb", erm.as_slice()), ("cut.mtb", cut)]);
    assert!(
        message.starts_with("cut.mtb: bundle is truncated"),
        "{message}"
    );
    let other = Architecture::SmallCnn {
        in_channels: 3,
        num_classes: 2,
        width: 4,
    };
    let other_bytes = bytes(&other.init(&device), &metadata(other));
    let message = problem([
        ("erm.mtb", erm.as_slice()),
        ("other.mtb", other_bytes.as_slice()),
    ]);
    assert!(message.contains("different architectures"), "{message}");
}

#[test]
fn bytes_that_are_not_a_bundle() {
    let device = Device::flex();
    for bytes in [
        &b"\x89PNG\r\n\x1a\n and then some image"[..],
        b"{\"json\": true}",
        b"MTB_NOPE",
    ] {
        let err = Bundle::from_bytes(bytes, &device).unwrap_err();
        assert!(matches!(err, BundleError::NotABundle), "{err}");
    }
}

#[test]
fn every_truncation_is_reported() {
    let device = Device::flex();
    let bytes = bundle();
    for len in (0..bytes.len())
        .step_by(97)
        .chain([4, 8, 23, bytes.len() - 1])
    {
        let err = Bundle::from_bytes(&bytes[..len], &device).unwrap_err();
        assert!(
            matches!(err, BundleError::Truncated { .. }),
            "cut at {len}: {err}"
        );
    }
}

#[test]
fn every_flipped_byte_is_an_error_never_a_panic() {
    let device = Device::flex();
    let bytes = bundle();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        let err = Bundle::from_bytes(&bad, &device).unwrap_err();
        let expected = match i {
            0..8 => matches!(err, BundleError::NotABundle),
            8..12 => matches!(err, BundleError::UnsupportedVersion { .. }),
            // A length field: the blob looks cut short or fails its checksum.
            12..24 => matches!(
                err,
                BundleError::Truncated { .. } | BundleError::ChecksumMismatch { .. }
            ),
            _ => matches!(err, BundleError::ChecksumMismatch { .. }),
        };
        assert!(expected, "byte {i}: {err}");
    }
}

#[test]
fn appended_bytes_are_reported() {
    let mut bytes = bundle();
    bytes.extend_from_slice(b"\n");
    let err = Bundle::from_bytes(&bytes, &Device::flex()).unwrap_err();
    assert!(matches!(err, BundleError::TrailingBytes { .. }), "{err}");
}

#[test]
fn weights_of_another_architecture_are_rejected() {
    let device = Device::flex();
    let model = ARCH.init(&device);
    let wider = Architecture::SmallCnn {
        in_channels: 3,
        num_classes: 2,
        width: 3,
    };
    let other_kind = Architecture::Vgg {
        in_channels: 3,
        num_classes: 2,
        depth: 11,
        width: 2,
    };
    for arch in [wider, other_kind] {
        let bytes =
            Bundle::to_bytes(&model, &metadata(arch.clone()), WeightPrecision::F32).unwrap();
        let err = Bundle::from_bytes(&bytes, &device).unwrap_err();
        assert!(
            matches!(err, BundleError::WeightsMismatch(_)),
            "{arch:?}: {err}"
        );
    }
}

/// A well-framed bundle's metadata JSON and weights (the inverse of [`frame`]).
fn sections(bundle: &[u8]) -> (&[u8], &[u8]) {
    let json_len = u32::from_le_bytes(bundle[12..16].try_into().unwrap()) as usize;
    (
        &bundle[24..24 + json_len],
        &bundle[24 + json_len..bundle.len() - 4],
    )
}

/// Frames `json` and `weights` as a bundle with a valid checksum.
fn frame(json: &[u8], weights: &[u8]) -> Vec<u8> {
    let mut out = b"MTBUNDLE".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
    out.extend_from_slice(json);
    out.extend_from_slice(weights);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn well_framed_but_bad_contents_are_reported() {
    let device = Device::flex();
    let json = serde_json::to_vec(&metadata(ARCH)).unwrap();

    let err = Bundle::from_bytes(&frame(b"{not json", b""), &device).unwrap_err();
    assert!(matches!(err, BundleError::InvalidMetadata(_)), "{err}");

    let mut two_names_short = metadata(ARCH);
    two_names_short.class_names.clear();
    let bad_meta = serde_json::to_vec(&two_names_short).unwrap();
    let err = Bundle::from_bytes(&frame(&bad_meta, b""), &device).unwrap_err();
    assert!(matches!(err, BundleError::InconsistentMetadata(_)), "{err}");

    let err = Bundle::from_bytes(&frame(&json, b"not a burnpack"), &device).unwrap_err();
    assert!(matches!(err, BundleError::InvalidWeights(_)), "{err}");
}

#[test]
fn unsupported_versions_are_named() {
    let mut bytes = bundle();
    bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
    let err = Bundle::from_bytes(&bytes, &Device::flex()).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::UnsupportedVersion {
                found: 3,
                supported: 2
            }
        ),
        "{err}"
    );
}

#[test]
fn unwritable_metadata_is_refused_at_export() {
    let model = ARCH.init(&Device::flex());
    let mut meta = metadata(ARCH);
    meta.training
        .as_mut()
        .unwrap()
        .accuracies
        .insert("val".into(), f64::NAN);
    let err = Bundle::to_bytes(&model, &meta, WeightPrecision::F32).unwrap_err();
    assert!(matches!(err, BundleError::InvalidMetadata(_)), "{err}");
}

/// A bundled model with a batch norm in its head (the authors' MNIST network) must explain each
/// image by itself: the saliency's backward pass runs the head on autodiff, where a batch norm
/// left in training mode would normalise with the batch's statistics and mix the images.
#[test]
fn loaded_models_are_in_evaluation_mode_for_the_saliency_backward_pass() {
    let arch = Architecture::MnistCnn {
        in_channels: 3,
        num_classes: 2,
        width: 2,
        input_size: 28,
    };
    let autodiff = Device::flex().autodiff();
    let trained = arch.init(&autodiff);
    trained.forward(images(&autodiff));
    let bytes = Bundle::to_bytes(&trained.valid(), &metadata(arch), WeightPrecision::F32).unwrap();
    let device = Device::flex();
    let (model, _) = Bundle::from_bytes(&bytes, &device).unwrap();
    let maps = |x: Tensor<4>| -> Vec<f32> {
        saliency_maps(
            &model,
            x,
            Method::XGradCam,
            &Target::Predicted,
            GradientPath::Backward,
        )
        .unwrap()
        .maps
        .try_to_vec_as::<f32>()
        .unwrap()
    };
    let batch = images(&device);
    let together = maps(batch.clone());
    let one_by_one: Vec<f32> = (0..3)
        .flat_map(|i| maps(batch.clone().slice(i..i + 1)))
        .collect();
    let difference = together
        .iter()
        .zip(&one_by_one)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(difference < 1e-5, "maps depend on the batch: {difference}");
}

/// The page writes the bundle of a model trained on WebGPU from a copy made by asynchronous
/// reads (`readback::module_to`): the copy lives on the target device only and writes the
/// very same bundle, batch-norm running statistics included; the model stays where it was.
#[test]
fn a_model_copied_by_asynchronous_reads_writes_the_same_bundle() {
    let autodiff = Device::flex().autodiff();
    let model = ARCH.init(&autodiff);
    model.forward(images(&autodiff));
    assert!(model.devices().iter().all(|d| d.is_autodiff()));
    let copy = pollster::block_on(masktune::readback::module_to(&model, &Device::flex())).unwrap();
    assert!(
        copy.devices().iter().all(|d| !d.is_autodiff()),
        "{:?}",
        copy.devices()
    );
    assert!(
        model.devices().iter().all(|d| d.is_autodiff()),
        "{:?}",
        model.devices()
    );
    let bytes = |m: &AnyModel| Bundle::to_bytes(m, &metadata(ARCH), WeightPrecision::F32).unwrap();
    assert_eq!(bytes(&copy), bytes(&model));
}

#[test]
fn new_metadata_keeps_the_weights_bytes_and_refuses_another_architecture() {
    let device = Device::flex();
    let (model, meta) = wide_model();
    let bytes = Bundle::to_bytes(&model, &meta, WeightPrecision::Int8).unwrap();
    let mut changed = meta.clone();
    changed.selective_thresholds = vec![CoverageThreshold {
        target_coverage: 0.8,
        threshold: 0.6,
    }];
    let rewritten = Bundle::with_metadata(&bytes, &changed).unwrap();
    let (loaded, loaded_meta) = Bundle::from_bytes(&rewritten, &device).unwrap();
    assert_eq!(loaded_meta, changed);
    let (original, _) = Bundle::from_bytes(&bytes, &device).unwrap();
    assert_eq!(weights(&loaded), weights(&original));
    // The weights' bytes themselves are copied: the bundle ends with them and its checksum.
    assert_eq!(sections(&rewritten).1, sections(&bytes).1);

    let mut other = meta;
    other.architecture = ARCH;
    other.class_names = (0..ARCH.num_classes()).map(|c| c.to_string()).collect();
    let err = Bundle::with_metadata(&bytes, &other).unwrap_err();
    assert!(matches!(err, BundleError::InconsistentMetadata(_)), "{err}");
}

/// An int8 ERM bundle and an int8 MaskTune bundle of other weights (two differently initialised
/// models), as a run's pair is shipped.
fn int8_pair() -> (Vec<u8>, Vec<u8>) {
    let erm_meta = BundleMetadata {
        checkpoint: CheckpointKind::Erm,
        ..metadata(ARCH)
    };
    let erm = Bundle::to_bytes(&trained_model(), &erm_meta, WeightPrecision::Int8).unwrap();
    let masktune =
        Bundle::to_bytes(&trained_model(), &metadata(ARCH), WeightPrecision::Int8).unwrap();
    (erm, masktune)
}

#[test]
fn a_masktune_bundle_stored_as_a_difference_reads_as_the_whole_one_with_its_erm_bundle() {
    let device = Device::flex();
    let (erm, masktune) = int8_pair();
    let difference = Bundle::as_difference(&masktune, &erm).unwrap();
    assert_eq!(&difference[8..12], &2u32.to_le_bytes(), "version 2");
    assert_eq!(
        &masktune[8..12],
        &1u32.to_le_bytes(),
        "whole bundles stay version 1"
    );
    assert_eq!(
        Bundle::whole(&difference, &erm).unwrap().as_ref(),
        masktune.as_slice(),
        "restored byte for byte"
    );
    assert_eq!(
        Bundle::metadata(&difference).unwrap(),
        Bundle::metadata(&masktune).unwrap()
    );
    // A whole bundle is given back as it is, whatever the base.
    assert!(matches!(
        Bundle::whole(&masktune, b"anything").unwrap(),
        std::borrow::Cow::Borrowed(_)
    ));

    let input = images(&device);
    let logits = |pair: &ModelPair| {
        pair.masktune
            .forward(input.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    let from_whole = ModelPair::load(&erm, &masktune, &device).unwrap();
    let from_difference = ModelPair::load(&erm, &difference, &device).unwrap();
    assert_eq!(logits(&from_whole), logits(&from_difference));
    assert_eq!(from_whole.meta, from_difference.meta);
    let either =
        ModelPair::load_either_order([("masktune.mtb", &difference), ("erm.mtb", &erm)], &device)
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(either.meta, from_whole.meta);

    // New thresholds keep the weights stored as they were.
    let meta = BundleMetadata {
        selective_thresholds: Vec::new(),
        ..metadata(ARCH)
    };
    let rewritten = Bundle::with_metadata(&difference, &meta).unwrap();
    assert_eq!(
        Bundle::whole(&rewritten, &erm).unwrap().as_ref(),
        Bundle::with_metadata(&masktune, &meta).unwrap().as_slice()
    );
}

#[test]
fn a_difference_without_its_base_or_with_another_is_refused_with_what_to_give() {
    let device = Device::flex();
    let (erm, masktune) = int8_pair();
    let difference = Bundle::as_difference(&masktune, &erm).unwrap();
    let err = Bundle::from_bytes(&difference, &device).unwrap_err();
    assert!(matches!(err, BundleError::NeedsBase { .. }), "{err}");
    assert!(err.to_string().contains("read it as a pair"), "{err}");

    let swapped = ModelPair::load(&difference, &erm, &device)
        .err()
        .expect("a swapped pair must be refused");
    assert!(swapped.contains("swapped"), "{swapped}");

    let (other_erm, _) = int8_pair();
    let err = Bundle::whole(&difference, &other_erm).unwrap_err();
    assert!(matches!(err, BundleError::WrongBase { .. }), "{err}");
    let message = ModelPair::load(&other_erm, &difference, &device)
        .err()
        .expect("another run's ERM bundle must be refused");
    assert!(
        message.starts_with("MaskTune bundle: this bundle stores its weights as their difference"),
        "{message}"
    );
    // The right ERM weights in another precision are another base.
    let f32_erm = Bundle::to_bytes(
        &Bundle::from_bytes(&erm, &device).unwrap().0,
        &Bundle::metadata(&erm).unwrap(),
        WeightPrecision::F32,
    )
    .unwrap();
    let err = Bundle::whole(&difference, &f32_erm).unwrap_err();
    assert!(matches!(err, BundleError::WrongBase { .. }), "{err}");

    let err = Bundle::as_difference(&masktune, &f32_erm).unwrap_err();
    assert!(
        err.to_string()
            .contains("the same architecture with the same weight precision"),
        "{err}"
    );
    let err = Bundle::as_difference(&difference, &erm).unwrap_err();
    assert!(err.to_string().contains("a difference already"), "{err}");
    let err = Bundle::as_difference(&masktune, &difference).unwrap_err();
    assert!(err.to_string().contains("base bundle is itself"), "{err}");
}

#[test]
fn every_flipped_byte_of_a_difference_is_an_error_never_a_panic() {
    let device = Device::flex();
    let (erm, masktune) = int8_pair();
    let difference = Bundle::as_difference(&masktune, &erm).unwrap();
    for i in 0..difference.len() {
        let mut bad = difference.clone();
        bad[i] ^= 0x10;
        let message = ModelPair::load(&erm, &bad, &device)
            .err()
            .unwrap_or_else(|| panic!("byte {i} flipped was read"));
        let expected = match i {
            0..8 => "not a MaskTune model bundle",
            8..12 => "bundle format version",
            12..24 => "bundle is",
            // The base's checksum is covered by the bundle's own.
            _ => "bundle is corrupt",
        };
        assert!(message.contains(expected), "byte {i}: {message}");
    }
}
