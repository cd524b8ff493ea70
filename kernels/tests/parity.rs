//! The WGSL kernels against the f64 CPU reference (`masktune::reference`), on whatever wgpu adapter
//! the machine has: natively (`cargo test`; Mesa's lavapipe without a GPU) and in headless
//! Chromium's WebGPU (`cargo test --target wasm32-unknown-unknown`; SwiftShader), every case both. Tolerances: 1e-5 absolute for normalised maps,
//! 1e-5 relative for channel weights and thresholds; masks identical except for pixels whose map
//! value lies within 1e-5 of the reference threshold.

use kernels::{
    ChannelWeights, FeatureShape, ImageLayout, KernelError, PixelFormat, SaliencyKernels,
};
use masktune::reference;

const MAP_TOLERANCE: f64 = 1e-5;
const RELATIVE_TOLERANCE: f64 = 1e-5;

/// Small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    }

    fn range(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.unit()
    }

    fn vec(&mut self, len: usize, low: f32, high: f32) -> Vec<f32> {
        (0..len).map(|_| self.range(low, high)).collect()
    }
}

fn f64s(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| f64::from(v)).collect()
}

fn shape(batch: usize, channels: usize, height: usize, width: usize) -> FeatureShape {
    FeatureShape {
        batch,
        channels,
        height,
        width,
    }
}

fn assert_close_relative(what: &str, got: &[f32], expected: &[f64]) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        let error = (f64::from(g) - e).abs();
        assert!(
            error <= RELATIVE_TOLERANCE * e.abs().max(1e-2),
            "{what}[{i}]: kernel {g}, reference {e}"
        );
    }
}

fn assert_close_absolute(what: &str, got: &[f32], expected: &[f64]) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    let (worst, at) = got
        .iter()
        .zip(expected)
        .map(|(&g, &e)| (f64::from(g) - e).abs())
        .enumerate()
        .fold(
            (0.0, 0),
            |(worst, at), (i, e)| if e > worst { (e, i) } else { (worst, at) },
        );
    assert!(
        worst <= MAP_TOLERANCE,
        "{what}: largest error {worst} at {at} (kernel {}, reference {})",
        got[at],
        expected[at]
    );
}

/// Reference maps `[batch, out_h, out_w]` for activations and per-image weights.
fn reference_maps(
    activations: &[f32],
    weights: &[f64],
    shape: FeatureShape,
    out_height: usize,
    out_width: usize,
) -> Vec<f64> {
    let per_image = shape.channels * shape.plane();
    (0..shape.batch)
        .flat_map(|b| {
            reference::saliency_map(
                &f64s(&activations[b * per_image..(b + 1) * per_image]),
                &weights[b * shape.channels..(b + 1) * shape.channels],
                shape.height,
                shape.width,
                out_height,
                out_width,
            )
        })
        .collect()
}

/// XGradCAM weights of a GAP + linear head per the reference: the gradient is `W[c, k] / (h * w)`.
fn reference_gap_linear_weights(
    activations: &[f32],
    classifier: &[f32],
    targets: &[u32],
    shape: FeatureShape,
) -> Vec<f64> {
    let plane = shape.plane();
    let per_image = shape.channels * plane;
    (0..shape.batch)
        .flat_map(|b| {
            let row = targets[b] as usize * shape.channels;
            let gradients: Vec<f64> = (0..per_image)
                .map(|i| f64::from(classifier[row + i / plane]) / plane as f64)
                .collect();
            reference::xgradcam_weights(
                &f64s(&activations[b * per_image..(b + 1) * per_image]),
                &gradients,
                shape.channels,
            )
        })
        .collect()
}

async fn xgradcam_weights_match_reference(kernels: &SaliencyKernels) {
    for (seed, shape) in [
        (1, shape(3, 5, 7, 9)),
        (2, shape(2, 64, 8, 8)),
        (3, shape(1, 3, 1, 1)),
    ] {
        let mut rng = Rng::new(seed);
        // Activations after a ReLU are >= 0, so the denominator is well conditioned.
        let activations = rng.vec(shape.values(), 0.0, 1.0);
        let gradients = rng.vec(shape.values(), -1.0, 1.0);
        let got = kernels
            .channel_weights(
                &activations,
                shape,
                ChannelWeights::XGradCam {
                    gradients: &gradients,
                },
            )
            .await
            .unwrap();
        let per_image = shape.channels * shape.plane();
        let expected: Vec<f64> = (0..shape.batch)
            .flat_map(|b| {
                let range = b * per_image..(b + 1) * per_image;
                reference::xgradcam_weights(
                    &f64s(&activations[range.clone()]),
                    &f64s(&gradients[range]),
                    shape.channels,
                )
            })
            .collect();
        assert_close_relative(&format!("weights {shape:?}"), &got, &expected);
    }
}

async fn gap_linear_weights_are_xgradcam_with_constant_gradient(kernels: &SaliencyKernels) {
    let mut rng = Rng::new(4);
    let shape = shape(5, 17, 7, 7);
    let classes = 3;
    let mut activations = rng.vec(shape.values(), 0.0, 1.0);
    // An all-zero channel must get weight 0 (the 1e-7 in the denominator), not NaN.
    activations[..shape.plane()].fill(0.0);
    let classifier = rng.vec(classes * shape.channels, -1.0, 1.0);
    let targets = [0, 2, 1, 2, 0];
    let got = kernels
        .channel_weights(
            &activations,
            shape,
            ChannelWeights::GapLinear {
                classifier: &classifier,
                classes,
                targets: &targets,
            },
        )
        .await
        .unwrap();
    assert_eq!(got[0], 0.0);
    let expected = reference_gap_linear_weights(&activations, &classifier, &targets, shape);
    assert_close_relative("gap-linear weights", &got, &expected);
}

async fn saliency_maps_match_reference(kernels: &SaliencyKernels) {
    let cases = [
        // (batch, channels, h, w) -> (out_h, out_w): odd up-, down- and mixed scaling.
        (shape(3, 5, 7, 9), (13, 11)),
        (shape(2, 64, 8, 8), (32, 32)),
        (shape(2, 3, 9, 7), (4, 5)),
        (shape(1, 512, 7, 7), (224, 224)),
        (shape(2, 4, 5, 5), (5, 5)),
        // A single pixel: a constant map, all zeros after min-max.
        (shape(1, 1, 1, 1), (1, 1)),
        (shape(2, 3, 1, 1), (5, 3)),
        // One row and one column.
        (shape(2, 2, 1, 6), (3, 17)),
        (shape(1, 2, 6, 1), (17, 1)),
    ];
    for (seed, (shape, (out_height, out_width))) in cases.into_iter().enumerate() {
        let mut rng = Rng::new(10 + seed as u64);
        let activations = rng.vec(shape.values(), 0.0, 1.0);
        let weights = rng.vec(shape.batch * shape.channels, -1.0, 1.0);
        let got = kernels
            .saliency_maps(
                &activations,
                shape,
                ChannelWeights::Given(&weights),
                out_height,
                out_width,
            )
            .await
            .unwrap();
        let expected = reference_maps(&activations, &f64s(&weights), shape, out_height, out_width);
        assert_close_absolute(
            &format!("maps {shape:?} -> {out_height}x{out_width}"),
            &got,
            &expected,
        );
    }
}

async fn all_zero_maps_mask_nothing(kernels: &SaliencyKernels) {
    let shape = shape(3, 4, 5, 6);
    let layout = ImageLayout {
        height: 11,
        width: 7,
        format: PixelFormat::Rgb,
    };
    let original: Vec<u8> = (0..shape.batch * 11 * 7 * 3)
        .map(|i| (i % 251 + 1) as u8)
        .collect();
    let mut images = original.clone();
    let (maps, stats) = kernels
        .saliency_and_mask(
            &vec![0.0; shape.values()],
            shape,
            ChannelWeights::Given(&vec![1.0; shape.batch * shape.channels]),
            &mut images,
            layout,
        )
        .await
        .unwrap();
    assert!(maps.iter().all(|&v| v == 0.0));
    assert!(
        stats
            .iter()
            .all(|s| s.threshold == 0.0 && s.masked_pixels == 0)
    );
    assert_eq!(images, original);
}

async fn one_hot_pixel_is_its_own_threshold(kernels: &SaliencyKernels) {
    // One positive pixel: mean = value, std = 0, and `value > value` hides nothing.
    let (height, width) = (9, 13);
    let mut maps = vec![0.0f32; 2 * height * width];
    maps[37] = 0.625;
    maps[height * width + 100] = 1.0;
    let layout = ImageLayout {
        height,
        width,
        format: PixelFormat::Rgba,
    };
    let original = vec![200u8; maps.len() * 4];
    let mut images = original.clone();
    let stats = kernels
        .mask_images(&maps, &mut images, layout)
        .await
        .unwrap();
    assert_eq!(stats[0].threshold, 0.625);
    assert_eq!(stats[1].threshold, 1.0);
    assert!(stats.iter().all(|s| s.masked_pixels == 0));
    assert_eq!(images, original);

    // The same hot spot in the activations, through the whole saliency pipeline.
    let shape = shape(1, 2, 5, 5);
    let mut activations = vec![0.0f32; shape.values()];
    activations[12] = 3.0;
    let weights = [1.0, -1.0];
    let got = kernels
        .saliency_maps(&activations, shape, ChannelWeights::Given(&weights), 16, 16)
        .await
        .unwrap();
    let expected = reference_maps(&activations, &f64s(&weights), shape, 16, 16);
    assert_close_absolute("one-hot activations", &got, &expected);
}

/// Checks thresholds and masked bytes of `mask_images` on `maps` against the reference.
async fn check_masking(kernels: &SaliencyKernels, maps: &[f32], layout: ImageLayout, seed: u64) {
    let pixels = layout.height * layout.width;
    let batch = maps.len() / pixels;
    let channels = layout.format.channels();
    let mut rng = Rng::new(seed);
    // Non-zero bytes, so a zeroed byte is always the mask's doing.
    let original: Vec<u8> = (0..batch * pixels * channels)
        .map(|_| 1 + (rng.unit() * 254.0) as u8)
        .collect();
    let mut images = original.clone();
    let stats = kernels
        .mask_images(maps, &mut images, layout)
        .await
        .unwrap();
    let colour = match layout.format {
        PixelFormat::Rgba => 3,
        other => other.channels(),
    };
    for b in 0..batch {
        let map = &maps[b * pixels..(b + 1) * pixels];
        let threshold = reference::mask_threshold(&f64s(map));
        assert_close_relative(
            &format!("threshold {b}"),
            &[stats[b].threshold],
            &[threshold],
        );
        let mut hidden = 0;
        for (p, &value) in map.iter().enumerate() {
            let at = (b * pixels + p) * channels;
            let pixel = &images[at..at + channels];
            let zeroed = pixel[..colour].iter().all(|&v| v == 0);
            hidden += usize::from(zeroed);
            let near = (f64::from(value) - threshold).abs() <= MAP_TOLERANCE;
            if !near {
                assert_eq!(
                    zeroed,
                    f64::from(value) > threshold,
                    "image {b} pixel {p}: map {value}, threshold {threshold}"
                );
            }
            let untouched = if zeroed { &pixel[colour..] } else { pixel };
            let before = &original[at..at + channels];
            let before = if zeroed { &before[colour..] } else { before };
            assert_eq!(
                untouched, before,
                "image {b} pixel {p}: bytes changed that must not"
            );
        }
        assert_eq!(
            stats[b].masked_pixels, hidden,
            "image {b}: hidden pixel count"
        );
    }
}

async fn thresholds_and_masks_match_reference(kernels: &SaliencyKernels) {
    let formats = [PixelFormat::Rgb, PixelFormat::Rgba, PixelFormat::Gray];
    let sizes = [(5, 7), (32, 32), (1, 1), (13, 3), (224, 224)];
    for (i, (&(height, width), &format)) in sizes.iter().zip(formats.iter().cycle()).enumerate() {
        let mut rng = Rng::new(100 + i as u64);
        let batch = 3;
        // About a third of the values are exactly 0 (outside the positive set), as after ReLU.
        let maps: Vec<f32> = (0..batch * height * width)
            .map(|_| (rng.range(-0.5, 1.0)).max(0.0))
            .collect();
        check_masking(
            kernels,
            &maps,
            ImageLayout {
                height,
                width,
                format,
            },
            i as u64,
        )
        .await;
    }
    // Every format on an odd size where RGB words straddle pixels and images.
    for (i, format) in formats.into_iter().enumerate() {
        let mut rng = Rng::new(200 + i as u64);
        let maps = rng.vec(4 * 7 * 5, 0.0, 1.0);
        check_masking(
            kernels,
            &maps,
            ImageLayout {
                height: 7,
                width: 5,
                format,
            },
            50 + i as u64,
        )
        .await;
    }
}

async fn large_batch_pipeline_matches_reference(kernels: &SaliencyKernels) {
    // 512 CIFAR-sized images: 64 channels of 8x8 -> 32x32, forward-only XGradCAM, RGB masking.
    let shape = shape(512, 64, 8, 8);
    let classes = 10;
    let mut rng = Rng::new(7);
    let activations = rng.vec(shape.values(), 0.0, 1.0);
    let classifier = rng.vec(classes * shape.channels, -1.0, 1.0);
    let targets: Vec<u32> = (0..shape.batch as u32)
        .map(|b| b % classes as u32)
        .collect();
    let layout = ImageLayout {
        height: 32,
        width: 32,
        format: PixelFormat::Rgb,
    };
    let original: Vec<u8> = (0..shape.batch * 32 * 32 * 3)
        .map(|_| 1 + (rng.unit() * 254.0) as u8)
        .collect();
    let mut images = original.clone();
    let (maps, stats) = kernels
        .saliency_and_mask(
            &activations,
            shape,
            ChannelWeights::GapLinear {
                classifier: &classifier,
                classes,
                targets: &targets,
            },
            &mut images,
            layout,
        )
        .await
        .unwrap();
    let weights = reference_gap_linear_weights(&activations, &classifier, &targets, shape);
    assert_close_absolute(
        "large batch maps",
        &maps,
        &reference_maps(&activations, &weights, shape, 32, 32),
    );
    // Masking is judged on the kernel's own maps (their parity is checked just above).
    let mut expected = original;
    for (b, stat) in stats.iter().enumerate() {
        let map = &maps[b * 1024..(b + 1) * 1024];
        let threshold = reference::mask_threshold(&f64s(map));
        assert_close_relative(&format!("threshold {b}"), &[stat.threshold], &[threshold]);
        for (p, &value) in map.iter().enumerate() {
            let at = (b * 1024 + p) * 3;
            if (f64::from(value) - threshold).abs() <= MAP_TOLERANCE {
                expected[at..at + 3].copy_from_slice(&images[at..at + 3]);
            } else if f64::from(value) > threshold {
                expected[at..at + 3].fill(0);
            }
        }
    }
    assert!(
        images == expected,
        "masked images differ from the reference masking"
    );
    assert!(stats.iter().any(|s| s.masked_pixels > 0));
}

async fn mismatched_inputs_are_errors(kernels: &SaliencyKernels) {
    let shape = shape(2, 3, 4, 4);
    let activations = vec![0.5; shape.values()];
    let short = vec![1.0; 5];
    let error = kernels
        .channel_weights(
            &activations,
            shape,
            ChannelWeights::XGradCam { gradients: &short },
        )
        .await
        .unwrap_err();
    assert!(matches!(error, KernelError::Shape(_)), "{error}");
    let error = kernels
        .channel_weights(
            &activations,
            shape,
            ChannelWeights::GapLinear {
                classifier: &[0.0; 6],
                classes: 2,
                targets: &[0, 2],
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(error, KernelError::Shape(_)), "{error}");
    let layout = ImageLayout {
        height: 4,
        width: 4,
        format: PixelFormat::Rgb,
    };
    let error = kernels
        .mask_images(&[0.0; 16], &mut [0; 47], layout)
        .await
        .unwrap_err();
    assert!(matches!(error, KernelError::Shape(_)), "{error}");
}

/// Runs every case natively and in the browser. No adapter is a failure, not a skip: the
/// message says what is missing.
macro_rules! on_every_device {
    ($($case:ident),* $(,)?) => {
        #[cfg(not(target_family = "wasm"))]
        mod native {
            use super::SaliencyKernels;
            use std::sync::OnceLock;

            /// One device for all tests.
            fn kernels() -> &'static SaliencyKernels {
                static KERNELS: OnceLock<SaliencyKernels> = OnceLock::new();
                KERNELS.get_or_init(|| SaliencyKernels::request_blocking().unwrap_or_else(|error| panic!("{error}")))
            }

            $(#[test]
            fn $case() {
                pollster::block_on(super::$case(kernels()));
            })*
        }

        #[cfg(target_family = "wasm")]
        mod browser {
            use super::SaliencyKernels;
            use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

            wasm_bindgen_test_configure!(run_in_browser);

            $(#[wasm_bindgen_test]
            async fn $case() {
                let kernels = SaliencyKernels::request().await.unwrap_or_else(|error| panic!("{error}"));
                super::$case(&kernels).await;
            })*
        }
    };
}

on_every_device!(
    xgradcam_weights_match_reference,
    gap_linear_weights_are_xgradcam_with_constant_gradient,
    saliency_maps_match_reference,
    all_zero_maps_mask_nothing,
    one_hot_pixel_is_its_own_threshold,
    thresholds_and_masks_match_reference,
    large_batch_pipeline_matches_reference,
    mismatched_inputs_are_errors,
);
