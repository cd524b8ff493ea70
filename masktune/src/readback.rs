//! Reading tensors back to the host, asynchronously: WebGPU in a page cannot block on a read.

use burn::module::{ModuleMapper, ModuleVisitor, Param};
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

/// Every float parameter and buffer (batch-norm statistics) of `module`, in the order modules
/// visit them, as (shape, values) read from its device asynchronously. Read from `valid()`,
/// which first takes in the batch norms' last update (a visit alone would see the one before).
pub async fn parameters<M: Module>(module: &M) -> Result<Vec<(Vec<usize>, Vec<f32>)>, String> {
    struct Collect(Vec<(Vec<usize>, Tensor<1>)>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let tensor = param.val();
            self.0
                .push((tensor.dims().to_vec(), tensor.flatten(0, D - 1)));
        }
    }
    let mut collected = Collect(Vec::new());
    module.valid().visit(&mut collected);
    let mut read_back = Vec::with_capacity(collected.0.len());
    for (shape, flat) in collected.0 {
        read_back.push((shape, read(flat).await?));
    }
    Ok(read_back)
}

/// A copy of `module` in evaluation mode whose float parameters and buffers live on `device`,
/// read from their device asynchronously. `Module::to_device` between backends reads
/// synchronously, which WebGPU in a page cannot do; writing a bundle of a model trained there
/// goes through this copy on the CPU backend. `module` is left as it was (the copy starts from
/// `valid()`, whose batch-norm running statistics are its own, not shared as a clone's are).
pub async fn module_to<M: Module>(module: &M, device: &Device) -> Result<M, String> {
    // The mapper meets the parameters in the order the visitor did.
    struct Replace<'a>(std::vec::IntoIter<(Vec<usize>, Vec<f32>)>, &'a Device);
    impl ModuleMapper for Replace<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (shape, values) = self.0.next().expect("as many parameters as visited");
            let shape: [usize; D] = shape.try_into().expect("the same rank as visited");
            let device = self.1;
            param.map(|_| Tensor::<1>::from_floats(values.as_slice(), device).reshape(shape))
        }
    }
    let valid = module.valid();
    let values = parameters(&valid).await?;
    Ok(valid.map(&mut Replace(values.into_iter(), device)))
}
