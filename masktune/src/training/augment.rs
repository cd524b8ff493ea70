//! The "normal augmentation", applied to raw u8 HWC images before preprocessing, drawing from the
//! training RNG so that a seed (and a resumed run) gives the same batches.

use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Augmentation {
    None,
    /// Zero-pad by `padding` pixels on every side, crop back to the original size at a uniform
    /// random offset, then flip horizontally with probability 1/2 (torchvision's
    /// `RandomCrop(size, padding)` + `RandomHorizontalFlip()`).
    CropFlip {
        padding: usize,
    },
}

impl Augmentation {
    /// The "normal augmentation" of the paper's pipelines for photos of `image_size` pixels a
    /// side: padding = side / 8 (4 for 32x32), then crop and flip.
    pub fn crop_flip(image_size: usize) -> Augmentation {
        Augmentation::CropFlip {
            padding: (image_size / 8).max(1),
        }
    }

    /// Augments one `height` x `width` x 3 image in place.
    pub fn apply(self, image: &mut [u8], width: usize, height: usize, rng: &mut impl Rng) {
        match self {
            Augmentation::None => {}
            Augmentation::CropFlip { padding } => {
                let dx = rng.random_range(0..=2 * padding) as isize - padding as isize;
                let dy = rng.random_range(0..=2 * padding) as isize - padding as isize;
                let flip = rng.random_bool(0.5);
                crop_shift_flip(image, width, height, dx, dy, flip);
            }
        }
    }
}

/// Output pixel (x, y) = input pixel (x + dx, y + dy), zero outside the image; mirrored left-right
/// afterwards when `flip`.
fn crop_shift_flip(
    image: &mut [u8],
    width: usize,
    height: usize,
    dx: isize,
    dy: isize,
    flip: bool,
) {
    let source = image.to_vec();
    for y in 0..height {
        for x in 0..width {
            let (sx, sy) = (x as isize + dx, y as isize + dy);
            let out_x = if flip { width - 1 - x } else { x };
            let out = (y * width + out_x) * 3;
            if (0..width as isize).contains(&sx) && (0..height as isize).contains(&sy) {
                let src = (sy as usize * width + sx as usize) * 3;
                image[out..out + 3].copy_from_slice(&source[src..src + 3]);
            } else {
                image[out..out + 3].fill(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A 3x2 image whose pixel (x, y) has all channels = 10 * y + x + 1.
    fn image() -> Vec<u8> {
        (0..2)
            .flat_map(|y| (0..3).flat_map(move |x| [10 * y + x + 1; 3]))
            .collect()
    }

    fn red(image: &[u8]) -> Vec<u8> {
        image.chunks(3).map(|p| p[0]).collect()
    }

    #[test]
    fn shift_pads_with_zeros_and_flip_mirrors() {
        let mut im = image();
        crop_shift_flip(&mut im, 3, 2, 1, 0, false);
        assert_eq!(red(&im), [2, 3, 0, 12, 13, 0]);
        let mut im = image();
        crop_shift_flip(&mut im, 3, 2, 0, -1, true);
        assert_eq!(red(&im), [0, 0, 0, 3, 2, 1]);
    }

    #[test]
    fn no_augmentation_leaves_the_image_alone() {
        let mut im = image();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        Augmentation::None.apply(&mut im, 3, 2, &mut rng);
        assert_eq!(im, image());
    }
}
