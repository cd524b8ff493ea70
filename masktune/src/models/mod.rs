//! The classifiers (all but the authors' MNIST network end in global-average-pool + one linear
//! layer, so CAM needs no backward pass), how to pick one from settings, and the input
//! preprocessing they expect.

mod architecture;
mod layers;
pub mod mnist_cnn;
mod plain_cnn;
pub mod preprocess;
pub mod resnet;
pub mod small_cnn;
pub mod vgg;

pub use architecture::{AnyModel, Architecture, InvalidArchitecture};
pub use mnist_cnn::MnistCnn;
pub use plain_cnn::PlainCnn;
pub use resnet::ResNet;
