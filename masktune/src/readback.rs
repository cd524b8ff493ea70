//! Reading tensors back to the host, asynchronously: WebGPU in a page cannot block on a read.

use burn::prelude::*;
use burn::tensor::Element;
use burn::tensor::kind::Basic;

/// The values of a tensor of any kind, as `E` (e.g. `f32` for floats, `i64` for class indices).
pub async fn read<const D: usize, K: Basic, E: Element>(
    tensor: Tensor<D, K>,
) -> Result<Vec<E>, String> {
    tensor
        .into_data_async()
        .await
        .map_err(|e| format!("reading a result from the device failed: {e:?}"))?
        .convert::<E>()
        .try_into_vec::<E>()
        .map_err(|e| format!("unexpected result type: {e:?}"))
}
