//! The optimizer and its learning-rate schedule, as settings that are saved with every checkpoint.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// SGD with (PyTorch-style, undampened) momentum and L2 weight decay.
    Sgd,
    /// Adam with L2 weight decay (`momentum` unused).
    Adam,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerSettings {
    pub kind: OptimizerKind,
    /// Learning rate of the first epoch.
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// Epochs (0-based) from which the learning rate is multiplied by `gamma` once more
    /// (PyTorch's `MultiStepLR`, as the authors use).
    pub milestones: Vec<usize>,
    pub gamma: f64,
}

impl OptimizerSettings {
    /// A fresh optimizer (no state yet).
    pub fn build(&self) -> ModuleOptimizer {
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.kind {
            OptimizerKind::Sgd => {
                // Burn's default dampening is 0.1; PyTorch's (the authors') is 0.
                let momentum = (self.momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(self.momentum)
                        .with_dampening(0.0)
                });
                SgdConfig::new()
                    .with_momentum(momentum)
                    .with_weight_decay(decay)
                    .init()
            }
            // PyTorch's epsilon (Burn's default is 1e-5).
            OptimizerKind::Adam => AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(decay)
                .init(),
        }
    }

    /// The learning rate of (0-based) epoch `epoch`.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        let steps = self.milestones.iter().filter(|&&m| m <= epoch).count();
        self.lr * self.gamma.powi(steps as i32)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!(
                "learning rate {} is not a positive number",
                self.lr
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(format!("momentum {} is not in [0, 1)", self.momentum));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(format!(
                "weight decay {} is negative or not a number",
                self.weight_decay
            ));
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return Err(format!(
                "schedule gamma {} is not a positive number",
                self.gamma
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multistep_schedule_multiplies_at_each_milestone() {
        let s = OptimizerSettings {
            kind: OptimizerKind::Sgd,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 1e-4,
            milestones: vec![2, 4],
            gamma: 0.5,
        };
        let lrs: Vec<f64> = (0..6).map(|e| s.lr_at(e)).collect();
        assert_eq!(lrs, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
    }
}
