//! The classifiers (all ending in global-average-pool + one linear layer, so CAM needs no
//! backward pass), how to pick one from settings, and the input preprocessing they expect.

mod architecture;
mod layers;
mod plain_cnn;
pub mod preprocess;
pub mod resnet;
pub mod small_cnn;
pub mod vgg;

pub use architecture::{AnyModel, Architecture, InvalidArchitecture};
pub use plain_cnn::PlainCnn;
pub use resnet::ResNet;
