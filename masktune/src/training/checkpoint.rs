//! What a checkpoint holds besides its header, as bytes: the model's weights and the optimizer's
//! state, both in Burn's Burnpack format. Burnpack keeps each parameter's id, which keys the
//! optimizer's state, so the two reload together. The trainer writes them into its checkpoint
//! files; the page's Lab keeps them so that a stopped run can continue.

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;

use super::OptimizerSettings;
use crate::models::{AnyModel, Architecture};
use crate::problem_list::{join_first, weight_misfits};

/// Why saved weights or optimizer state cannot be taken back.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CheckpointError {
    /// The bytes are not what was saved (damaged, or not Burnpack).
    #[error("{0}")]
    Corrupt(String),
    /// The bytes are fine but belong to another network.
    #[error("{0}")]
    Mismatch(String),
}

/// The model's weights (and batch-norm statistics) as Burnpack bytes. Reads the weights
/// synchronously: on WebGPU in a browser, copy the model to the CPU first.
pub fn model_bytes(model: &AnyModel) -> Result<Vec<u8>, String> {
    // A batch norm keeps the last training batch's update of its running statistics apart
    // until they are next read (Burn's `RunningState`), and saving would miss it: `valid`
    // folds it in.
    let model = model.valid();
    let mut store = BurnpackStore::from_bytes(None);
    model
        .save_into(&mut store)
        .map_err(|e| format!("cannot serialise the model: {e}"))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| format!("cannot serialise the model: {e}"))?;
    Ok(bytes.to_vec())
}

/// The optimizer's state (momentum buffers and the like) as Burnpack bytes. Reads the state
/// synchronously, which WebGPU in a browser cannot.
pub fn optimizer_bytes(optimizer: &ModuleOptimizer) -> Result<Vec<u8>, String> {
    let bytes = optimizer
        .into_bytes()
        .map_err(|e| format!("cannot serialise the optimizer: {e}"))?;
    Ok(bytes.to_vec())
}

/// A model of `architecture` on `device` with the weights [`model_bytes`] saved; refuses
/// weights that leave a parameter out or name one the network does not have.
pub fn read_model(
    architecture: &Architecture,
    bytes: &[u8],
    device: &Device,
) -> Result<AnyModel, CheckpointError> {
    architecture
        .validate()
        .map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
    let mut model = architecture.init(device);
    // Checked here rather than by the store, which would call weights of another shape corrupt.
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes.to_vec())))
        .validate(false)
        .allow_partial(true);
    let applied = model
        .load_from(&mut store)
        .map_err(|e| CheckpointError::Corrupt(format!("model weights: {e}")))?;
    let problems = weight_misfits(&applied);
    if !problems.is_empty() {
        return Err(CheckpointError::Mismatch(format!(
            "the weights do not fit {architecture:?}: {}",
            join_first(problems, 5)
        )));
    }
    Ok(model)
}

/// An optimizer of `settings` with the state [`optimizer_bytes`] saved, for the model saved
/// with it (read by [`read_model`]).
pub fn read_optimizer(
    settings: &OptimizerSettings,
    bytes: &[u8],
) -> Result<ModuleOptimizer, CheckpointError> {
    settings
        .build()
        .from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| CheckpointError::Corrupt(format!("optimizer state: {e}")))
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use super::*;
    use crate::data::ImageSet;
    use crate::models::preprocess::DatasetKind;
    use crate::readback::parameters;
    use crate::training::{Augmentation, Batching, OptimizerKind, train_epoch, training_rng};

    fn network(width: usize) -> Architecture {
        Architecture::MnistCnn {
            in_channels: 3,
            num_classes: 2,
            width,
            input_size: 28,
        }
    }

    fn settings() -> OptimizerSettings {
        OptimizerSettings {
            kind: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 1e-4,
            milestones: Vec::new(),
            gamma: 1.0,
        }
    }

    /// 12 noisy pictures of two classes.
    fn images() -> ImageSet {
        let (n, side) = (12, 28);
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 2).collect();
        let images = (0..n * side * side * 3)
            .map(|i| ((i * 37 + (i / (side * side * 3)) * 101) % 251) as u8)
            .collect();
        ImageSet {
            images,
            width: side,
            height: side,
            labels,
            groups: None,
            class_names: vec!["a".into(), "b".into()],
            group_names: Vec::new(),
        }
    }

    fn epoch(
        model: AnyModel,
        optimizer: &mut ModuleOptimizer,
        rng: &mut rand_chacha::ChaCha8Rng,
        device: &Device,
    ) -> AnyModel {
        let batching = Batching {
            batch_size: 4,
            normalization: DatasetKind::SpuriousMnist.normalization(),
            augmentation: Augmentation::None,
        };
        let set = images();
        let trained = train_epoch(
            model,
            optimizer,
            0.05,
            &set,
            &batching,
            rng,
            device,
            |_| async { ControlFlow::Continue(()) },
        );
        pollster::block_on(trained).unwrap().model
    }

    #[test]
    fn a_run_saved_and_read_back_between_epochs_trains_the_weights_the_run_without_a_break_does() {
        let device = Device::flex().autodiff();
        // Both runs start from these weights (read back, not drawn: the device's RNG is the
        // whole process's, and other tests draw from it meanwhile).
        let start = model_bytes(&network(4).init(&device)).unwrap();
        let start = || read_model(&network(4), &start, &device).unwrap();
        let values = |m: &AnyModel| pollster::block_on(parameters(m)).unwrap();

        let mut optimizer = settings().build();
        let mut rng = training_rng(3);
        let once = epoch(start(), &mut optimizer, &mut rng, &device);
        let unbroken = epoch(once, &mut optimizer, &mut rng, &device);

        let mut optimizer = settings().build();
        let mut rng = training_rng(3);
        let once = epoch(start(), &mut optimizer, &mut rng, &device);
        let model = read_model(&network(4), &model_bytes(&once).unwrap(), &device).unwrap();
        let state = optimizer_bytes(&optimizer).unwrap();
        let mut optimizer = read_optimizer(&settings(), &state).unwrap();
        let continued = epoch(model, &mut optimizer, &mut rng, &device);

        assert_eq!(values(&continued), values(&unbroken));
    }

    #[test]
    fn weights_of_another_network_or_damaged_bytes_are_refused() {
        let device = Device::flex();
        let bytes = model_bytes(&network(4).init(&device)).unwrap();
        let vgg = Architecture::Vgg {
            in_channels: 3,
            num_classes: 2,
            depth: 11,
            width: 4,
        };
        let refusal = |architecture: &Architecture, bytes: &[u8]| {
            read_model(architecture, bytes, &device).err().unwrap()
        };
        for other in [vgg, network(8)] {
            let refused = refusal(&other, &bytes);
            assert!(
                matches!(refused, CheckpointError::Mismatch(_)),
                "{other:?}: {refused}"
            );
        }
        assert!(matches!(
            refusal(&network(4), &bytes[..bytes.len() / 2]),
            CheckpointError::Corrupt(_)
        ));
        assert!(matches!(
            read_optimizer(&settings(), b"not burnpack"),
            Err(CheckpointError::Corrupt(_))
        ));
    }
}
