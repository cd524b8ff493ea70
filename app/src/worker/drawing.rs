//! An answer's three pictures, drawn when the page asks for them (`Request::Draw`): from the
//! image's input, kept for the images just answered or decoded again from the file, and the
//! `Saliency` the page kept with the answer.

use std::collections::VecDeque;

use masktune::heatmap::{heatmap_rgba, levels};
use masktune::inference::ImageAnalysis;

use super::canvas;
use crate::protocol::{Pictures, Saliency};

/// What the page keeps of `analysis`, whose input was `input_rgb`, to have its pictures drawn.
pub fn saliency(input_rgb: &[u8], analysis: &ImageAnalysis) -> Saliency {
    let changed = input_rgb
        .chunks_exact(3)
        .zip(analysis.masked_rgb.chunks_exact(3))
        .map(|(input, masked)| input != masked);
    Saliency {
        map_levels: levels(&analysis.map),
        changed: packed_bits(changed),
    }
}

/// The input, the heatmap and the masked input, `side`×`side` PNG files under object URLs.
pub async fn pictures(
    side: usize,
    input_rgb: &[u8],
    saliency: &Saliency,
) -> Result<Pictures, String> {
    let expected = side * side;
    if input_rgb.len() != expected * 3 || saliency.map_levels.len() != expected {
        return Err(format!(
            "its pictures could not be drawn: a {side}×{side} input does not match its map ({} levels)",
            saliency.map_levels.len()
        ));
    }
    canvas::png_pictures(
        side,
        input_rgb,
        &heatmap_rgba(&saliency.map_levels),
        &masked_rgb(input_rgb, &saliency.changed),
    )
    .await
    .map_err(|error| format!("its pictures could not be drawn: {error:?}"))
}

/// `flags` a bit each, eight to a byte, the first flag in the lowest bit.
fn packed_bits(flags: impl Iterator<Item = bool>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, flag) in flags.enumerate() {
        if i % 8 == 0 {
            bytes.push(0);
        }
        if flag {
            *bytes.last_mut().expect("pushed above") |= 1 << (i % 8);
        }
    }
    bytes
}

/// `input_rgb` with the pixels whose bit is set in `changed` black, as masking left them.
fn masked_rgb(input_rgb: &[u8], changed: &[u8]) -> Vec<u8> {
    let mut masked = input_rgb.to_vec();
    for (i, pixel) in masked.chunks_exact_mut(3).enumerate() {
        if changed
            .get(i / 8)
            .is_some_and(|byte| byte >> (i % 8) & 1 == 1)
        {
            pixel.fill(0);
        }
    }
    masked
}

/// How many answered images' inputs the worker keeps: more than the page's first cards (48) and
/// a WebGPU batch (8), so that the cards shown as a folder's answers come in are drawn without
/// decoding their files a second time.
const KEPT_INPUTS: usize = 64;

/// The inputs of the images answered last, by image id.
#[derive(Default)]
pub struct RecentInputs(VecDeque<(u64, Vec<u8>)>);

impl RecentInputs {
    pub fn keep(&mut self, id: u64, input_rgb: Vec<u8>) {
        if self.0.len() == KEPT_INPUTS {
            self.0.pop_front();
        }
        self.0.push_back((id, input_rgb));
    }

    pub fn take(&mut self, id: u64) -> Option<Vec<u8>> {
        let index = self.0.iter().position(|(kept, _)| *kept == id)?;
        self.0.remove(index).map(|(_, input)| input)
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use masktune::masking::MaskStats;
    use masktune::selective::combined_confidence;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    /// A 3×3 analysis whose mask hid pixels 0, 4 and 8 (the diagonal); pixel 4 was black.
    fn diagonal_analysis(input: &[u8]) -> ImageAnalysis {
        let mut masked = input.to_vec();
        for pixel in [0, 4, 8] {
            masked[pixel * 3..pixel * 3 + 3].fill(0);
        }
        ImageAnalysis {
            erm_probabilities: vec![0.5, 0.5],
            map: vec![1.0, 0.2, 0.0, 0.3, 0.9, 0.1, 0.0, 0.5, 0.95],
            masked_rgb: masked,
            mask: MaskStats {
                threshold: 0.8,
                masked_pixels: 3,
            },
            masktune_probabilities: vec![0.5, 0.5],
            combined: combined_confidence(&[0.5, 0.5], &[0.5, 0.5]).unwrap(),
        }
    }

    #[wasm_bindgen_test]
    fn the_saliency_gives_back_the_masked_input_and_the_maps_levels() {
        let mut input: Vec<u8> = (1..=27).collect();
        input[12..15].fill(0);
        let analysis = diagonal_analysis(&input);
        let saliency = saliency(&input, &analysis);
        // The black pixel 4 needs no bit: it looks the same masked.
        assert_eq!(saliency.changed, vec![0b0000_0001, 0b0000_0001]);
        assert_eq!(saliency.map_levels, levels(&analysis.map));
        assert_eq!(masked_rgb(&input, &saliency.changed), analysis.masked_rgb);
    }

    #[wasm_bindgen_test]
    fn bits_pack_eight_to_a_byte_lowest_first() {
        let flags = [
            true, false, false, true, false, false, false, false, false, true,
        ];
        assert_eq!(
            packed_bits(flags.into_iter()),
            vec![0b0000_1001, 0b0000_0010]
        );
    }

    #[wasm_bindgen_test]
    async fn a_saliency_of_another_size_is_refused() {
        let saliency = Saliency {
            map_levels: vec![0; 4],
            changed: vec![0],
        };
        let error = pictures(3, &[0; 27], &saliency).await.unwrap_err();
        assert!(error.contains("3×3"), "{error}");
    }

    #[wasm_bindgen_test]
    fn the_recent_inputs_keep_the_last_ones() {
        let mut recent = RecentInputs::default();
        for id in 0..KEPT_INPUTS as u64 + 2 {
            recent.keep(id, vec![id as u8]);
        }
        assert_eq!(recent.take(1), None);
        assert_eq!(recent.take(2), Some(vec![2]));
        assert_eq!(recent.take(2), None);
        assert_eq!(
            recent.take(KEPT_INPUTS as u64 + 1),
            Some(vec![KEPT_INPUTS as u8 + 1])
        );
    }
}
