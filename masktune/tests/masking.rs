//! Masking (DESIGN.md step 3): the slice path on raw HWC bytes, the batched tensor path on
//! `Device::flex()`, and their agreement. The f32 tensor thresholds match the f64 ones to 1e-5, so
//! the two paths may disagree only on pixels that close to the threshold.

use burn::prelude::*;
use masktune::masking::{ChannelLayout, MaskStats, batch_masks, mask_image, mask_images};
use masktune::reference;
use proptest::prelude::*;

/// A saliency-like map: many exact zeros, the rest in (0, 1].
fn map_values(len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(prop_oneof![1 => Just(0.0f32), 3 => 0.0f32..=1.0], len)
}

/// One image: (width, height, channels, raw HWC bytes, map).
fn image_and_map() -> impl Strategy<Value = (usize, usize, usize, Vec<u8>, Vec<f32>)> {
    (
        1..12usize,
        1..12usize,
        prop::sample::select(vec![1usize, 3, 4]),
    )
        .prop_flat_map(|(w, h, c)| {
            (
                Just(w),
                Just(h),
                Just(c),
                prop::collection::vec(1..=255u8, w * h * c),
                map_values(w * h),
            )
        })
}

/// A batch of same-sized images: (batch, width, height, channels, raw bytes, maps).
fn batch_and_maps() -> impl Strategy<Value = (usize, usize, usize, usize, Vec<u8>, Vec<f32>)> {
    (
        1..4usize,
        1..10usize,
        1..10usize,
        prop::sample::select(vec![1usize, 3]),
    )
        .prop_flat_map(|(b, w, h, c)| {
            (
                Just(b),
                Just(w),
                Just(h),
                Just(c),
                prop::collection::vec(1..=255u8, b * w * h * c),
                map_values(b * w * h),
            )
        })
}

fn masked(
    raw: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    map: &[f32],
) -> (Vec<u8>, MaskStats) {
    let mut raw = raw.to_vec();
    let stats = mask_image(&mut raw, width, height, channels, map);
    (raw, stats)
}

fn maps_tensor(maps: &[f32], batch: usize, height: usize, width: usize) -> Tensor<3> {
    Tensor::from_data(
        TensorData::new(maps.to_vec(), [batch, height, width]),
        &Device::flex(),
    )
}

fn images_tensor(raw: &[u8], shape: [usize; 4]) -> Tensor<4, Int> {
    let values: Vec<i64> = raw.iter().map(|&v| i64::from(v)).collect();
    Tensor::from_data(TensorData::new(values, shape), &Device::flex())
}

fn bytes(tensor: Tensor<4, Int>) -> Vec<u8> {
    let values = tensor.try_to_vec_as::<i64>().expect("readable tensor");
    values.into_iter().map(|v| v as u8).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn slice_path_zeroes_exactly_the_pixels_above_the_threshold(
        (width, height, channels, raw, map) in image_and_map()
    ) {
        let (out, stats) = masked(&raw, width, height, channels, &map);
        let values: Vec<f64> = map.iter().map(|&v| f64::from(v)).collect();
        prop_assert!((f64::from(stats.threshold) - reference::mask_threshold(&values)).abs() < 1e-6);
        let mut hidden = 0;
        for ((before, after), &value) in raw.chunks(channels).zip(out.chunks(channels)).zip(&map) {
            if value > stats.threshold {
                prop_assert!(after.iter().all(|&v| v == 0));
                hidden += 1;
            } else {
                prop_assert_eq!(before, after);
            }
        }
        prop_assert_eq!(stats.masked_pixels, hidden);
    }

    #[test]
    fn batched_tensor_path_equals_the_per_image_slice_path(
        (batch, width, height, channels, raw, maps) in batch_and_maps()
    ) {
        let plane = width * height;
        let masks = batch_masks(maps_tensor(&maps, batch, height, width));
        let thresholds = masks.thresholds.try_to_vec_as::<f32>().expect("readable tensor");
        let hidden = masks.hidden.clone().try_to_vec_as::<bool>().expect("readable tensor");
        let out = bytes(mask_images(
            images_tensor(&raw, [batch, height, width, channels]),
            masks.hidden.clone(),
            ChannelLayout::Last,
        ));
        for b in 0..batch {
            let map = &maps[b * plane..(b + 1) * plane];
            let raw_image = &raw[b * plane * channels..(b + 1) * plane * channels];
            let (expected, stats) = masked(raw_image, width, height, channels, map);
            prop_assert!((thresholds[b] - stats.threshold).abs() < 1e-5);
            for (p, &value) in map.iter().enumerate() {
                // Pixels within rounding of the threshold may fall either way.
                if (value - stats.threshold).abs() < 1e-5 {
                    continue;
                }
                prop_assert_eq!(hidden[b * plane + p], value > stats.threshold);
                let at = (b * plane + p) * channels;
                prop_assert_eq!(&out[at..at + channels], &expected[p * channels..(p + 1) * channels]);
            }
        }
    }

    #[test]
    fn channels_first_and_last_mask_alike(
        (batch, width, height, channels, raw, maps) in batch_and_maps()
    ) {
        let hidden = batch_masks(maps_tensor(&maps, batch, height, width)).hidden;
        let last = mask_images(images_tensor(&raw, [batch, height, width, channels]), hidden.clone(), ChannelLayout::Last);
        let first = mask_images(
            images_tensor(&raw, [batch, height, width, channels]).permute([0, 3, 1, 2]),
            hidden,
            ChannelLayout::First,
        );
        prop_assert_eq!(bytes(first.permute([0, 2, 3, 1])), bytes(last));
    }
}

/// Thresholds and masked pixel counts of both paths for one `width x height` map.
fn both_paths(map: &[f32], width: usize, height: usize) -> (MaskStats, f32, usize) {
    let (_, stats) = masked(&vec![9; map.len() * 3], width, height, 3, map);
    let masks = batch_masks(maps_tensor(map, 1, height, width));
    let threshold = masks
        .thresholds
        .try_to_vec_as::<f32>()
        .expect("readable tensor")[0];
    let hidden = masks
        .hidden
        .try_to_vec_as::<bool>()
        .expect("readable tensor");
    (stats, threshold, hidden.iter().filter(|&&h| h).count())
}

#[test]
fn maps_without_positive_values_mask_nothing() {
    for map in [
        vec![0.0f32; 15],
        vec![-0.5; 15],
        vec![
            0.0, -1.0, 0.0, -2.0, 0.0, 0.0, 0.0, -0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -3.0,
        ],
    ] {
        let (stats, threshold, hidden) = both_paths(&map, 5, 3);
        assert_eq!(
            stats,
            MaskStats {
                threshold: 0.0,
                masked_pixels: 0
            }
        );
        assert_eq!((threshold, hidden), (0.0, 0));
    }
}

#[test]
fn constant_maps_mask_nothing() {
    for value in [0.3f32, 0.7, 1.0, 1e-6] {
        let (stats, threshold, hidden) = both_paths(&[value; 7 * 5], 7, 5);
        assert_eq!(stats.masked_pixels, 0);
        assert_eq!(hidden, 0);
        assert!((threshold - value).abs() < 1e-6 && (stats.threshold - value).abs() < 1e-6);
    }
}

#[test]
fn a_single_pixel_image_is_never_masked() {
    for value in [0.0f32, 0.4, 1.0] {
        let (stats, _, hidden) = both_paths(&[value], 1, 1);
        assert_eq!((stats.masked_pixels, hidden), (0, 0));
    }
}

#[test]
fn one_hot_pixel_among_faint_ones_is_the_only_one_masked() {
    let (width, height) = (5, 3);
    let mut map = vec![0.1f32; width * height];
    map[7] = 1.0;
    let raw: Vec<u8> = (1..=(width * height * 3) as u8).collect();
    let (out, stats) = masked(&raw, width, height, 3, &map);
    assert_eq!(stats.masked_pixels, 1);
    assert_eq!(&out[21..24], &[0, 0, 0]);
    assert_eq!(&out[..21], &raw[..21]);
    assert_eq!(&out[24..], &raw[24..]);
    let (_, _, hidden) = both_paths(&map, width, height);
    assert_eq!(hidden, 1);
}

#[test]
fn a_lone_positive_pixel_is_its_own_threshold_and_stays() {
    // The only positive value is the mean of the positives, with std 0: `map > t` is false.
    let mut map = vec![0.0f32; 12];
    map[5] = 1.0;
    let (stats, threshold, hidden) = both_paths(&map, 4, 3);
    assert_eq!(
        stats,
        MaskStats {
            threshold: 1.0,
            masked_pixels: 0
        }
    );
    assert_eq!((threshold, hidden), (1.0, 0));
}

#[test]
fn float_images_channels_first_are_masked_too() {
    let hidden = Tensor::<3, Bool>::from_data(
        TensorData::new(vec![true, false, false, true], [1, 2, 2]),
        &Device::flex(),
    );
    let images = Tensor::<4>::from_data(
        TensorData::new((1..=8).map(|v| v as f32).collect::<Vec<_>>(), [1, 2, 2, 2]),
        &Device::flex(),
    );
    let out = mask_images(images, hidden, ChannelLayout::First)
        .try_to_vec_as::<f32>()
        .expect("readable tensor");
    assert_eq!(out, vec![0.0, 2.0, 3.0, 0.0, 0.0, 6.0, 7.0, 0.0]);
}
