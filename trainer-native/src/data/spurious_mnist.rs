//! Spurious MNIST from the MNIST files: the sets themselves are built by
//! [`masktune::data::spurious_mnist`], which the page's Lab runs too.

use std::path::Path;

pub use masktune::data::spurious_mnist::{RED, SpuriousConfig, SpuriousMnist, build};

use super::{Result, mnist};

/// Loads MNIST from `dir` (validation holdout seeded by `config.seed`) and builds the sets.
pub fn load(dir: &Path, config: &SpuriousConfig) -> Result<SpuriousMnist> {
    Ok(build(&mnist::load(dir, config.seed)?, config))
}
