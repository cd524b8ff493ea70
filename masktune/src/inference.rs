//! Inference with a trained pair for a batch of images: the ERM model's prediction and XGradCAM
//! map, the masked image MaskTune would train on, the MaskTuned model's prediction, and the two
//! models' combined confidence. The web page and `trainer-native predict` both run this, so what
//! a user sees in the page is what the trainer computes.

use crate::bundle::{Bundle, BundleMetadata, CheckpointKind};
use crate::cam_model::CamModel;
use crate::engine::{MaskingEngine, RawImages};
use crate::masking::MaskStats;
use crate::models::AnyModel;
use crate::models::preprocess::images_to_tensor;
use crate::readback::read;
use crate::saliency::{GradientPath, Target, class_gradients};
use crate::selective::{self, Combined};
use burn::prelude::*;

/// The ERM model and its MaskTuned version for one task, on the page's device.
pub struct ModelPair {
    pub erm: AnyModel,
    pub masktune: AnyModel,
    /// Metadata of the MaskTune bundle (classes, input, thresholds chosen on validation data).
    pub meta: BundleMetadata,
    pub device: Device,
}

impl ModelPair {
    /// Reads both bundles and checks that they belong together. The MaskTune bundle's weights
    /// may be stored as their difference from the ERM bundle's.
    pub fn load(erm_bytes: &[u8], masktune_bytes: &[u8], device: &Device) -> Result<Self, String> {
        let erm_error = |e| format!("ERM bundle: {e}");
        let masktune_error = |e| format!("MaskTune bundle: {e}");
        let erm_meta = Bundle::metadata(erm_bytes).map_err(erm_error)?;
        let meta = Bundle::metadata(masktune_bytes).map_err(masktune_error)?;
        if erm_meta.checkpoint != CheckpointKind::Erm || meta.checkpoint != CheckpointKind::MaskTune
        {
            return Err("the bundles are swapped or of the wrong kind: expected one ERM and one MaskTune bundle".into());
        }
        let same = erm_meta.class_names == meta.class_names
            && erm_meta.input_size == meta.input_size
            && erm_meta.normalization == meta.normalization;
        if !same {
            return Err("the ERM and MaskTune bundles were trained for different inputs or classes: export both from one run".into());
        }
        if erm_meta.architecture != meta.architecture {
            return Err("the ERM and MaskTune bundles have different architectures: MaskTune fine-tunes the ERM model, so export both from one run".into());
        }
        // The weights after the metadata: a mismatched or swapped pair is named as one, not as
        // a wrong base.
        let (erm, _) = Bundle::from_bytes(erm_bytes, device).map_err(erm_error)?;
        let (masktune, _) = Bundle::whole(masktune_bytes, erm_bytes)
            .and_then(|whole| Bundle::from_bytes(&whole, device))
            .map_err(masktune_error)?;
        Ok(Self {
            erm,
            masktune,
            meta,
            device: device.clone(),
        })
    }

    /// Reads two bundles given in either order (a user's two files, each with its name for the
    /// messages): which is the ERM and which the MaskTune model comes from their metadata.
    pub fn load_either_order(files: [(&str, &[u8]); 2], device: &Device) -> Result<Self, String> {
        let kinds = files
            .iter()
            .map(|(name, bytes)| {
                Bundle::metadata(bytes)
                    .map(|meta| meta.checkpoint)
                    .map_err(|e| format!("{name}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (erm, masktune) = match (kinds[0], kinds[1]) {
            (CheckpointKind::Erm, CheckpointKind::MaskTune) => (files[0], files[1]),
            (CheckpointKind::MaskTune, CheckpointKind::Erm) => (files[1], files[0]),
            (kind, _) => {
                let which = match kind {
                    CheckpointKind::Erm => "ERM",
                    CheckpointKind::MaskTune => "MaskTune",
                };
                return Err(format!(
                    "{} and {} are both {which} bundles: give the ERM and the MaskTune bundle of one run",
                    files[0].0, files[1].0
                ));
            }
        };
        Self::load(erm.1, masktune.1, device)
    }

    /// Side of the square input the models take.
    pub fn input_side(&self) -> usize {
        self.meta.input_size.width
    }
}

/// Everything shown for one image.
#[derive(Clone, Debug)]
pub struct ImageAnalysis {
    pub erm_probabilities: Vec<f32>,
    /// XGradCAM map of the ERM model for its predicted class, in [0, 1], at the input size.
    pub map: Vec<f32>,
    /// The input with the pixels the ERM model relied on set to 0.
    pub masked_rgb: Vec<u8>,
    pub mask: MaskStats,
    pub masktune_probabilities: Vec<f32>,
    pub combined: Combined,
}

/// Milliseconds spent in each step of one batch, shown so users see where time goes.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct StepTimes {
    /// [`MaskingEngine::name`] of what computed the maps and masks.
    pub masking_engine: String,
    pub erm_ms: f64,
    pub saliency_and_masking_ms: f64,
    pub masktune_ms: f64,
}

/// Runs both models on `images`: each `side * side * 3` RGB bytes at the pair's input size.
/// `engine` computes the maps and masks; `now_ms` is a clock in milliseconds (the page's and the
/// trainer's differ).
pub async fn analyse(
    pair: &ModelPair,
    images: &[&[u8]],
    engine: &impl MaskingEngine,
    now_ms: impl Fn() -> f64,
) -> Result<(Vec<ImageAnalysis>, StepTimes), String> {
    let side = pair.input_side();
    let mut masked: Vec<u8> = images.concat();
    let batch = images.len();
    let input = images_to_tensor(
        &masked,
        batch,
        pair.meta.input_size,
        &pair.meta.normalization,
        &pair.device,
    )
    .map_err(|e| e.to_string())?;
    let mut times = StepTimes {
        masking_engine: engine.name().to_string(),
        ..StepTimes::default()
    };

    let start = now_ms();
    // The shipped models end in global-average-pool + linear, so XGradCAM needs no backward pass
    // here (the gradient is the classifier row spread over space) and runs on WebGPU as is.
    let found = class_gradients(
        &pair.erm,
        input.clone(),
        &Target::Predicted,
        GradientPath::Auto,
    )
    .map_err(|e| e.to_string())?;
    let erm_probabilities: Vec<f32> =
        read(burn::tensor::activation::softmax(found.logits.clone(), 1)).await?;
    times.erm_ms = now_ms() - start;

    let start = now_ms();
    let raw = RawImages {
        bytes: &mut masked,
        height: side,
        width: side,
        channels: 3,
    };
    let (maps, stats) = engine.maps_and_masks(found, raw).await?;
    times.saliency_and_masking_ms = now_ms() - start;

    let start = now_ms();
    // At test time MaskTune sees the original input; its disagreement with ERM is the signal.
    let logits = pair.masktune.forward(input);
    let masktune_probabilities: Vec<f32> =
        read(burn::tensor::activation::softmax(logits, 1)).await?;
    times.masktune_ms = now_ms() - start;

    let plane = side * side;
    let masked = masked
        .chunks_exact(plane * 3)
        .map(<[u8]>::to_vec)
        .zip(stats);
    let classes = pair.meta.class_names.len();
    let analyses = masked
        .into_iter()
        .enumerate()
        .map(|(i, (masked_rgb, mask))| {
            let erm = erm_probabilities[i * classes..(i + 1) * classes].to_vec();
            let masktune = masktune_probabilities[i * classes..(i + 1) * classes].to_vec();
            let combined =
                selective::combined_confidence(&erm, &masktune).map_err(|e| e.to_string())?;
            Ok(ImageAnalysis {
                erm_probabilities: erm,
                map: maps[i * plane..(i + 1) * plane].to_vec(),
                masked_rgb,
                mask,
                masktune_probabilities: masktune,
                combined,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok((analyses, times))
}
