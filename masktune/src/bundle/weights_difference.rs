//! Weights stored as their byte-wise difference (wrapping) from a base bundle's weights. A
//! MaskTune model is its ERM model fine-tuned for one epoch: with int8 weights most of its bytes
//! equal the ERM model's, so the difference is mostly zeros and compresses to a fraction (the
//! shipped CelebA MaskTune bundle: 549 kB gzipped, 54 kB as a difference). Byte-wise,
//! so it needs nothing of the weights' format but an equal length, and restores them exactly.

use super::BundleError;

/// `weights - base`, byte by byte; both must be the same length (same architecture, same weight
/// precision).
pub fn subtract(weights: &[u8], base: &[u8]) -> Result<Vec<u8>, BundleError> {
    if weights.len() != base.len() {
        return Err(BundleError::CannotStoreDifference(format!(
            "its weights take {} bytes and the base bundle's {}: the base must be the same \
             architecture with the same weight precision (the same run's ERM bundle)",
            weights.len(),
            base.len()
        )));
    }
    Ok(weights
        .iter()
        .zip(base)
        .map(|(w, b)| w.wrapping_sub(*b))
        .collect())
}

/// `difference + base`, byte by byte: the weights [`subtract`] was given. `None` when the
/// lengths differ (not the base it was stored against).
pub fn add(difference: &[u8], base: &[u8]) -> Option<Vec<u8>> {
    (difference.len() == base.len()).then(|| {
        difference
            .iter()
            .zip(base)
            .map(|(d, b)| d.wrapping_add(*b))
            .collect()
    })
}
