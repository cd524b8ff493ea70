//! Reading tensors back to the host, asynchronously: WebGPU in a page cannot block on a read.

use burn::prelude::*;

/// The values of a float tensor.
pub async fn read_floats<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, String> {
    tensor
        .into_data_async()
        .await
        .map_err(|e| format!("reading a result from the device failed: {e:?}"))?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| format!("unexpected result type: {e:?}"))
}

/// The values of an integer tensor.
pub async fn read_ints<const D: usize>(tensor: Tensor<D, Int>) -> Result<Vec<i64>, String> {
    tensor
        .into_data_async()
        .await
        .map_err(|e| format!("reading a result from the device failed: {e:?}"))?
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| format!("unexpected result type: {e:?}"))
}
