//! The compute side of the page: a dedicated Web Worker running this same wasm module. It owns
//! the backend and the models and answers the page's `protocol::Request`s one after the other, so
//! that no model work ever runs on the page's thread.

mod backend;
mod canvas;
mod drawing;
mod image_input;
mod lab;
mod memory;
mod stop_report;
mod threads;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use kernels::Engine;
use masktune::inference::{self, ImageAnalysis, ModelPair, StepTimes};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::assets;
use crate::protocol::lab::{LabData, LabErm, LabEvent, LabSettings};
use crate::protocol::{
    self, AnalysedImage, BundleFile, ImageFile, Pictures, Request, Response, ToDraw,
};
use backend::{ComputeBackend, now_ms};
use drawing::RecentInputs;
use image_input::DecodedImage;

/// Entry point when the module runs in the worker: starts the backend, then serves requests.
pub fn start() {
    stop_report::install();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    spawn_local(async move {
        let (backend, report) = backend::start().await;
        // The worker serves the page for as long as the page lives.
        let worker: &'static ComputeWorker = Box::leak(Box::new(ComputeWorker {
            scope,
            backend,
            pair: RefCell::new(None),
            queue: RefCell::new(VecDeque::new()),
            running: Cell::new(false),
            generation: Cell::new(0),
            recent_inputs: RefCell::new(RecentInputs::default()),
            lab_data: RefCell::default(),
            lab_stopped: Cell::new(0),
            lab_folder: RefCell::default(),
        }));
        worker.listen();
        worker.send(&Response::Backend(report));
    });
}

struct ComputeWorker {
    scope: DedicatedWorkerGlobalScope,
    backend: ComputeBackend,
    pair: RefCell<Option<Rc<ModelPair>>>,
    /// Requests not yet handled, in the order they came.
    queue: RefCell<VecDeque<Request>>,
    /// Whether a task is draining the queue.
    running: Cell<bool>,
    /// The newest model load asked for; older loads and their analyses are dropped.
    generation: Cell<u64>,
    /// The inputs of the images answered last, for drawing their cards' pictures.
    recent_inputs: RefCell<RecentInputs>,
    /// What the Lab keeps of its data for the next run.
    lab_data: RefCell<lab::KeptData>,
    /// Lab runs up to this number were asked to stop.
    lab_stopped: Cell<u64>,
    /// The folder the page handed over for the Lab's runs.
    lab_folder: RefCell<lab::HandedFolder>,
}

impl ComputeWorker {
    fn listen(&'static self) {
        let on_message =
            Closure::<dyn Fn(MessageEvent)>::new(
                move |event: MessageEvent| match protocol::decode::<Request>(event.data()) {
                    Ok(request) => self.enqueue(request),
                    Err(error) => self.send(&Response::WorkerFailed(error.to_string())),
                },
            );
        self.scope
            .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
    }

    fn enqueue(&'static self, request: Request) {
        if let Request::StopLab { run } = request {
            // Not queued: the run it stops is what keeps the queue busy.
            self.lab_stopped.set(self.lab_stopped.get().max(run));
            return;
        }
        if let Request::LabFiles { folder, files } = request {
            // Not queued: a folder is handed over as soon as it is given, and a run may be going.
            self.lab_folder.borrow_mut().receive(folder, files);
            return;
        }
        if let Request::DescribeModel { id, file } = request {
            // Not queued: a Lab run keeps the queue busy for minutes.
            spawn_local(async move {
                let meta = lab::describe(&file).await.map(Box::new);
                self.send(&Response::ModelDescribed { id, meta });
            });
            return;
        }
        if let Request::Draw { generation, images } = request {
            // Not queued: the cards shown would wait for every image given before them.
            if self.current(generation) {
                spawn_local(self.draw(images));
            }
            return;
        }
        if let Request::LoadModels { generation, .. } | Request::LoadBundles { generation, .. } =
            request
        {
            // A new load makes everything still waiting out of date.
            self.generation.set(generation);
            self.queue.borrow_mut().clear();
            self.recent_inputs.borrow_mut().clear();
        }
        self.queue.borrow_mut().push_back(request);
        if !self.running.replace(true) {
            spawn_local(async move {
                loop {
                    // The borrow ends before the await: new requests queue up meanwhile.
                    let next = self.queue.borrow_mut().pop_front();
                    match next {
                        Some(request) => self.handle(request).await,
                        None => break,
                    }
                }
                self.running.set(false);
            });
        }
    }

    fn send(&self, response: &Response) {
        let sent = protocol::encode(response).and_then(|encoded| {
            self.scope
                .post_message_with_transfer(&encoded.value, &encoded.transfer)
                .map_err(|error| protocol::ProtocolError::Encode(format!("{error:?}")))
        });
        if let Err(error) = sent {
            web_sys::console::error_1(&format!("the worker could not answer: {error}").into());
        }
    }

    fn current(&self, generation: u64) -> bool {
        self.generation.get() == generation
    }

    async fn handle(&'static self, request: Request) {
        match request {
            Request::LoadModels {
                generation,
                erm_url,
                masktune_url,
            } => {
                self.pair.replace(None);
                let progress = |received, total| self.progress(generation, received, total);
                let loaded = fetch_pair(&erm_url, &masktune_url, &self.backend, progress).await;
                self.loaded(generation, loaded).await;
            }
            Request::LoadBundles { generation, files } => {
                self.pair.replace(None);
                let loaded = read_pair(&files, &self.backend).await;
                self.loaded(generation, loaded).await;
            }
            Request::Analyse { generation, images } => self.analyse(generation, images).await,
            Request::StartLab {
                run,
                data,
                erm,
                settings,
            } => self.lab(run, &data, &erm, &settings).await,
            Request::StopLab { .. }
            | Request::LabFiles { .. }
            | Request::Draw { .. }
            | Request::DescribeModel { .. } => {
                unreachable!("stops, files, drawing and description requests are not queued")
            }
        }
    }

    /// Runs the Lab, reporting as it goes; ends with `Finished`, `Stopped` or `Failed`.
    async fn lab(&self, run: u64, data: &LabData, erm: &LabErm, settings: &LabSettings) {
        let report = |event| self.send(&Response::Lab { run, event });
        let stop_requested = || self.lab_stopped.get() >= run;
        let backend = self.backend.for_training();
        let lab = lab::LabRun {
            backend: &backend,
            report: &report,
            stop_requested: &stop_requested,
        };
        // A copy of the handles: a newer folder may come during the run.
        let folder = self.lab_folder.borrow().clone();
        let last = match lab::run(&lab, &self.lab_data, data, &folder, erm, settings).await {
            Ok(()) => LabEvent::Finished {
                worker_memory: memory::now(),
            },
            Err(lab::Ended::Stopped) => LabEvent::Stopped,
            Err(lab::Ended::Failed(message)) => LabEvent::Failed(message),
        };
        report(last);
    }

    fn progress(&self, generation: u64, received: u64, total: Option<u64>) {
        if self.current(generation) {
            self.send(&Response::LoadProgress {
                generation,
                received,
                total,
            });
        }
    }

    /// Warms a loaded pair up and makes it the worker's models, unless a newer load was asked for.
    async fn loaded(&self, generation: u64, loaded: Result<ModelPair, String>) {
        let ready = match loaded {
            Ok(pair) => warm_up(&pair, &self.backend)
                .await
                .map(|answer| (pair, answer)),
            Err(message) => Err(message),
        };
        if !self.current(generation) {
            return;
        }
        match ready {
            Ok((pair, (warm_up, warm_up_pictures))) => {
                let meta = Box::new(pair.meta.clone());
                let summary = summary(&pair);
                self.pair.replace(Some(Rc::new(pair)));
                self.send(&Response::ModelsReady {
                    generation,
                    meta,
                    summary,
                    warm_up: Box::new(warm_up),
                    warm_up_pictures,
                });
            }
            Err(message) => self.send(&Response::ModelsFailed {
                generation,
                message,
            }),
        }
    }

    /// Decodes and analyses the images in batches, answering each image as its batch finishes.
    async fn analyse(&'static self, generation: u64, images: Vec<ImageFile>) {
        let pair = self.pair.borrow().clone();
        let Some(pair) = pair.filter(|_| self.current(generation)) else {
            // The page changed models meanwhile: it no longer shows these images.
            return;
        };
        for chunk in images.chunks(batch_size(&self.backend.engine)) {
            if !self.current(generation) {
                return;
            }
            let mut decoded = Vec::new();
            for file in chunk {
                let start = now_ms();
                match image_input::decode(&file.blob, &file.name, pair.input_side()).await {
                    Ok(image) => decoded.push((file.id, image, now_ms() - start)),
                    Err(error) => self.send(&Response::Analysed {
                        id: file.id,
                        result: Err(error.to_string()),
                    }),
                }
            }
            if decoded.is_empty() {
                continue;
            }
            let pixels: Vec<&[u8]> = decoded.iter().map(|(_, i, _)| i.rgb.as_slice()).collect();
            match run_analysis(&self.backend, &pair, &pixels).await {
                Ok((analyses, times)) => {
                    let batch_size = decoded.len();
                    for ((id, image, decode_ms), analysis) in decoded.into_iter().zip(analyses) {
                        let times = (decode_ms, times.clone(), batch_size);
                        let result = Ok(Box::new(analysed(&image, &analysis, times)));
                        self.send(&Response::Analysed { id, result });
                        self.recent_inputs.borrow_mut().keep(id, image.rgb);
                    }
                }
                Err(message) => {
                    for (id, _, _) in decoded {
                        let result = Err(format!("the analysis failed: {message}"));
                        self.send(&Response::Analysed { id, result });
                    }
                }
            }
        }
    }

    /// Draws the pictures the page asked for, one image after the other, each from its input
    /// if it was answered last, else from its file decoded again.
    async fn draw(&'static self, images: Vec<ToDraw>) {
        for ToDraw { file, saliency } in images {
            let Some(side) = self.pair.borrow().as_ref().map(|pair| pair.input_side()) else {
                // The models are being replaced: the page no longer shows this answer.
                return;
            };
            let kept = self.recent_inputs.borrow_mut().take(file.id);
            let input = match kept {
                Some(input) => Ok(input),
                None => image_input::decode(&file.blob, &file.name, side)
                    .await
                    .map(|image| image.rgb)
                    .map_err(|error| {
                        format!("its pictures could not be drawn: the file could not be read again ({error})")
                    }),
            };
            let pictures = match input {
                Ok(input) => drawing::pictures(side, &input, &saliency).await,
                Err(message) => Err(message),
            };
            self.send(&Response::Drawn {
                id: file.id,
                pictures,
            });
        }
    }
}

/// Images analysed together. WebGPU uses batches of 8 well; on the CPU batching gains nothing,
/// and one image at a time lets each result appear as soon as it is ready.
fn batch_size(engine: &Engine) -> usize {
    match engine {
        Engine::Kernels(_) => 8,
        Engine::Tensor => 1,
    }
}

/// Downloads both bundles and builds the models.
async fn fetch_pair(
    erm_url: &str,
    masktune_url: &str,
    backend: &ComputeBackend,
    progress: impl Fn(u64, Option<u64>),
) -> Result<ModelPair, String> {
    let erm = assets::fetch_bytes(erm_url, |received, total| {
        progress(received, total.map(|t| t * 2))
    })
    .await?;
    let erm_len = erm.len() as u64;
    let masktune = assets::fetch_bytes(masktune_url, |received, total| {
        progress(erm_len + received, total.map(|t| erm_len + t))
    })
    .await?;
    ModelPair::load(&erm, &masktune, &backend.device)
}

/// Reads the user's two bundle files, in whichever order they came.
async fn read_pair(files: &[BundleFile], backend: &ComputeBackend) -> Result<ModelPair, String> {
    let [first, second] = files else {
        return Err(format!(
            "choose two files, the ERM and the MaskTune bundle of one run ({} given)",
            files.len()
        ));
    };
    let (a, b) = (read_blob(first).await?, read_blob(second).await?);
    ModelPair::load_either_order(
        [(first.name.as_str(), &a), (second.name.as_str(), &b)],
        &backend.device,
    )
}

async fn read_blob(file: &BundleFile) -> Result<Vec<u8>, String> {
    blob_bytes(&file.blob)
        .await
        .map_err(|error| format!("{} could not be read: {error:?}", file.name))
}

/// A file's bytes, copied into the module's memory.
async fn blob_bytes(blob: &web_sys::Blob) -> Result<Vec<u8>, wasm_bindgen::JsValue> {
    let buffer = JsFuture::from(blob.array_buffer()).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// [`inference::analyse`] on `backend`; on the CPU backend's threads from one of the pool's
/// threads ([`threads::on_pool`]).
async fn run_analysis(
    backend: &ComputeBackend,
    pair: &ModelPair,
    images: &[&[u8]],
) -> Result<(Vec<ImageAnalysis>, StepTimes), String> {
    #[cfg(feature = "threads")]
    if backend.cpu_threads > 1 {
        // The threaded build runs only the CPU backend, whose maps and masks are Burn tensor
        // ops: that engine is made on the pool's thread rather than shared with it.
        return threads::on_pool(|| inference::analyse(pair, images, &Engine::Tensor, now_ms))
            .unwrap_or_else(|| Err("the CPU backend waited for a result".into()));
    }
    inference::analyse(pair, images, backend.engine.as_ref(), now_ms).await
}

/// The batches the warm-up analyses before the one whose answer the page draws (one picture).
/// On the CPU, two more single pictures: the browser compiles wasm in two tiers: a function runs
/// as quickly compiled code at first, and is compiled again, optimised, on a background thread
/// once it has run for a while (up to 100 ms each for the tensor copies and the matrix products
/// on a 2-core machine). One run left that to the user's first image: given a second after the
/// models were ready, spurious MNIST's took 2.2x the median image, CelebA's 1.3x. Three runs
/// start it while the models load (1.7x and 1.1x; docs/BENCHMARKS.md). On WebGPU, a batch of two
/// pictures: the first batch of several images compiled what a single one does not need, and
/// its ERM step took 0.9-4.7 s longer on SwiftShader than the next batch's (spurious MNIST's the
/// longest), whatever their sizes (2 to 8). That compilation now delays "models ready" instead.
fn warm_up_batches(engine: &Engine) -> &'static [usize] {
    match engine {
        Engine::Kernels(_) => &[2],
        Engine::Tensor => &[1, 1],
    }
}

/// The side of the warm-up's pictures: that of the example photos, and at least twice the model's
/// input, so that they are cropped and resized as a photo is.
const WARM_UP_PICTURE_SIDE: usize = 256;

/// Analyses a picture the way a user's image goes (decoding included), so that shaders are
/// compiled, buffers allocated and the code that decodes and answers run before the user's first
/// image ([`warm_up_batches`]). The page draws the answer and its pictures once, unseen, for the
/// same reason on its side.
async fn warm_up(
    pair: &ModelPair,
    backend: &ComputeBackend,
) -> Result<(AnalysedImage, Pictures), String> {
    let failed = |message: String| format!("the models failed their first run: {message}");
    let side = pair.input_side();
    // A JPEG (most photos are), a WebP (the browser decodes it, and the other formats
    // `masktune::square_image` does not read: a browser that cannot write WebP gives a PNG) and
    // a PNG, whose analysis is the answer.
    for mime_type in ["image/jpeg", "image/webp"] {
        warm_up_decode(mime_type, side).await.map_err(failed)?;
    }
    let (image, decode_ms) = warm_up_decode("image/png", side).await.map_err(failed)?;
    for &batch in warm_up_batches(&backend.engine) {
        let pictures = vec![image.rgb.as_slice(); batch];
        run_analysis(backend, pair, &pictures)
            .await
            .map_err(failed)?;
    }
    let (analyses, times) = run_analysis(backend, pair, &[&image.rgb])
        .await
        .map_err(failed)?;
    let analysis = analyses
        .into_iter()
        .next()
        .ok_or_else(|| failed("no result".into()))?;
    let answer = analysed(&image, &analysis, (decode_ms, times, 1));
    let pictures = drawing::pictures(image.side, &image.rgb, &answer.saliency)
        .await
        .map_err(failed)?;
    Ok((answer, pictures))
}

/// A warm-up picture as a file of `mime_type`, decoded for a model of input `side`, and how long
/// the decoding took.
async fn warm_up_decode(mime_type: &str, side: usize) -> Result<(DecodedImage, f64), String> {
    let picture_side = (2 * side).max(WARM_UP_PICTURE_SIDE);
    let picture = image_input::noise_picture(picture_side, mime_type)
        .await
        .map_err(|error| format!("{error:?}"))?;
    let start = now_ms();
    let image = image_input::decode(&picture, "a warm-up picture", side)
        .await
        .map_err(|error| error.to_string())?;
    Ok((image, now_ms() - start))
}

/// The answer for one analysed image; `times` are its decoding's, its batch's steps' and the
/// batch's size.
fn analysed(
    image: &DecodedImage,
    analysis: &ImageAnalysis,
    (decode_ms, times, batch_size): (f64, StepTimes, usize),
) -> AnalysedImage {
    AnalysedImage {
        side: image.side,
        mask: analysis.mask,
        erm_probabilities: analysis.erm_probabilities.clone(),
        masktune_probabilities: analysis.masktune_probabilities.clone(),
        combined: analysis.combined,
        decode_ms,
        times,
        batch_size,
        source_size: (image.source_width, image.source_height),
        saliency: drawing::saliency(&image.rgb, analysis),
    }
}

fn summary(pair: &ModelPair) -> String {
    let meta = &pair.meta;
    let size = meta.input_size;
    format!(
        "Models ready: ERM and MaskTune {} on {} ({} classes, {}×{} input).",
        meta.architecture,
        meta.dataset,
        meta.class_names.len(),
        size.width,
        size.height
    )
}
