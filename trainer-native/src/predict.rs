//! `predict`: runs an exported ERM + MaskTune bundle pair on image files exactly as the web page
//! does (`masktune::inference`), so the page's answers can be checked against the trainer's; where
//! an image's folder names one of the models' classes, it is also counted as the page counts it
//! (`masktune::labelled`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use masktune::bundle::closest_threshold;
use masktune::engine::MaskingEngine;
use masktune::image_report::{self, Answer, ImageReport};
use masktune::inference::{self, ModelPair};
use masktune::labelled::{
    LabelledAnswer, LabelledReport, class_of_path, evaluate_labelled, labelled_selective,
};

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

/// What `predict` found.
pub struct Predictions {
    /// Every image's report, keyed by file name.
    pub reports: BTreeMap<String, ImageReport>,
    /// The pair on the images whose folder names their class, if any does.
    pub labelled: Option<LabelledReport>,
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
) -> Result<Predictions> {
    let pair = load_pair((erm_bundle, masktune_bundle), device)?;
    let class_names = &pair.meta.class_names;
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
            Ok(rgb) => {
                let label = class_of_path(&path.to_string_lossy(), class_names);
                decoded.push((name, label, rgb));
            }
            Err(e) => reports.push((
                name,
                ImageReport::Failed {
                    error: e.to_string(),
                },
            )),
        }
    }
    let mut labelled = None;
    if !decoded.is_empty() {
        let start = Instant::now();
        let pixels: Vec<&[u8]> = decoded.iter().map(|(_, _, rgb)| rgb.as_slice()).collect();
        let (analyses, _) = pollster::block_on(inference::analyse(&pair, &pixels, engine, || {
            start.elapsed().as_secs_f64() * 1e3
        }))
        .map_err(|e| TrainError::compute("running the models", e))?;
        let answers: Vec<LabelledAnswer> = decoded
            .iter()
            .zip(&analyses)
            .filter_map(|((_, label, _), a)| {
                Some(LabelledAnswer {
                    label: (*label)?,
                    erm_probabilities: &a.erm_probabilities,
                    masktune_probabilities: &a.masktune_probabilities,
                    combined: a.combined,
                })
            })
            .collect();
        if !answers.is_empty() {
            let accuracy = evaluate_labelled(
                &answers,
                class_names,
                (threshold.target_coverage, threshold.threshold),
            )
            .map_err(|e| TrainError::compute("counting the labelled images", e))?;
            let selective = labelled_selective(
                &answers,
                &pair.meta.selective_thresholds,
                threshold.target_coverage,
            )
            .map_err(|e| TrainError::compute("the labelled images' risk-coverage", e))?;
            labelled = Some(LabelledReport {
                accuracy,
                selective,
            });
        }
        for ((name, label, _), a) in decoded.into_iter().zip(analyses) {
            let answer = Answer {
                erm_probabilities: &a.erm_probabilities,
                masktune_probabilities: &a.masktune_probabilities,
                combined: &a.combined,
                mask: &a.mask,
                label,
            };
            let report = ImageReport::done(answer, class_names, threshold);
            reports.push((name, report));
        }
    }
    Ok(Predictions {
        reports: image_report::by_name(reports),
        labelled,
    })
}
