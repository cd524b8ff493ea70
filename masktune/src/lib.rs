//! MaskTune (Asgari et al., NeurIPS 2022) in Burn: the models, the XGradCAM saliency, the masking,
//! selective classification and the model bundle format shared by `trainer-native` and the web app.
//!
//! Everything here is generic over the Burn backend (chosen at runtime through the `Device`) and
//! does no file or network I/O: callers hand in tensors or bytes.

pub mod bundle;
pub mod cam_model;
pub mod cpu;
pub mod data;
pub mod engine;
pub mod evaluation;
pub mod heatmap;
pub mod image_report;
pub mod inference;
pub mod labelled;
pub mod masking;
pub mod metrics;
pub mod model_file;
pub mod models;
mod problem_list;
pub mod pytorch;
pub mod readback;
pub mod reference;
pub mod saliency;
pub mod selective;
pub mod square_image;
pub mod statistics;
pub mod training;
