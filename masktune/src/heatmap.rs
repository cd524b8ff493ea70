//! Colouring a saliency map for display (the page and the trainer's example grids): the jet
//! palette pytorch-grad-cam's overlays use, so a researcher reads our heatmaps as they read theirs.
//! Like pytorch-grad-cam (`np.uint8(255 * mask)` before its colour map), a map is coloured from
//! 256 levels; the page keeps those levels, a byte a pixel, to draw an answer's heatmap later.

/// A map value in [0, 1] as one of 256 levels, truncated as pytorch-grad-cam's `np.uint8` does.
pub fn level(value: f32) -> u8 {
    // `as` saturates (and takes NaN to 0), so out-of-range values land on the ends.
    (value * 255.0) as u8
}

/// The levels of a whole map.
pub fn levels(map: &[f32]) -> Vec<u8> {
    map.iter().map(|&value| level(value)).collect()
}

/// One jet colour for a `level` of 256: blue (ignored) through green to red (looked at).
pub fn jet(level: u8) -> [u8; 3] {
    let v = f32::from(level) / 255.0;
    let channel =
        |centre: f32| ((1.5 - (4.0 * v - centre).abs()).clamp(0.0, 1.0) * 255.0).round() as u8;
    [channel(3.0), channel(2.0), channel(1.0)]
}

/// An opaque RGBA image of a map's `levels`; the page blends it over the photo with CSS opacity.
pub fn heatmap_rgba(levels: &[u8]) -> Vec<u8> {
    levels
        .iter()
        .flat_map(|&level| {
            let [r, g, b] = jet(level);
            [r, g, b, 255]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_truncate_as_numpy_and_keep_to_the_ends() {
        assert_eq!(levels(&[0.0, 0.5, 0.999, 1.0]), vec![0, 127, 254, 255]);
        assert_eq!(levels(&[-3.0, 7.0, f32::NAN]), vec![0, 255, 0]);
    }

    #[test]
    fn jet_runs_from_blue_to_red() {
        assert_eq!(jet(0), [0, 0, 128]);
        assert_eq!(jet(level(0.5)), [126, 255, 130]);
        assert_eq!(jet(255), [128, 0, 0]);
    }

    #[test]
    fn heatmap_has_one_opaque_pixel_per_level() {
        let rgba = heatmap_rgba(&[0, 255]);
        assert_eq!(rgba, vec![0, 0, 128, 255, 128, 0, 0, 255]);
    }
}
