//! Saliency maps on `Device::flex()` against the `f64` reference, and the backward path against the
//! closed-form (forward-only) path, on tiny test models with three kinds of head.
//!
//! Tolerances: maps lie in [0, 1]; the f32 pipeline agrees with the f64 reference to 1e-4
//! (min-max normalisation divides f32 rounding by the raw map's range), the two gradient paths
//! with each other to 1e-5.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use masktune::cam_model::CamModel;
use masktune::reference;
use masktune::saliency::{
    GradientPath, Method, SaliencyError, SaliencyOutput, Target, saliency_maps, scaling,
};
use proptest::prelude::*;

const IN_CHANNELS: usize = 3;
const HEIGHT: usize = 9;
const WIDTH: usize = 7;
const CHANNELS: usize = 4;
const CLASSES: usize = 3;
const HIDDEN: usize = 5;
/// Feature map size after the 3x3, stride 2, padding 1 convolution.
const FEAT_H: usize = 5;
const FEAT_W: usize = 4;

#[derive(Clone, Copy, Debug)]
enum HeadKind {
    GapLinear,
    GapMlp,
    FlattenLinear,
}

enum Head {
    GapLinear(Linear),
    GapMlp(Linear, Linear),
    FlattenLinear(Linear),
}

/// conv + ReLU, then one of the heads: the shortcut applies to `GapLinear` only.
struct TinyNet {
    conv: Conv2d,
    head: Head,
}

impl TinyNet {
    fn new(kind: HeadKind, device: &Device) -> Self {
        let conv = Conv2dConfig::new([IN_CHANNELS, CHANNELS], [3, 3])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(device);
        let head = match kind {
            HeadKind::GapLinear => {
                Head::GapLinear(LinearConfig::new(CHANNELS, CLASSES).init(device))
            }
            HeadKind::GapMlp => Head::GapMlp(
                LinearConfig::new(CHANNELS, HIDDEN).init(device),
                LinearConfig::new(HIDDEN, CLASSES).init(device),
            ),
            HeadKind::FlattenLinear => Head::FlattenLinear(
                LinearConfig::new(CHANNELS * FEAT_H * FEAT_W, CLASSES).init(device),
            ),
        };
        Self { conv, head }
    }

    /// `d logits[class] / d activations` in f64, `[channels, h, w]`, for one image's activations.
    fn reference_gradient(&self, activations: &[f64], class: usize) -> Vec<f64> {
        let plane = FEAT_H * FEAT_W;
        let spread = |per_channel: Vec<f64>| -> Vec<f64> {
            per_channel
                .iter()
                .flat_map(|g| vec![g / plane as f64; plane])
                .collect()
        };
        match &self.head {
            // Burn's Linear weight is [in, out].
            Head::GapLinear(linear) => {
                let w = host(linear.weight.val());
                spread((0..CHANNELS).map(|k| w[k * CLASSES + class]).collect())
            }
            Head::GapMlp(first, second) => {
                let (w1, b1, w2) = (
                    host(first.weight.val()),
                    host(first.bias.as_ref().unwrap().val()),
                    host(second.weight.val()),
                );
                let pooled: Vec<f64> = activations
                    .chunks(plane)
                    .map(|a| a.iter().sum::<f64>() / plane as f64)
                    .collect();
                let active: Vec<bool> = (0..HIDDEN)
                    .map(|j| {
                        b1[j]
                            + (0..CHANNELS)
                                .map(|k| pooled[k] * w1[k * HIDDEN + j])
                                .sum::<f64>()
                            > 0.0
                    })
                    .collect();
                spread(
                    (0..CHANNELS)
                        .map(|k| {
                            (0..HIDDEN)
                                .filter(|&j| active[j])
                                .map(|j| w1[k * HIDDEN + j] * w2[j * CLASSES + class])
                                .sum()
                        })
                        .collect(),
                )
            }
            Head::FlattenLinear(linear) => {
                let w = host(linear.weight.val());
                (0..CHANNELS * plane)
                    .map(|i| w[i * CLASSES + class])
                    .collect()
            }
        }
    }

    /// The head's class weight row `[channels]`, for CAM.
    fn reference_class_weights(&self, class: usize) -> Vec<f64> {
        let w = host(self.gap_linear_weight().expect("a GAP + linear head"));
        w[class * CHANNELS..(class + 1) * CHANNELS].to_vec()
    }
}

impl CamModel for TinyNet {
    fn features(&self, images: Tensor<4>) -> Tensor<4> {
        relu(self.conv.forward(images))
    }

    fn head(&self, features: Tensor<4>) -> Tensor<2> {
        let gap = |f: Tensor<4>| {
            let [batch, channels, _, _] = f.dims();
            f.mean_dims(&[2, 3]).reshape([batch, channels])
        };
        match &self.head {
            Head::GapLinear(linear) => linear.forward(gap(features)),
            Head::GapMlp(first, second) => second.forward(relu(first.forward(gap(features)))),
            Head::FlattenLinear(linear) => linear.forward(features.flatten::<2>(1, 3)),
        }
    }

    fn gap_linear_weight(&self) -> Option<Tensor<2>> {
        match &self.head {
            Head::GapLinear(linear) => Some(linear.weight.val().transpose()),
            _ => None,
        }
    }
}

fn host<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    tensor.try_to_vec_as::<f64>().expect("readable tensor")
}

fn classes(tensor: &Tensor<1, Int>) -> Vec<usize> {
    let values = tensor.try_to_vec_as::<i64>().expect("readable tensor");
    values.into_iter().map(|c| c as usize).collect()
}

fn images(values: &[f32], device: &Device) -> Tensor<4> {
    let batch = values.len() / (IN_CHANNELS * HEIGHT * WIDTH);
    Tensor::from_data(
        TensorData::new(values.to_vec(), [batch, IN_CHANNELS, HEIGHT, WIDTH]),
        device,
    )
}

fn image_batch(max_batch: usize) -> impl Strategy<Value = Vec<f32>> {
    (1..=max_batch).prop_flat_map(|batch| {
        prop::collection::vec(-1.0f32..1.0, batch * IN_CHANNELS * HEIGHT * WIDTH)
    })
}

fn run(
    model: &TinyNet,
    values: &[f32],
    method: Method,
    target: &Target,
    path: GradientPath,
) -> SaliencyOutput {
    saliency_maps(model, images(values, &Device::flex()), method, target, path).expect("saliency")
}

fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// The reference maps for `output`'s images and targets, `[batch * HEIGHT * WIDTH]`.
fn reference_maps(
    model: &TinyNet,
    values: &[f32],
    method: Method,
    output: &SaliencyOutput,
) -> Vec<f64> {
    let activations = host(model.features(images(values, &Device::flex())));
    let per_image = CHANNELS * FEAT_H * FEAT_W;
    activations
        .chunks(per_image)
        .zip(classes(&output.targets))
        .flat_map(|(a, class)| {
            let weights = match method {
                Method::XGradCam => {
                    reference::xgradcam_weights(a, &model.reference_gradient(a, class), CHANNELS)
                }
                Method::GradCam => {
                    reference::gradcam_weights(&model.reference_gradient(a, class), CHANNELS)
                }
                Method::Cam => model.reference_class_weights(class),
            };
            reference::saliency_map(a, &weights, FEAT_H, FEAT_W, HEIGHT, WIDTH)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn backward_equals_forward_only_on_gap_linear(values in image_batch(3)) {
        let model = TinyNet::new(HeadKind::GapLinear, &Device::flex());
        for method in [Method::XGradCam, Method::GradCam] {
            let backward = run(&model, &values, method, &Target::Predicted, GradientPath::Backward);
            let closed = run(&model, &values, method, &Target::Predicted, GradientPath::ForwardOnly);
            prop_assert!(max_difference(&host(backward.maps), &host(closed.maps.clone())) < 1e-5);
            prop_assert!(max_difference(&host(backward.logits), &host(closed.logits)) < 1e-6);
            prop_assert_eq!(classes(&backward.targets), classes(&closed.targets));
        }
    }

    #[test]
    fn maps_equal_the_f64_reference(values in image_batch(3), class in 0..CLASSES) {
        let batch = values.len() / (IN_CHANNELS * HEIGHT * WIDTH);
        let cases = [
            (HeadKind::GapLinear, Method::XGradCam),
            (HeadKind::GapLinear, Method::GradCam),
            (HeadKind::GapLinear, Method::Cam),
            (HeadKind::GapMlp, Method::XGradCam),
            (HeadKind::GapMlp, Method::GradCam),
            (HeadKind::FlattenLinear, Method::XGradCam),
            (HeadKind::FlattenLinear, Method::GradCam),
        ];
        for (kind, method) in cases {
            let model = TinyNet::new(kind, &Device::flex());
            for target in [Target::Predicted, Target::Classes(vec![class; batch])] {
                let output = run(&model, &values, method, &target, GradientPath::Auto);
                let expected = reference_maps(&model, &values, method, &output);
                let difference = max_difference(&host(output.maps), &expected);
                prop_assert!(difference < 1e-4, "{kind:?} {method:?} {target:?}: {difference}");
            }
        }
    }

    #[test]
    fn batched_equals_per_image(values in image_batch(3)) {
        let per_image = IN_CHANNELS * HEIGHT * WIDTH;
        for kind in [HeadKind::GapLinear, HeadKind::FlattenLinear] {
            let model = TinyNet::new(kind, &Device::flex());
            let batched = host(run(&model, &values, Method::XGradCam, &Target::Predicted, GradientPath::Auto).maps);
            let single: Vec<f64> = values
                .chunks(per_image)
                .flat_map(|image| host(run(&model, image, Method::XGradCam, &Target::Predicted, GradientPath::Auto).maps))
                .collect();
            prop_assert!(max_difference(&batched, &single) < 1e-5);
        }
    }

    #[test]
    fn resize_equals_the_f64_reference(
        (height, width, out_height, out_width, map) in (1..8usize, 1..8usize, 1..20usize, 1..20usize)
            .prop_flat_map(|(h, w, oh, ow)| (Just(h), Just(w), Just(oh), Just(ow), prop::collection::vec(0.0f32..1.0, h * w)))
    ) {
        let tensor = Tensor::<3>::from_data(TensorData::new(map.clone(), [1, height, width]), &Device::flex());
        let resized = host(scaling::resize_bilinear(tensor, out_height, out_width));
        let map: Vec<f64> = map.iter().map(|&v| f64::from(v)).collect();
        let expected = reference::resize_bilinear(&map, height, width, out_height, out_width);
        prop_assert!(max_difference(&resized, &expected) < 1e-6);
    }
}

#[test]
fn maps_have_the_input_size_and_lie_in_unit_interval() {
    let model = TinyNet::new(HeadKind::GapMlp, &Device::flex());
    let values: Vec<f32> = (0..2 * IN_CHANNELS * HEIGHT * WIDTH)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let output = run(
        &model,
        &values,
        Method::XGradCam,
        &Target::Predicted,
        GradientPath::Auto,
    );
    assert_eq!(output.maps.dims(), [2, HEIGHT, WIDTH]);
    assert!(
        host(output.maps.clone())
            .iter()
            .all(|v| (0.0..=1.0).contains(v))
    );
    let predicted = classes(&output.logits.clone().argmax(1).reshape([2]));
    assert_eq!(classes(&output.targets), predicted);
    let sums = host(output.probabilities().sum_dim(1));
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-6));
}

#[test]
fn gradcam_equals_cam_on_gap_linear() {
    // There Grad-CAM's weights are W[c, k] / (h * w): CAM up to a positive factor.
    let model = TinyNet::new(HeadKind::GapLinear, &Device::flex());
    let values: Vec<f32> = (0..IN_CHANNELS * HEIGHT * WIDTH)
        .map(|i| ((i * 13 % 29) as f32 / 14.0) - 1.0)
        .collect();
    let target = Target::Classes(vec![1]);
    let cam = run(&model, &values, Method::Cam, &target, GradientPath::Auto);
    let gradcam = run(
        &model,
        &values,
        Method::GradCam,
        &target,
        GradientPath::Backward,
    );
    assert!(max_difference(&host(cam.maps), &host(gradcam.maps)) < 1e-5);
}

#[test]
fn model_on_an_autodiff_device_gives_the_same_maps() {
    let device = Device::flex().autodiff();
    let model = TinyNet::new(HeadKind::GapMlp, &device);
    let values: Vec<f32> = (0..2 * IN_CHANNELS * HEIGHT * WIDTH)
        .map(|i| ((i * 7 % 31) as f32 / 15.0) - 1.0)
        .collect();
    let output = saliency_maps(
        &model,
        images(&values, &device),
        Method::XGradCam,
        &Target::Predicted,
        GradientPath::Auto,
    )
    .expect("saliency");
    assert!(!output.maps.is_autodiff() && !output.logits.is_autodiff());
    let expected = reference_maps(&model, &values, Method::XGradCam, &output);
    assert!(max_difference(&host(output.maps), &expected) < 1e-4);
}

#[test]
fn constant_maps_normalise_to_zero_without_nan() {
    let maps = Tensor::<3>::full([2, 3, 5], 0.25, &Device::flex());
    let normalised = host(scaling::min_max_normalise(maps));
    assert!(normalised.iter().all(|&v| v == 0.0));
}

#[test]
fn unusable_requests_are_errors() {
    let flex = Device::flex();
    let values = vec![0.5f32; 2 * IN_CHANNELS * HEIGHT * WIDTH];
    let mlp = TinyNet::new(HeadKind::GapMlp, &flex);
    let gap = TinyNet::new(HeadKind::GapLinear, &flex);
    let error = |model: &TinyNet, method, target: Target, path| {
        saliency_maps(model, images(&values, &flex), method, &target, path).err()
    };
    assert_eq!(
        error(&mlp, Method::Cam, Target::Predicted, GradientPath::Auto),
        Some(SaliencyError::NeedsGapLinearHead("CAM"))
    );
    assert!(matches!(
        error(
            &mlp,
            Method::XGradCam,
            Target::Predicted,
            GradientPath::ForwardOnly
        ),
        Some(SaliencyError::NeedsGapLinearHead(_))
    ));
    assert_eq!(
        error(
            &gap,
            Method::XGradCam,
            Target::Classes(vec![0]),
            GradientPath::Auto
        ),
        Some(SaliencyError::TargetCount { given: 1, batch: 2 })
    );
    assert_eq!(
        error(
            &gap,
            Method::GradCam,
            Target::Classes(vec![0, CLASSES]),
            GradientPath::Backward
        ),
        Some(SaliencyError::TargetOutOfRange {
            class: CLASSES,
            classes: CLASSES
        })
    );
}
