//! The one message protocol between the page (`ui`, the DOM side) and the compute worker
//! (`worker`, which holds the models): typed requests and responses, carried by `postMessage` as
//! plain JavaScript values (serde-wasm-bindgen). Files travel as `Blob`s (the browser shares them
//! without copying), pictures as object URLs of PNG files, other bytes as `Uint8Array`s whose
//! memory is transferred, not copied.

pub mod lab;

use js_sys::{Array, Object, Reflect, Uint8Array};
use masktune::bundle::BundleMetadata;
use masktune::inference::StepTimes;
use masktune::masking::MaskStats;
use masktune::selective::Combined;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use wasm_bindgen::{JsCast, JsValue};

use crate::object_url::ObjectUrl;
use lab::{LabData, LabErm, LabEvent, LabFile, LabSettings};

/// What the page asks of the worker. Requests are handled one after the other, in order.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Load a task's two bundles (absolute URLs) and warm the models up. `generation` numbers the
    /// loads: analyses of an older generation still waiting in the worker are dropped.
    LoadModels {
        generation: u64,
        erm_url: String,
        masktune_url: String,
    },
    /// Load two bundle files (the user's, or the Lab's last pair; in either order) and warm the
    /// models up.
    LoadBundles {
        generation: u64,
        files: Vec<BundleFile>,
    },
    /// Decode and analyse images with the models of `generation`; one `Analysed` per image.
    Analyse {
        generation: u64,
        images: Vec<ImageFile>,
    },
    /// Run the method in the Lab: fetch or read its data, then train the ERM model (or read the
    /// user's), mask, fine-tune and evaluate. `run` numbers the Lab's runs.
    StartLab {
        run: u64,
        data: LabData,
        erm: LabErm,
        settings: LabSettings,
    },
    /// Files of the folder given to the Lab, numbered `folder` (each folder given takes the next
    /// number), sent in slices as soon as it is given: the browser clones each file's handle on
    /// the page's thread, and a folder's thousands in one message held it for seconds. The
    /// worker keeps the newest folder's files for every run on it. Handled as they arrive, not
    /// queued.
    LabFiles { folder: u64, files: Vec<LabFile> },
    /// Stop Lab run `run` after its current batch. Handled as it arrives, not queued.
    StopLab { run: u64 },
    /// Read what a model file given to the Lab says its model is (its weights are read at
    /// `StartLab`); `id` numbers the files given. Handled as it arrives, not queued: a Lab run
    /// keeps the queue busy for minutes.
    DescribeModel { id: u64, file: LabFile },
    /// Draw the pictures of answered images of `generation`, whose cards have come into the
    /// page; one `Drawn` per image. Handled as it arrives, not queued: behind a folder's
    /// analysis, a card would wait for all of it.
    Draw {
        generation: u64,
        images: Vec<ToDraw>,
    },
}

/// A file the user gave (picked, dropped or an example), decoded in the worker.
#[derive(Debug, Serialize, Deserialize)]
pub struct ImageFile {
    pub id: u64,
    pub name: String,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub blob: web_sys::Blob,
}

/// An answered image whose pictures the page asks for: its file (decoded again unless the
/// worker still has it) and what the analysis found.
#[derive(Debug, Serialize, Deserialize)]
pub struct ToDraw {
    pub file: ImageFile,
    pub saliency: Saliency,
}

/// What the worker needs, besides the image, to draw an answer's heatmap and masked picture: a
/// byte and a bit a pixel. The page keeps it with the answer and asks for the pictures once the
/// card shows (`Request::Draw`), so that only the cards a person sees are drawn (three PNG files
/// each) however many images a folder holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saliency {
    /// The ERM model's XGradCAM map, one of 256 levels a pixel (`masktune::heatmap::levels`).
    #[serde(with = "serde_bytes")]
    pub map_levels: Vec<u8>,
    /// One bit a pixel, row by row, the lowest bit first: whether masking changed the pixel. A
    /// hidden pixel that was black already looks the same masked, so these give the masked
    /// picture exactly.
    #[serde(with = "serde_bytes")]
    pub changed: Vec<u8>,
}

/// A bundle file the user gave; read in the worker.
#[derive(Debug, Serialize, Deserialize)]
pub struct BundleFile {
    pub name: String,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub blob: web_sys::Blob,
}

/// What the worker tells the page.
#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    /// The backend the worker computes on, sent once when it has started.
    Backend(BackendReport),
    LoadProgress {
        generation: u64,
        received: u64,
        total: Option<u64>,
    },
    ModelsReady {
        generation: u64,
        meta: Box<BundleMetadata>,
        /// One sentence naming the models, for the status line.
        summary: String,
        /// The warm-up's analysis of a picture of noise, and its pictures: the page draws them
        /// once, unseen, so that its first real image draws as fast as the rest.
        warm_up: Box<AnalysedImage>,
        warm_up_pictures: Pictures,
    },
    ModelsFailed {
        generation: u64,
        message: String,
    },
    /// The outcome for one image of an `Analyse` request; the error says what to do.
    Analysed {
        id: u64,
        result: Result<Box<AnalysedImage>, String>,
    },
    /// The pictures of an image the page asked for with `Request::Draw`.
    Drawn {
        id: u64,
        pictures: Result<Pictures, String>,
    },
    /// What the model file of `DescribeModel` `id` says its model is, or why it cannot be read.
    ModelDescribed {
        id: u64,
        meta: Result<Box<BundleMetadata>, String>,
    },
    /// What Lab run `run` did.
    Lab {
        run: u64,
        event: LabEvent,
    },
    /// The worker could not start or could not read a request: it computes nothing more.
    WorkerFailed(String),
}

/// Which backend computes and the proof that it computes correctly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BackendReport {
    pub kind: BackendKind,
    /// What the user reads, e.g. "CPU (WebAssembly, SIMD, 2 threads)".
    pub label: String,
    /// Adapter description (WebGPU) or why WebGPU was not used (CPU fallback).
    pub detail: String,
    /// The self-check's result: a 2x2 product whose values are known.
    pub check: Result<Vec<f32>, String>,
}

/// The exact product of the self-check's matrices.
pub const SELF_CHECK_EXPECTED: [f32; 4] = [19.0, 22.0, 43.0, 50.0];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendKind {
    WebGpu,
    Cpu,
}

impl BackendKind {
    /// Stable identifier used in the DOM (tests read it).
    pub fn id(self) -> &'static str {
        match self {
            BackendKind::WebGpu => "webgpu",
            BackendKind::Cpu => "cpu",
        }
    }

    /// The backend of an identifier from [`BackendKind::id`].
    pub fn from_id(id: &str) -> Option<Self> {
        [BackendKind::WebGpu, BackendKind::Cpu]
            .into_iter()
            .find(|kind| kind.id() == id)
    }
}

/// What one image's analysis found, and what it took (its pictures come in `Response::Drawn`,
/// once asked for).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AnalysedImage {
    /// Side of the square model input the pictures have.
    pub side: usize,
    pub mask: MaskStats,
    pub erm_probabilities: Vec<f32>,
    pub masktune_probabilities: Vec<f32>,
    pub combined: Combined,
    /// Milliseconds to decode, crop and resize the file.
    pub decode_ms: f64,
    pub times: StepTimes,
    /// How many images the worker analysed together with this one.
    pub batch_size: usize,
    /// Size of the file the user gave, before cropping and resizing.
    pub source_size: (u32, u32),
    pub saliency: Saliency,
}

/// One image's three pictures, `side`×`side` PNG files that the worker made, as object URLs the
/// page only links. A message carries the files; the page makes their addresses and revokes them
/// when it drops the pictures, so they live as long as it keeps the answer (whether or not the
/// worker that drew them still runs), and it holds none of their pixels in its own memory,
/// however many images it is given.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pictures {
    /// The model's input.
    pub input: ObjectUrl,
    /// The ERM model's XGradCAM map as a coloured, translucent heatmap.
    pub heatmap: ObjectUrl,
    /// The input with the pixels ERM relied on hidden.
    pub masked: ObjectUrl,
}

/// Why a message could not be carried; a bug, not something a user caused.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("a message could not be encoded: {0}")]
    Encode(String),
    #[error("a message could not be read: {0}")]
    Decode(String),
}

/// A message as a JavaScript value, with the memory of its byte buffers listed for transfer.
pub struct Encoded {
    pub value: JsValue,
    pub transfer: Array,
}

pub fn encode(message: &impl Serialize) -> Result<Encoded, ProtocolError> {
    let value = serde_wasm_bindgen::to_value(message)
        .map_err(|error| ProtocolError::Encode(error.to_string()))?;
    let transfer = Array::new();
    collect_buffers(&value, &transfer);
    Ok(Encoded { value, transfer })
}

pub fn decode<T: DeserializeOwned>(value: JsValue) -> Result<T, ProtocolError> {
    serde_wasm_bindgen::from_value(value).map_err(|error| ProtocolError::Decode(error.to_string()))
}

/// Every `Uint8Array`'s buffer inside `value`. serde-wasm-bindgen gives each byte field a buffer
/// of its own, so transferring it moves the bytes instead of copying them a second time.
fn collect_buffers(value: &JsValue, transfer: &Array) {
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        transfer.push(&bytes.buffer());
    } else if let Some(array) = value.dyn_ref::<Array>() {
        array
            .iter()
            .for_each(|item| collect_buffers(&item, transfer));
    } else if value.is_object() && !value.is_instance_of::<web_sys::Blob>() {
        // Enums and structs arrive as plain objects (or Maps, which have no own properties and
        // carry no byte buffers in these messages).
        let object: &Object = value.unchecked_ref();
        for key in Object::keys(object).iter() {
            if let Ok(field) = Reflect::get(object, &key) {
                collect_buffers(&field, transfer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// Whether `url` still names a file: a revoked object URL no longer does. (The tests run in
    /// a worker.)
    async fn object_url_works(url: &str) -> bool {
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        wasm_bindgen_futures::JsFuture::from(scope.fetch_with_str(url))
            .await
            .is_ok()
    }

    #[wasm_bindgen_test]
    fn an_analysis_comes_back_as_sent() {
        let analysed = AnalysedImage {
            side: 2,
            mask: MaskStats {
                threshold: 0.5,
                masked_pixels: 1,
            },
            erm_probabilities: vec![0.25, 0.75],
            masktune_probabilities: vec![0.5, 0.5],
            combined: masktune::selective::combined_confidence(&[0.25, 0.75], &[0.5, 0.5]).unwrap(),
            decode_ms: 1.5,
            times: StepTimes::default(),
            batch_size: 1,
            source_size: (10, 20),
            saliency: Saliency {
                map_levels: vec![0, 255, 3, 4],
                changed: vec![0b0010],
            },
        };
        let response = Response::Analysed {
            id: 7,
            result: Ok(Box::new(analysed)),
        };
        let encoded = encode(&response).unwrap();
        // The saliency's two byte fields move instead of being copied.
        assert_eq!(encoded.transfer.length(), 2);
        let Response::Analysed { id, result } = decode(encoded.value).unwrap() else {
            panic!("decoded into another variant");
        };
        let image = result.unwrap();
        assert_eq!(id, 7);
        assert_eq!(image.source_size, (10, 20));
        assert_eq!(image.erm_probabilities, vec![0.25, 0.75]);
        assert_eq!(image.saliency.map_levels, vec![0, 255, 3, 4]);
        assert_eq!(image.saliency.changed, vec![0b0010]);
    }

    #[wasm_bindgen_test]
    async fn pictures_come_as_files_with_addresses_of_their_receiver() {
        let url = || ObjectUrl::of_bytes(b"a picture", "image/png").unwrap();
        let sent = Pictures {
            input: url(),
            heatmap: url(),
            masked: url(),
        };
        let sent_urls =
            [&sent.input, &sent.heatmap, &sent.masked].map(|url| url.as_str().to_owned());
        let response = Response::Drawn {
            id: 7,
            pictures: Ok(sent),
        };
        let encoded = encode(&response).unwrap();
        // The sender's addresses go (as they do when the page replaces a stopped worker).
        drop(response);
        for url in &sent_urls {
            assert!(!object_url_works(url).await, "{url} outlived its pictures");
        }
        let Response::Drawn { id, pictures } = decode(encoded.value).unwrap() else {
            panic!("decoded into another variant");
        };
        let pictures = pictures.unwrap();
        assert_eq!(id, 7);
        let urls = [&pictures.input, &pictures.heatmap, &pictures.masked]
            .map(|url| url.as_str().to_owned());
        for url in &urls {
            assert!(!sent_urls.contains(url), "{url} is the sender's");
            assert!(object_url_works(url).await, "{url} does not load");
        }
        drop(pictures);
        for url in &urls {
            assert!(!object_url_works(url).await, "{url} outlived its pictures");
        }
    }
}
