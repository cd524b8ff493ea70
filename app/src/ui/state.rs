//! The page's state, shared by its components through the context, and the work that changes it.

use std::sync::Arc;

use burn::prelude::*;
use kernels::Engine;
use leptos::prelude::*;
use masktune::bundle::{CoverageThreshold, SelectiveSummary};
use masktune::heatmap::heatmap_rgba;
use masktune::selective::{Decision, confidence_range, decide};
use wasm_bindgen_futures::spawn_local;

use masktune::inference::{self, ImageAnalysis, ModelPair, StepTimes};

use crate::assets;
use crate::compute::{ComputeBackend, now_ms};
use crate::image_input::{self, rgb_data_url, rgba_data_url};
use crate::tasks::{self, TASKS, Task};

/// Images analysed together. On WebGPU the device works while the page stays responsive, and
/// batches of 8 use it well; on the CPU the work runs on the page's own thread and batching gains
/// nothing, so one image at a time lets the page repaint (and show progress) after each.
fn batch_size(engine: &Engine) -> usize {
    match engine {
        Engine::Kernels(_) => 8,
        Engine::Tensor => 1,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ModelState {
    Loading { received: u64, total: Option<u64> },
    Ready { summary: String },
    Failed(String),
}

/// One image the user gave, and how far its analysis got.
#[derive(Clone)]
pub struct Entry {
    pub id: u64,
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Clone)]
pub enum Outcome {
    Waiting,
    Failed(String),
    Done(Arc<Shown>),
}

impl Entry {
    /// Changes when the entry must be drawn again.
    pub fn key(&self) -> String {
        let stage = match self.outcome {
            Outcome::Waiting => "waiting",
            Outcome::Failed(_) => "failed",
            Outcome::Done(_) => "done",
        };
        format!("{}-{stage}", self.id)
    }
}

/// An analysis ready to draw: images as data URLs, numbers for the text.
pub struct Shown {
    pub original_url: String,
    pub heatmap_url: String,
    pub masked_url: String,
    pub analysis: ImageAnalysis,
    pub class_names: Arc<Vec<String>>,
    pub times: StepTimes,
    pub batch_size: usize,
    /// Size of the file the user gave, before cropping and resizing.
    pub source_size: (u32, u32),
}

#[derive(Clone, Copy)]
pub struct PageState {
    pub task: RwSignal<String>,
    pub models: RwSignal<ModelState>,
    pair: RwSignal<Option<Arc<ModelPair>>, LocalStorage>,
    /// What computes the maps and masks on the pair's device.
    engine: StoredValue<Arc<Engine>, LocalStorage>,
    pub entries: RwSignal<Vec<Entry>, LocalStorage>,
    /// Index into the sorted coverage thresholds of the loaded models.
    pub coverage_index: RwSignal<usize>,
    /// Heatmap opacity in percent.
    pub opacity: RwSignal<u32>,
    /// (images finished, images given) of the current work.
    pub progress: RwSignal<(usize, usize)>,
    next_id: StoredValue<u64>,
    /// Bumped on every model load, so a slow, outdated load never replaces a newer one.
    generation: StoredValue<u64>,
}

impl PageState {
    pub fn new() -> Self {
        Self {
            task: RwSignal::new(task_in_url().unwrap_or(&TASKS[0]).id.to_string()),
            models: RwSignal::new(ModelState::Loading {
                received: 0,
                total: None,
            }),
            pair: RwSignal::new_local(None),
            engine: StoredValue::new_local(Arc::new(Engine::Tensor)),
            entries: RwSignal::new_local(Vec::new()),
            coverage_index: RwSignal::new(0),
            opacity: RwSignal::new(50),
            progress: RwSignal::new((0, 0)),
            next_id: StoredValue::new(0),
            generation: StoredValue::new(0),
        }
    }

    /// Switches to task `id` and records it in the address (`#cifar10`), so a link or a reload
    /// opens the same task.
    pub fn select_task(&self, id: String) {
        // The address is a convenience: if it cannot be set, the switch still happens.
        let _ = location().set_hash(&id);
        self.task.set(id);
    }

    pub fn current_task(&self) -> &'static Task {
        tasks::find(&self.task.get()).unwrap_or(&TASKS[0])
    }

    pub fn models_ready(&self) -> bool {
        matches!(self.models.get(), ModelState::Ready { .. })
    }

    /// The validation thresholds of the loaded models, by increasing coverage.
    pub fn thresholds(&self) -> Vec<CoverageThreshold> {
        self.pair.with(|pair| {
            let mut thresholds = pair
                .as_ref()
                .map(|p| p.meta.selective_thresholds.clone())
                .unwrap_or_default();
            thresholds.sort_by(|a, b| a.target_coverage.total_cmp(&b.target_coverage));
            thresholds
        })
    }

    /// How the loaded pair did on each test set when allowed to abstain (measured by the trainer).
    pub fn summaries(&self) -> Vec<SelectiveSummary> {
        self.pair.with(|pair| {
            pair.as_ref()
                .map(|p| p.meta.selective_summaries.clone())
                .unwrap_or_default()
        })
    }

    pub fn threshold_count(&self) -> usize {
        self.thresholds().len()
    }

    /// The threshold the coverage slider selects.
    pub fn threshold(&self) -> Option<CoverageThreshold> {
        let thresholds = self.thresholds();
        let index = self
            .coverage_index
            .get()
            .min(thresholds.len().saturating_sub(1));
        thresholds.get(index).copied()
    }

    pub fn coverage_text(&self) -> String {
        match self.threshold() {
            Some(t) => format!(
                "{:.0}%: accept when the combined confidence is at least {:.4}",
                t.target_coverage * 100.0,
                t.threshold
            ),
            None => "no thresholds in these models".into(),
        }
    }

    /// Where the combined confidence can lie for the loaded models' classes.
    pub fn confidence_range_text(&self) -> Option<String> {
        let classes = self
            .pair
            .with(|pair| pair.as_ref().map(|p| p.meta.class_names.len()))?;
        let (low, high) = confidence_range(classes);
        Some(format!(
            "With {classes} classes the combined confidence lies between {low:.3} (the models know nothing) \
             and {high:.3} (both are certain of one class)."
        ))
    }

    pub fn decision(&self, confidence: f64) -> Option<Decision> {
        self.threshold().map(|t| decide(confidence, t.threshold))
    }

    /// Downloads the task's two bundles and builds the models on the backend's device.
    pub fn load_models(self, task_id: String, backend: ComputeBackend) {
        let ComputeBackend { device, engine, .. } = backend;
        self.engine.set_value(engine);
        let generation = self.generation.get_value() + 1;
        self.generation.set_value(generation);
        self.entries.set(Vec::new());
        self.pair.set(None);
        self.models.set(ModelState::Loading {
            received: 0,
            total: None,
        });
        let task = *tasks::find(&task_id).unwrap_or(&TASKS[0]);
        spawn_local(async move {
            let result = fetch_pair(&task, &device, |received, total| {
                if self.generation.get_value() == generation {
                    self.models.set(ModelState::Loading { received, total });
                }
            })
            .await;
            if self.generation.get_value() != generation {
                return;
            }
            match result {
                Ok(pair) => {
                    let summary = summary(&pair);
                    // Start the slider at 90% coverage, or the closest the models offer.
                    let index = closest_index(&pair.meta.selective_thresholds, 0.9);
                    self.pair.set(Some(Arc::new(pair)));
                    self.coverage_index.set(index);
                    self.models.set(ModelState::Ready { summary });
                }
                Err(message) => self.models.set(ModelState::Failed(message)),
            }
        });
    }

    /// Queues files (picked, dropped or examples) and analyses them in batches.
    pub fn add_images(self, files: Vec<(String, web_sys::Blob)>) {
        let Some(pair) = self.pair.get_untracked() else {
            return;
        };
        let engine = self.engine.get_value();
        let mut queued = Vec::new();
        self.entries.update(|entries| {
            for (name, blob) in files {
                let id = self.next_id.get_value();
                self.next_id.set_value(id + 1);
                entries.insert(
                    0,
                    Entry {
                        id,
                        name: name.clone(),
                        outcome: Outcome::Waiting,
                    },
                );
                queued.push((id, name, blob));
            }
        });
        self.progress.update(|(done, total)| {
            if *done >= *total {
                (*done, *total) = (0, 0);
            }
            *total += queued.len();
        });
        let generation = self.generation.get_value();
        spawn_local(async move {
            let class_names = Arc::new(pair.meta.class_names.clone());
            for chunk in queued.chunks(batch_size(&engine)) {
                if self.generation.get_value() != generation {
                    return;
                }
                let mut decoded = Vec::new();
                for (id, name, blob) in chunk {
                    match image_input::decode(blob, name, pair.input_side()).await {
                        Ok(image) => decoded.push((*id, image)),
                        Err(error) => self.finish(*id, Outcome::Failed(error.to_string())),
                    }
                }
                if !decoded.is_empty() {
                    let pixels: Vec<&[u8]> = decoded
                        .iter()
                        .map(|(_, image)| image.rgb.as_slice())
                        .collect();
                    match inference::analyse(&pair, &pixels, engine.as_ref(), now_ms).await {
                        Ok((analyses, times)) => {
                            let batch_size = decoded.len();
                            for ((id, image), analysis) in decoded.into_iter().zip(analyses) {
                                let shown =
                                    show(&image, analysis, class_names.clone(), times, batch_size);
                                self.finish(
                                    id,
                                    shown.map_or_else(Outcome::Failed, |s| {
                                        Outcome::Done(Arc::new(s))
                                    }),
                                );
                            }
                        }
                        Err(message) => {
                            for (id, _) in decoded {
                                self.finish(
                                    id,
                                    Outcome::Failed(format!("the analysis failed: {message}")),
                                );
                            }
                        }
                    }
                }
                // Let the browser paint before the next batch.
                gloo_timers::future::TimeoutFuture::new(0).await;
            }
        });
    }

    fn finish(&self, id: u64, outcome: Outcome) {
        self.entries.update(|entries| {
            if let Some(entry) = entries.iter_mut().find(|e| e.id == id) {
                entry.outcome = outcome;
            }
        });
        self.progress.update(|(done, _)| *done += 1);
    }
}

/// The task named by the address's fragment, if any.
fn task_in_url() -> Option<&'static Task> {
    tasks::find(&location_hash()?)
}

async fn fetch_pair(
    task: &Task,
    device: &Device,
    progress: impl Fn(u64, Option<u64>),
) -> Result<ModelPair, String> {
    let erm = assets::fetch_bytes(task.erm_bundle, |received, total| {
        progress(received, total.map(|t| t * 2))
    })
    .await?;
    let erm_len = erm.len() as u64;
    let masktune = assets::fetch_bytes(task.masktune_bundle, |received, total| {
        progress(erm_len + received, total.map(|t| erm_len + t))
    })
    .await?;
    ModelPair::load(&erm, &masktune, device)
}

fn summary(pair: &ModelPair) -> String {
    let meta = &pair.meta;
    let size = meta.input_size;
    format!(
        "Models ready: ERM and MaskTune {} on {} ({} classes, {}×{} input).",
        architecture_name(&meta.architecture),
        meta.dataset,
        meta.class_names.len(),
        size.width,
        size.height
    )
}

fn architecture_name(architecture: &masktune::models::Architecture) -> String {
    serde_json::to_value(architecture)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_else(|| "model".into())
        .replace('_', " ")
}

fn closest_index(thresholds: &[CoverageThreshold], coverage: f64) -> usize {
    let mut sorted: Vec<f64> = thresholds.iter().map(|t| t.target_coverage).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1 - coverage).abs().total_cmp(&(b.1 - coverage).abs()))
        .map_or(0, |(index, _)| index)
}

fn show(
    image: &image_input::DecodedImage,
    analysis: ImageAnalysis,
    class_names: Arc<Vec<String>>,
    times: StepTimes,
    batch_size: usize,
) -> Result<Shown, String> {
    let side = image.side;
    let url_error = |e: wasm_bindgen::JsValue| format!("could not draw the result: {e:?}");
    Ok(Shown {
        original_url: rgb_data_url(&image.rgb, side, side).map_err(url_error)?,
        heatmap_url: rgba_data_url(&heatmap_rgba(&analysis.map), side, side).map_err(url_error)?,
        masked_url: rgb_data_url(&analysis.masked_rgb, side, side).map_err(url_error)?,
        analysis,
        class_names,
        times,
        batch_size,
        source_size: (image.source_width, image.source_height),
    })
}
