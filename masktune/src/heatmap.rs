//! Colouring a saliency map for display (the page and the trainer's example grids): the jet
//! palette pytorch-grad-cam's overlays use, so a researcher reads our heatmaps as they read theirs.

/// One jet colour for `value` in [0, 1]: blue (ignored) through green to red (looked at).
pub fn jet(value: f32) -> [u8; 3] {
    let v = value.clamp(0.0, 1.0);
    let channel =
        |centre: f32| ((1.5 - (4.0 * v - centre).abs()).clamp(0.0, 1.0) * 255.0).round() as u8;
    [channel(3.0), channel(2.0), channel(1.0)]
}

/// An opaque RGBA image of the map; the page blends it over the photo with CSS opacity.
pub fn heatmap_rgba(map: &[f32]) -> Vec<u8> {
    map.iter()
        .flat_map(|&value| {
            let [r, g, b] = jet(value);
            [r, g, b, 255]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jet_runs_from_blue_to_red() {
        assert_eq!(jet(0.0), [0, 0, 128]);
        assert_eq!(jet(0.5), [128, 255, 128]);
        assert_eq!(jet(1.0), [128, 0, 0]);
        assert_eq!(jet(-3.0), jet(0.0));
        assert_eq!(jet(f32::INFINITY), jet(1.0));
    }

    #[test]
    fn heatmap_has_one_opaque_pixel_per_value() {
        let rgba = heatmap_rgba(&[0.0, 1.0]);
        assert_eq!(rgba, vec![0, 0, 128, 255, 128, 0, 0, 255]);
    }
}
