//! Weights in and out of PyTorch: our models' tensors under the key names and layouts of their
//! PyTorch counterparts (torchvision's ResNets and VGG features, the MaskTune authors' CIFAR
//! ResNet and MNIST network; `pytorch/masktune_models.py` builds them), as state dicts and as
//! safetensors files.

pub mod names;
pub mod safetensors;
pub mod state_dict;

pub use state_dict::{
    Classifier, LoadReport, PytorchError, StateDict, load_state_dict, to_state_dict,
};
