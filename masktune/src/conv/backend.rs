//! A Burn backend extension for the models' bias-free convolutions. By default it is the
//! backend's own `conv2d` and gradients; on the CPU (Flex, f32, ungrouped) it is
//! [`super::cpu`]. `Autodiff` records it as one operation whose backward pass calls the
//! extension's two gradients, so training on the CPU uses `cpu` in both directions.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, Shape, TensorData};

use super::cpu;
use super::im2col::ConvGeometry;

#[backend_extension(Flex, Autodiff)]
pub trait ConvBackend: Backend {
    /// A 2D convolution without bias.
    fn conv2d_without_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options)
    }

    /// `dL/dx` of [`ConvBackend::conv2d_without_bias`].
    fn conv2d_input_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, output_grad, options)
    }

    /// `dL/dweight` of [`ConvBackend::conv2d_without_bias`].
    fn conv2d_weight_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, output_grad, options)
    }
}

/// The geometry of a convolution `cpu` handles (f32, ungrouped), or `None`.
fn cpu_geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvOptions<2>,
) -> Option<ConvGeometry> {
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 || options.groups != 1 {
        return None;
    }
    let [batch, channels_in, height, width] = x.shape().dims();
    let [channels_out, _, kernel_h, kernel_w] = weight.shape().dims();
    let output = [0, 1].map(|d| {
        let padded = [height, width][d] + options.padding_begin()[d] + options.padding_end()[d];
        let reach = options.dilation[d] * ([kernel_h, kernel_w][d] - 1) + 1;
        (padded - reach) / options.stride[d] + 1
    });
    Some(ConvGeometry {
        batch,
        channels_in,
        channels_out,
        input: [height, width],
        kernel: [kernel_h, kernel_w],
        output,
        stride: options.stride,
        padding: options.padding_begin(),
        dilation: options.dilation,
    })
}

/// `values` of `shape` as a Flex tensor.
fn flex_tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

/// The values of a contiguous f32 tensor (`cpu_geometry` checked the type).
fn values(tensor: &FlexTensor) -> &[f32] {
    tensor.as_slice().expect("a contiguous f32 tensor")
}

impl ConvBackend for Flex {
    fn conv2d_without_bias(
        x: FlexTensor,
        weight: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        let Some(g) = cpu_geometry(&x, &weight, &options) else {
            return Self::conv2d(x, weight, None, options);
        };
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let y = cpu::forward(values(&x), values(&weight), &g);
        flex_tensor(y, [g.batch, g.channels_out, g.output[0], g.output[1]])
    }

    fn conv2d_input_gradient(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        let Some(g) = cpu_geometry(&x, &weight, &options) else {
            return Self::conv2d_x_backward(x, weight, output_grad, options);
        };
        let (weight, output_grad) = (weight.to_contiguous(), output_grad.to_contiguous());
        let dx = cpu::input_gradient(values(&weight), values(&output_grad), &g);
        flex_tensor(dx, x.shape())
    }

    fn conv2d_weight_gradient(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        let Some(g) = cpu_geometry(&x, &weight, &options) else {
            return Self::conv2d_weight_backward(x, weight, output_grad, options);
        };
        let (x, output_grad) = (x.to_contiguous(), output_grad.to_contiguous());
        let dw = cpu::weight_gradient(values(&x), values(&output_grad), &g);
        flex_tensor(dw, weight.shape())
    }
}

/// The convolution's backward step, through the extension's gradients.
#[derive(Debug)]
struct Conv2dWithoutBias;

impl<B: Backend + ConvBackend> Backward<B, 2> for Conv2dWithoutBias {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        if let Some(node) = node_x {
            let dx =
                B::conv2d_input_gradient(x.clone(), weight.clone(), grad.clone(), options.clone());
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_weight {
            grads.register::<B>(node.id, B::conv2d_weight_gradient(x, weight, grad, options));
        }
    }
}

impl<B: Backend + ConvBackend, C: CheckpointStrategy> ConvBackend for Autodiff<B, C> {
    fn conv2d_without_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let prep = Conv2dWithoutBias
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let (x, weight) = (x.into_primitive(), weight.into_primitive());
                let y = B::conv2d_without_bias(x, weight, options.clone());
                prep.finish((x_state, weight_state, options), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d_without_bias(
                x.into_primitive(),
                weight.into_primitive(),
                options,
            )),
        }
    }
}
