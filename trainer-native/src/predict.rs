//! `predict`: runs an exported ERM + MaskTune bundle pair on image files exactly as the web page
//! does (`masktune::inference`), so the page's answers can be checked against the trainer's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use masktune::engine::MaskingEngine;
use masktune::inference::{self, ModelPair};
use masktune::metrics::argmax;
use masktune::selective::{Decision, decide};
use serde::Serialize;

use crate::data::image_folder::decode_resized;
use crate::train::{Result, TrainError};

/// What the pair says about one image file.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum FilePrediction {
    Done {
        erm_class: String,
        masktune_class: String,
        combined_class: String,
        confidence: f64,
        /// At the threshold chosen on validation data for the requested coverage.
        decision: &'static str,
        masked_pixels: usize,
        mask_threshold: f32,
        erm_probabilities: Vec<f32>,
        masktune_probabilities: Vec<f32>,
    },
    Failed {
        error: String,
    },
}

/// Reads the `(ERM, MaskTune)` bundle pair and checks that the two belong together.
pub fn load_pair(
    (erm_bundle, masktune_bundle): (&Path, &Path),
    device: &Device,
) -> Result<ModelPair> {
    let read = |path: &Path| std::fs::read(path).map_err(TrainError::io("read the bundle", path));
    ModelPair::load(&read(erm_bundle)?, &read(masktune_bundle)?, device)
        .map_err(|e| TrainError::compute("loading the bundles", e))
}

/// Predictions of the `(ERM, MaskTune)` bundle pair for `images`, keyed by file name; a file
/// that cannot be read gets its error and the others are still predicted.
pub fn predict(
    (erm_bundle, masktune_bundle): (&Path, &Path),
    images: &[PathBuf],
    coverage: f64,
    device: &Device,
    engine: &impl MaskingEngine,
) -> Result<BTreeMap<String, FilePrediction>> {
    let pair = load_pair((erm_bundle, masktune_bundle), device)?;
    let threshold = pair
        .meta
        .selective_thresholds
        .iter()
        .min_by(|a, b| {
            (a.target_coverage - coverage)
                .abs()
                .total_cmp(&(b.target_coverage - coverage).abs())
        })
        .map(|t| t.threshold)
        .ok_or_else(|| {
            TrainError::Settings("the MaskTune bundle holds no coverage thresholds".into())
        })?;

    let side = pair.input_side() as u32;
    let mut results = BTreeMap::new();
    let mut decoded = Vec::new();
    for path in images {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match decode_resized(path, side) {
            Ok(rgb) => decoded.push((name, rgb)),
            Err(e) => {
                results.insert(
                    name,
                    FilePrediction::Failed {
                        error: e.to_string(),
                    },
                );
            }
        }
    }
    if decoded.is_empty() {
        return Ok(results);
    }
    let start = Instant::now();
    let pixels: Vec<&[u8]> = decoded.iter().map(|(_, rgb)| rgb.as_slice()).collect();
    let (analyses, _) = pollster::block_on(inference::analyse(&pair, &pixels, engine, || {
        start.elapsed().as_secs_f64() * 1e3
    }))
    .map_err(|e| TrainError::compute("running the models", e))?;
    let class = |p: &[f32]| pair.meta.class_names[argmax(p)].clone();
    for ((name, _), a) in decoded.into_iter().zip(analyses) {
        let decision = match decide(a.combined.confidence, threshold) {
            Decision::Accept => "accept",
            Decision::Abstain => "abstain",
        };
        results.insert(
            name,
            FilePrediction::Done {
                erm_class: class(&a.erm_probabilities),
                masktune_class: class(&a.masktune_probabilities),
                combined_class: pair.meta.class_names[a.combined.prediction].clone(),
                confidence: a.combined.confidence,
                decision,
                masked_pixels: a.mask.masked_pixels,
                mask_threshold: a.mask.threshold,
                erm_probabilities: a.erm_probabilities,
                masktune_probabilities: a.masktune_probabilities,
            },
        );
    }
    Ok(results)
}
