//! `predict`: runs an exported ERM + MaskTune bundle pair on image files exactly as the web page
//! does (`masktune::inference`), so the page's answers can be checked against the trainer's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use masktune::bundle::closest_threshold;
use masktune::engine::MaskingEngine;
use masktune::image_report::{self, Answer, ImageReport};
use masktune::inference::{self, ModelPair};

use crate::data::image_folder::decode_resized;
use crate::train::{Result, TrainError};

/// Reads the `(ERM, MaskTune)` bundle pair and checks that the two belong together.
pub fn load_pair(
    (erm_bundle, masktune_bundle): (&Path, &Path),
    device: &Device,
) -> Result<ModelPair> {
    let read = |path: &Path| std::fs::read(path).map_err(TrainError::io("read the bundle", path));
    ModelPair::load(&read(erm_bundle)?, &read(masktune_bundle)?, device)
        .map_err(|e| TrainError::compute("loading the bundles", e))
}

/// Reports of the `(ERM, MaskTune)` bundle pair on `images` (`masktune::image_report`, as the
/// page's "Download the results" saves them), keyed by file name; a file that cannot be read
/// gets its error and the others are still predicted.
pub fn predict(
    (erm_bundle, masktune_bundle): (&Path, &Path),
    images: &[PathBuf],
    coverage: f64,
    device: &Device,
    engine: &impl MaskingEngine,
) -> Result<BTreeMap<String, ImageReport>> {
    let pair = load_pair((erm_bundle, masktune_bundle), device)?;
    let (_, threshold) =
        closest_threshold(&pair.meta.selective_thresholds, coverage).ok_or_else(|| {
            TrainError::Settings("the MaskTune bundle holds no coverage thresholds".into())
        })?;

    let side = pair.input_side() as u32;
    let mut reports = Vec::new();
    let mut decoded = Vec::new();
    for path in images {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match decode_resized(path, side) {
            Ok(rgb) => decoded.push((name, rgb)),
            Err(e) => reports.push((
                name,
                ImageReport::Failed {
                    error: e.to_string(),
                },
            )),
        }
    }
    if !decoded.is_empty() {
        let start = Instant::now();
        let pixels: Vec<&[u8]> = decoded.iter().map(|(_, rgb)| rgb.as_slice()).collect();
        let (analyses, _) = pollster::block_on(inference::analyse(&pair, &pixels, engine, || {
            start.elapsed().as_secs_f64() * 1e3
        }))
        .map_err(|e| TrainError::compute("running the models", e))?;
        for ((name, _), a) in decoded.into_iter().zip(analyses) {
            let answer = Answer {
                erm_probabilities: &a.erm_probabilities,
                masktune_probabilities: &a.masktune_probabilities,
                combined: &a.combined,
                mask: &a.mask,
            };
            let report = ImageReport::done(answer, &pair.meta.class_names, threshold);
            reports.push((name, report));
        }
    }
    Ok(image_report::by_name(reports))
}
