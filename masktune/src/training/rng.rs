//! The training RNG (data order and augmentation) and its saved state, so that a resumed run
//! draws exactly what the uninterrupted run would have drawn.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// ChaCha stream of the training RNG; the data choices use streams 1-4 of the same seed
/// ([`crate::data::stream`]).
const TRAIN_STREAM: u64 = 100;

pub fn training_rng(seed: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(TRAIN_STREAM);
    rng
}

/// A ChaCha8 generator's full state: key, stream and position (as decimal/hex strings, since
/// JSON numbers cannot hold 128 bits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    pub key: String,
    pub stream: u64,
    pub word_pos: String,
}

impl RngState {
    pub fn capture(rng: &ChaCha8Rng) -> Self {
        RngState {
            key: rng.get_seed().iter().map(|b| format!("{b:02x}")).collect(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    pub fn restore(&self) -> Result<ChaCha8Rng, String> {
        let bytes: Vec<u8> = (0..self.key.len())
            .step_by(2)
            .map(|i| {
                self.key
                    .get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<_>>()
            .ok_or("the RNG key is not hex")?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the RNG key is not 32 bytes")?;
        let word_pos: u128 = self
            .word_pos
            .parse()
            .map_err(|_| "the RNG position is not a number")?;
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(self.stream);
        rng.set_word_pos(word_pos);
        Ok(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn restored_rng_continues_the_same_sequence() {
        let mut rng = training_rng(7);
        let _: u64 = rng.random();
        let state = RngState::capture(&rng);
        let json = serde_json::to_string(&state).unwrap();
        let mut restored = serde_json::from_str::<RngState>(&json)
            .unwrap()
            .restore()
            .unwrap();
        let a: Vec<u32> = (0..5).map(|_| rng.random()).collect();
        let b: Vec<u32> = (0..5).map(|_| restored.random()).collect();
        assert_eq!(a, b);
    }
}
