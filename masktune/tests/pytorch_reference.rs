//! Parity with the authors' stack: the fixture (tests/fixtures/pytorch/make_fixtures.py, run by
//! make_fixtures.sh) holds a tiny CNN's PyTorch weights, its logits, the maps that
//! jacobgil/pytorch-grad-cam 1.5.7 returns for XGradCAM and GradCAM (predicted and explicit target
//! classes) and the MaskTune masks of the authors' `mask_heatmap_using_threshold`. The same model
//! is rebuilt here in Burn and run through `saliency_maps` and `masking`.
//!
//! The input is 13x11 and the target layer's output 7x6, so the resize factor is non-integer in
//! both directions. Observed differences on Flex: logits 1.4e-6, maps 1.2e-6, thresholds 3e-7
//! relative (f32 sums in another order). The tolerances leave about 10x room, while the plausible
//! mistakes are far outside them: without the final min-max the maps are off by 0.08-0.2,
//! align-corners resizing by 0.2, nearest-neighbour by 0.7. (The first min-max, before the
//! resize, cannot be seen: an affine map commutes with a resize whose weights sum to 1.)
//! A pixel may be masked on one side only when the fixture's map value lies within `BORDERLINE`
//! of its threshold, and there may be at most `MAX_BORDERLINE` such pixels in a case.

use std::collections::{BTreeMap, HashMap, HashSet};

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use masktune::cam_model::CamModel;
use masktune::masking::{ChannelLayout, batch_masks, mask_image, mask_images};
use masktune::saliency::{GradientPath, Method, SaliencyOutput, Target, saliency_maps};
use serde::Deserialize;

const LOGIT_TOLERANCE: f32 = 1e-5;
const MAP_TOLERANCE: f32 = 1e-5;
const THRESHOLD_TOLERANCE: f32 = 1e-5;
/// Maps and thresholds (<= ~1) each within their tolerance can disagree only this close.
const BORDERLINE: f32 = MAP_TOLERANCE + THRESHOLD_TOLERANCE;
const MAX_BORDERLINE: usize = 2;

#[derive(Deserialize)]
struct Fixture {
    batch: usize,
    in_channels: usize,
    height: usize,
    width: usize,
    images: Vec<f32>,
    raw: Vec<u8>,
    /// By name, ordered so the runs are too.
    heads: BTreeMap<String, HeadFixture>,
}

#[derive(Deserialize)]
struct HeadFixture {
    /// PyTorch's `named_parameters`, in PyTorch's layout.
    parameters: HashMap<String, Parameter>,
    logits: Vec<f32>,
    predicted: Vec<usize>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Parameter {
    shape: Vec<usize>,
    values: Vec<f32>,
}

#[derive(Deserialize)]
struct Case {
    method: String,
    /// `None`: pytorch-grad-cam's `targets=None`, the predicted classes.
    targets: Option<Vec<usize>>,
    maps: Vec<f32>,
    /// `None` where the map has no positive value: the authors' threshold is NaN there.
    thresholds: Vec<Option<f32>>,
    /// 1 where the authors' mask is 0 (the pixel is hidden), `[batch, height, width]`.
    hidden: Vec<u8>,
    masked_raw: Vec<u8>,
}

impl Case {
    fn method(&self) -> Method {
        match self.method.as_str() {
            "XGradCAM" => Method::XGradCam,
            "GradCAM" => Method::GradCam,
            other => panic!("unknown method {other}"),
        }
    }

    fn target(&self) -> Target {
        self.targets
            .clone()
            .map_or(Target::Predicted, Target::Classes)
    }
}

impl HeadFixture {
    /// PyTorch's `head = Sequential(AdaptiveAvgPool2d, Flatten, Linear)`.
    fn is_gap_linear(&self) -> bool {
        self.parameters.contains_key("head.2.weight")
    }
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/pytorch/pytorch_reference.json"))
        .expect("fixture parses")
}

enum Head {
    GapLinear(Linear),
    /// flatten + Linear + ReLU + Linear
    Mlp(Linear, Linear),
}

/// The fixture's `TinyNet`: two convolutions with ReLU as the CAM target layer, then a head.
struct TinyNet {
    conv1: Conv2d,
    conv2: Conv2d,
    head: Head,
}

impl TinyNet {
    fn from_fixture(head: &HeadFixture, device: &Device) -> Self {
        let tensor = |name: &str| -> &Parameter {
            head.parameters
                .get(name)
                .unwrap_or_else(|| panic!("no parameter {name}"))
        };
        let vector = |name: &str| {
            let p = tensor(name);
            Param::from_tensor(Tensor::<1>::from_data(
                TensorData::new(p.values.clone(), p.shape.clone()),
                device,
            ))
        };
        let conv = |prefix: &str, stride: usize| {
            let p = tensor(&format!("{prefix}.weight"));
            let [out, inp, kh, kw] = p.shape[..] else {
                panic!("{prefix} is not a 2D convolution")
            };
            // Same shape [out, in, kh, kw] in PyTorch and Burn; only the values are replaced.
            let mut conv = Conv2dConfig::new([inp, out], [kh, kw])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device);
            conv.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(p.values.clone(), p.shape.clone()),
                device,
            ));
            conv.bias = Some(vector(&format!("{prefix}.bias")));
            conv
        };
        let linear = |prefix: &str| {
            let p = tensor(&format!("{prefix}.weight"));
            let [out, inp] = p.shape[..] else {
                panic!("{prefix} is not a linear layer")
            };
            let mut linear = LinearConfig::new(inp, out).init(device);
            // PyTorch stores [out, in], Burn [in, out].
            let weight: Tensor<2> =
                Tensor::from_data(TensorData::new(p.values.clone(), [out, inp]), device);
            linear.weight = Param::from_tensor(weight.transpose());
            linear.bias = Some(vector(&format!("{prefix}.bias")));
            linear
        };
        let head = if head.is_gap_linear() {
            Head::GapLinear(linear("head.2"))
        } else {
            Head::Mlp(linear("head.1"), linear("head.3"))
        };
        Self {
            conv1: conv("features.0", 1),
            conv2: conv("features.2", 2),
            head,
        }
    }
}

impl CamModel for TinyNet {
    fn features(&self, images: Tensor<4>) -> Tensor<4> {
        relu(self.conv2.forward(relu(self.conv1.forward(images))))
    }

    fn head(&self, features: Tensor<4>) -> Tensor<2> {
        match &self.head {
            Head::GapLinear(linear) => {
                let [batch, channels, _, _] = features.dims();
                linear.forward(features.mean_dims(&[2, 3]).reshape([batch, channels]))
            }
            Head::Mlp(first, second) => {
                second.forward(relu(first.forward(features.flatten::<2>(1, 3))))
            }
        }
    }

    fn gap_linear_weight(&self) -> Option<Tensor<2>> {
        match &self.head {
            Head::GapLinear(linear) => Some(linear.weight.val().transpose()),
            Head::Mlp(..) => None,
        }
    }
}

fn host<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.try_to_vec_as::<f32>().expect("readable tensor")
}

fn classes(tensor: Tensor<1, Int>) -> Vec<usize> {
    let values = tensor.try_to_vec_as::<i64>().expect("readable tensor");
    values.into_iter().map(|c| c as usize).collect()
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

impl Fixture {
    fn images(&self) -> Tensor<4> {
        let shape = [self.batch, self.in_channels, self.height, self.width];
        Tensor::from_data(TensorData::new(self.images.clone(), shape), &Device::flex())
    }

    fn raw_tensor(&self) -> Tensor<4, Int> {
        let values: Vec<i64> = self.raw.iter().map(|&v| i64::from(v)).collect();
        let shape = [self.batch, self.height, self.width, self.in_channels];
        Tensor::from_data(TensorData::new(values, shape), &Device::flex())
    }

    /// Every (head name, head, gradient path) the fixture is checked with: both paths where the
    /// closed form applies.
    fn runs(&self) -> Vec<(&str, &HeadFixture, GradientPath)> {
        let mut runs = Vec::new();
        for (name, head) in &self.heads {
            runs.push((name.as_str(), head, GradientPath::Backward));
            if head.is_gap_linear() {
                runs.push((name.as_str(), head, GradientPath::ForwardOnly));
            }
        }
        runs
    }

    fn saliency(&self, head: &HeadFixture, case: &Case, path: GradientPath) -> SaliencyOutput {
        let model = TinyNet::from_fixture(head, &Device::flex());
        saliency_maps(&model, self.images(), case.method(), &case.target(), path).expect("saliency")
    }

    /// Where `ours` and the authors' hidden masks differ, `[batch * height * width]` indices;
    /// panics if one of them is not borderline (`|map - threshold| <= BORDERLINE` in the fixture).
    fn borderline_disagreements(&self, label: &str, case: &Case, ours: &[bool]) -> Vec<usize> {
        let plane = self.height * self.width;
        let differing: Vec<usize> = (0..ours.len())
            .filter(|&i| ours[i] != (case.hidden[i] == 1))
            .collect();
        for &i in &differing {
            let distance =
                case.thresholds[i / plane].map_or(f32::INFINITY, |t| (case.maps[i] - t).abs());
            assert!(
                distance <= BORDERLINE,
                "{label}: pixel {i} masked differently, {distance} from the threshold"
            );
        }
        assert!(
            differing.len() <= MAX_BORDERLINE,
            "{label}: {} borderline pixels",
            differing.len()
        );
        differing
    }
}

#[test]
fn fixture_covers_what_it_claims() {
    let fixture = fixture();
    assert_eq!(fixture.heads.len(), 2);
    let plane = fixture.height * fixture.width;
    let (mut masked_maps, mut maps, mut empty_maps) = (0, 0, 0);
    for head in fixture.heads.values() {
        assert_eq!(head.cases.len(), 4);
        let distinct: HashSet<_> = head.predicted.iter().collect();
        assert!(
            distinct.len() >= 2,
            "the predicted target differs per image"
        );
        let explicit = head.cases.iter().find_map(|c| c.targets.clone()).unwrap();
        assert!(
            explicit
                .iter()
                .zip(&head.predicted)
                .filter(|(e, p)| e != p)
                .count()
                >= 3
        );
        for case in &head.cases {
            for (map, hidden) in case.maps.chunks(plane).zip(case.hidden.chunks(plane)) {
                maps += 1;
                masked_maps += usize::from(hidden.contains(&1) && hidden.contains(&0));
                empty_maps += usize::from(map.iter().all(|&v| v == 0.0));
            }
        }
    }
    // Almost every map masks some pixels but not all, so no check passes on zeros; the map with
    // no positive value (the authors' NaN threshold) is covered too.
    assert!(
        masked_maps * 10 >= maps * 9,
        "{masked_maps} of {maps} maps mask something"
    );
    assert!(empty_maps >= 1);
}

#[test]
fn logits_and_predictions_match_pytorch() {
    let fixture = fixture();
    for (name, head) in &fixture.heads {
        let model = TinyNet::from_fixture(head, &Device::flex());
        let logits = model.forward(fixture.images());
        let predicted = classes(logits.clone().argmax(1).reshape([fixture.batch]));
        let difference = max_difference(&host(logits), &head.logits);
        assert!(
            difference < LOGIT_TOLERANCE,
            "{name}: logits off by {difference}"
        );
        assert_eq!(predicted, head.predicted, "{name}");
    }
}

#[test]
fn maps_match_pytorch_grad_cam() {
    let fixture = fixture();
    let (mut worst_map, mut worst_logit) = (0.0f32, 0.0f32);
    for (name, head, path) in fixture.runs() {
        for case in &head.cases {
            let label = format!("{name} {path:?} {} {:?}", case.method, case.targets);
            let output = fixture.saliency(head, case, path);
            let expected_targets = case.targets.clone().unwrap_or(head.predicted.clone());
            assert_eq!(classes(output.targets), expected_targets, "{label}");
            let logits = max_difference(&host(output.logits), &head.logits);
            assert!(logits < LOGIT_TOLERANCE, "{label}: logits off by {logits}");
            let maps = max_difference(&host(output.maps), &case.maps);
            assert!(maps < MAP_TOLERANCE, "{label}: maps off by {maps}");
            (worst_map, worst_logit) = (worst_map.max(maps), worst_logit.max(logits));
        }
    }
    eprintln!("largest differences: maps {worst_map:e}, logits {worst_logit:e}");
}

#[test]
fn masks_match_the_authors_masking() {
    let fixture = fixture();
    let (height, width, channels) = (fixture.height, fixture.width, fixture.in_channels);
    let plane = height * width;
    let (mut borderline, mut worst_threshold) = (0, 0.0f32);
    for (name, head, path) in fixture.runs() {
        for case in &head.cases {
            let label = format!("{name} {path:?} {} {:?}", case.method, case.targets);
            let maps = fixture.saliency(head, case, path).maps;

            // Tensor path: thresholds, hidden pixels, and the masked raw images on the device.
            let masks = batch_masks(maps.clone());
            let thresholds = host(masks.thresholds);
            for (ours, theirs) in thresholds.iter().zip(&case.thresholds) {
                // Ours is 0 where theirs is NaN (masking.rs): neither masks anything there.
                let relative = (ours - theirs.unwrap_or(0.0)).abs() / theirs.map_or(1.0, f32::abs);
                assert!(
                    relative < THRESHOLD_TOLERANCE,
                    "{label}: threshold {ours} vs {theirs:?}"
                );
                worst_threshold = worst_threshold.max(relative);
            }
            let hidden: Vec<bool> = masks
                .hidden
                .clone()
                .int()
                .try_to_vec_as::<i64>()
                .expect("readable tensor")
                .into_iter()
                .map(|h| h == 1)
                .collect();
            let differing = fixture.borderline_disagreements(&label, case, &hidden);
            borderline += differing.len();
            let masked = mask_images(fixture.raw_tensor(), masks.hidden, ChannelLayout::Last);
            let masked = masked.try_to_vec_as::<i64>().expect("readable tensor");
            for (i, (ours, theirs)) in masked.iter().zip(&case.masked_raw).enumerate() {
                let pixel = i / channels;
                if !differing.contains(&pixel) {
                    assert_eq!(*ours, i64::from(*theirs), "{label}: raw value {i}");
                }
            }

            // Host path on raw u8 images: must agree with the tensor path pixel for pixel.
            let maps = host(maps);
            for (image, map) in maps.chunks(plane).enumerate() {
                let range = image * plane * channels..(image + 1) * plane * channels;
                let mut raw = fixture.raw[range.clone()].to_vec();
                let stats = mask_image(&mut raw, width, height, channels, map);
                assert!(
                    (stats.threshold - thresholds[image]).abs() <= 1e-6,
                    "{label}"
                );
                let expected: Vec<u8> = masked[range].iter().map(|&v| v as u8).collect();
                assert_eq!(raw, expected, "{label}: image {image}");
            }
        }
    }
    eprintln!(
        "largest relative threshold difference {worst_threshold:e}; \
         borderline pixels masked on one side only, all cases: {borderline}"
    );
}
