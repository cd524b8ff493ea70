//! Keeping a model as it is now while its training goes on (the page's Lab keeps the best ERM
//! epoch in memory; the trainer writes checkpoints instead).

use burn::module::Module;

use crate::models::AnyModel;

/// The model as it is now, in evaluation mode, unaffected by further training of `model`.
/// A clone is not: Burn's batch norms share their running statistics between clones, so the
/// next training step of `model` would change the clone's statistics too.
pub fn snapshot(model: &AnyModel) -> AnyModel {
    model.valid()
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::*;
    use crate::cam_model::CamModel;
    use crate::models::Architecture;
    use crate::readback::parameters;

    #[test]
    fn a_snapshot_keeps_its_batch_norm_statistics_while_training_goes_on_unlike_a_clone() {
        let device = Device::flex().autodiff();
        let model = Architecture::MnistCnn {
            in_channels: 3,
            num_classes: 2,
            width: 4,
            input_size: 28,
        }
        .init(&device);
        let (snapshot, clone) = (snapshot(&model), model.clone());
        let values = |m: &AnyModel| pollster::block_on(parameters(m)).unwrap();
        let before = values(&snapshot);
        let images =
            Tensor::<4>::random([4, 3, 28, 28], burn::tensor::Distribution::Default, &device);
        // Training forward passes update the running statistics.
        model.forward(images.clone());
        model.forward(images);
        assert_eq!(values(&snapshot), before);
        assert_ne!(
            values(&clone),
            before,
            "clones share the statistics (what snapshot avoids)"
        );
    }
}
