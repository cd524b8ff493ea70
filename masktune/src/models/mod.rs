//! The classifiers (all ending in global-average-pool + one linear layer, so CAM needs no
//! backward pass), how to pick one from settings, and the input preprocessing they expect.

mod architecture;
mod layers;
pub mod preprocess;
pub mod resnet;
pub mod small_cnn;
pub mod vgg;

pub use architecture::{AnyModel, Architecture, InvalidArchitecture};
pub use resnet::ResNet;
pub use small_cnn::SmallCnn;
pub use vgg::Vgg;
