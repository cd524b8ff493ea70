//! A Burn backend extension for the models' bias-free convolutions, training-mode batch norms
//! and tiled max pools, and for batch norms (+ ReLU) at inference time. By default each
//! operation is the backend's own; on the CPU (Flex, f32) they are [`super::conv`],
//! [`super::batch_norm`], [`super::max_pool`] and [`super::channel_affine`]. `Autodiff` records
//! the training operations as one operation each whose backward pass calls the extension's
//! gradients, so training on the CPU uses them both ways.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, IntDType, Shape, TensorData};

use super::batch_norm::{self, NormShape};
use super::channel_affine;
use super::conv;
use super::im2col::ConvGeometry;
use super::max_pool::{self, PoolShape};

#[backend_extension(Flex, Autodiff)]
pub trait LayerBackend: Backend {
    /// A 2D convolution without bias.
    fn conv2d_without_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options)
    }

    /// A batch norm with running statistics (evaluation mode) over dimension 1: `x * scale[c] +
    /// shift[c]` with `scale = gamma / sqrt(variance + epsilon)` and `shift = beta - mean *
    /// scale`, clamped at zero when `relu`.
    fn batch_norm_inference(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        batch_norm_inference_by_ops::<Self>(x, [gamma, beta, mean, variance], epsilon, relu)
    }

    /// `dL/dx` of [`LayerBackend::conv2d_without_bias`].
    fn conv2d_input_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, output_grad, options)
    }

    /// `dL/dweight` of [`LayerBackend::conv2d_without_bias`].
    fn conv2d_weight_gradient(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, output_grad, options)
    }

    /// Batch norm with the batch's statistics: (output, mean, biased variance), the statistics
    /// per channel.
    fn batch_norm_with_batch_statistics(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let result = Self::batch_norm_train(x, gamma, beta, epsilon);
        (result.output, result.mean, result.variance)
    }

    /// The gradients (x, gamma, beta) of
    /// [`LayerBackend::batch_norm_with_batch_statistics`].
    fn batch_norm_with_batch_statistics_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let grads = Self::batch_norm_train_backward(x, gamma, mean, variance, epsilon, output_grad);
        (grads.x_grad, grads.gamma_grad, grads.beta_grad)
    }

    /// Max pooling by `kernel`-sized windows that tile the input (stride = kernel, no padding or
    /// dilation, rounding down).
    fn max_pool2d_tiled(x: FloatTensor<Self>, kernel: [usize; 2]) -> FloatTensor<Self> {
        Self::max_pool2d(x, kernel, kernel, [0, 0], [1, 1], false)
    }

    /// `dL/dx` of [`LayerBackend::max_pool2d_tiled`].
    fn max_pool2d_tiled_backward(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        output_grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        tiled_max_pool_backward_by_indices::<Self>(x, kernel, output_grad)
    }
}

/// [`LayerBackend::batch_norm_inference`] from the backend's own operations; `statistics` are
/// gamma, beta, mean and variance.
fn batch_norm_inference_by_ops<B: Backend>(
    x: FloatTensor<B>,
    statistics: [FloatTensor<B>; 4],
    epsilon: f64,
    relu: bool,
) -> FloatTensor<B> {
    let shape = x.shape();
    let per_channel = |values: FloatTensor<B>| {
        let mut dims = vec![1; shape.num_dims()];
        dims[1] = shape[1];
        B::float_reshape(values, Shape::from(dims))
    };
    let [gamma, beta, mean, variance] = statistics;
    let scale = B::float_div(
        gamma,
        B::float_sqrt(B::float_add_scalar(variance, epsilon.into())),
    );
    let shift = B::float_sub(beta, B::float_mul(mean, scale.clone()));
    let y = B::float_add(B::float_mul(x, per_channel(scale)), per_channel(shift));
    if relu { B::relu(y) } else { y }
}

/// Burn's max pool backward for [`LayerBackend::max_pool2d_tiled`], through the index of each
/// window's maximum.
fn tiled_max_pool_backward_by_indices<B: Backend>(
    x: FloatTensor<B>,
    kernel: [usize; 2],
    output_grad: FloatTensor<B>,
) -> FloatTensor<B> {
    let (padding, dilation) = ([0, 0], [1, 1]);
    let pooled = B::max_pool2d_with_indices(
        x.clone(),
        kernel,
        kernel,
        padding,
        dilation,
        false,
        IntDType::I64,
    );
    B::max_pool2d_with_indices_backward(
        x,
        kernel,
        kernel,
        padding,
        dilation,
        false,
        output_grad,
        pooled.indices,
    )
    .x_grad
}

/// The geometry of a convolution `conv` handles (f32, ungrouped), or `None`.
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

/// The layout of a batch norm input `batch_norm` handles (f32, at least `[batch, channels]`).
fn norm_shape(x: &FlexTensor) -> Option<NormShape> {
    let dims = x.shape();
    (x.dtype() == DType::F32 && dims.num_dims() >= 2).then(|| NormShape {
        batch: dims[0],
        channels: dims[1],
        spatial: dims.iter().skip(2).product(),
    })
}

/// The layout of a pooling input `max_pool` handles (f32, `[batch, channels, h, w]`).
fn pool_shape(x: &FlexTensor, kernel: [usize; 2]) -> Option<PoolShape> {
    let [batch, channels, height, width] = x.shape().dims();
    (x.dtype() == DType::F32).then_some(PoolShape {
        planes: batch * channels,
        input: [height, width],
        kernel,
    })
}

/// `values` of `shape` as a Flex tensor.
fn flex_tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

/// The values of a contiguous f32 tensor (`cpu_geometry` and `norm_shape` checked the type).
fn values(tensor: &FlexTensor) -> &[f32] {
    tensor.as_slice().expect("a contiguous f32 tensor")
}

impl LayerBackend for Flex {
    fn conv2d_without_bias(
        x: FlexTensor,
        weight: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        let Some(g) = cpu_geometry(&x, &weight, &options) else {
            return Self::conv2d(x, weight, None, options);
        };
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let y = conv::forward(values(&x), values(&weight), &g);
        flex_tensor(y, [g.batch, g.channels_out, g.output[0], g.output[1]])
    }

    fn batch_norm_inference(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> FlexTensor {
        let statistics = [gamma, beta, mean, variance];
        let statistics_f32 = statistics.iter().all(|t| t.dtype() == DType::F32);
        let Some(shape) = norm_shape(&x).filter(|_| statistics_f32) else {
            return batch_norm_inference_by_ops::<Self>(x, statistics, epsilon, relu);
        };
        let [gamma, beta, mean, variance] = statistics.map(|t| t.to_contiguous());
        let (scale, shift) =
            channel_affine::from_batch_norm([&gamma, &beta, &mean, &variance].map(values), epsilon);
        // In place when `x` is the only owner of its values (a layer's fresh output).
        let mut y = x.to_contiguous();
        drop(x);
        channel_affine::apply(y.storage_mut(), &scale, &shift, shape.spatial, relu);
        y
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
        let dx = conv::input_gradient(values(&weight), values(&output_grad), &g);
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
        let dw = conv::weight_gradient(values(&x), values(&output_grad), &g);
        flex_tensor(dw, weight.shape())
    }

    fn batch_norm_with_batch_statistics(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let Some(shape) = norm_shape(&x) else {
            let result = Self::batch_norm_train(x, gamma, beta, epsilon);
            return (result.output, result.mean, result.variance);
        };
        let (x, gamma, beta) = (
            x.to_contiguous(),
            gamma.to_contiguous(),
            beta.to_contiguous(),
        );
        let result =
            batch_norm::forward(values(&x), values(&gamma), values(&beta), epsilon, &shape);
        (
            flex_tensor(result.output, x.shape()),
            flex_tensor(result.mean, [shape.channels]),
            flex_tensor(result.variance, [shape.channels]),
        )
    }

    fn batch_norm_with_batch_statistics_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        output_grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let Some(shape) = norm_shape(&x) else {
            let grads =
                Self::batch_norm_train_backward(x, gamma, mean, variance, epsilon, output_grad);
            return (grads.x_grad, grads.gamma_grad, grads.beta_grad);
        };
        let [x, gamma, mean, variance, output_grad] =
            [x, gamma, mean, variance, output_grad].map(|t| t.to_contiguous());
        let grads = batch_norm::backward(
            values(&x),
            values(&gamma),
            values(&mean),
            values(&variance),
            epsilon,
            values(&output_grad),
            &shape,
        );
        (
            flex_tensor(grads.x, x.shape()),
            flex_tensor(grads.gamma, [shape.channels]),
            flex_tensor(grads.beta, [shape.channels]),
        )
    }

    fn max_pool2d_tiled(x: FlexTensor, kernel: [usize; 2]) -> FlexTensor {
        let Some(shape) = pool_shape(&x, kernel) else {
            return Self::max_pool2d(x, kernel, kernel, [0, 0], [1, 1], false);
        };
        let x = x.to_contiguous();
        let [out_h, out_w] = shape.output();
        let [batch, channels, _, _] = x.shape().dims();
        flex_tensor(
            max_pool::forward(values(&x), &shape),
            [batch, channels, out_h, out_w],
        )
    }

    fn max_pool2d_tiled_backward(
        x: FlexTensor,
        kernel: [usize; 2],
        output_grad: FlexTensor,
    ) -> FlexTensor {
        let Some(shape) = pool_shape(&x, kernel) else {
            return tiled_max_pool_backward_by_indices::<Self>(x, kernel, output_grad);
        };
        let (x, output_grad) = (x.to_contiguous(), output_grad.to_contiguous());
        let dx = max_pool::backward(values(&x), values(&output_grad), &shape);
        flex_tensor(dx, x.shape())
    }
}

/// The convolution's backward step, through the extension's gradients.
#[derive(Debug)]
struct Conv2dWithoutBias;

impl<B: Backend + LayerBackend> Backward<B, 2> for Conv2dWithoutBias {
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

impl<B: Backend + LayerBackend, C: CheckpointStrategy> LayerBackend for Autodiff<B, C> {
    fn conv2d_without_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let prep = Conv2dWithoutBias
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful();
        // The inner tensors are shared handles: cloning them keeps `x` and `weight` whole
        // for the checkpoints below.
        let y = B::conv2d_without_bias(
            x.primitive().clone(),
            weight.primitive().clone(),
            options.clone(),
        );
        match prep {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                prep.finish((x_state, weight_state, options), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn max_pool2d_tiled(x: FloatTensor<Self>, kernel: [usize; 2]) -> FloatTensor<Self> {
        let prep = MaxPoolTiled
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful();
        let y = B::max_pool2d_tiled(x.primitive().clone(), kernel);
        match prep {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                prep.finish((x_state, kernel), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn batch_norm_with_batch_statistics(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let prep = BatchNormWithBatchStatistics
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (y, mean, variance) = B::batch_norm_with_batch_statistics(
            x.primitive().clone(),
            gamma.primitive().clone(),
            beta.into_primitive(),
            epsilon,
        );
        let y = match prep {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let state = (
                    x_state,
                    gamma_state,
                    mean.clone(),
                    variance.clone(),
                    epsilon,
                );
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (
            y,
            FloatTensor::<Self>::new(mean),
            FloatTensor::<Self>::new(variance),
        )
    }
}

/// The tiled max pool's backward step, through the extension's gradient.
#[derive(Debug)]
struct MaxPoolTiled;

impl<B: Backend + LayerBackend> Backward<B, 1> for MaxPoolTiled {
    type State = (NodeId, [usize; 2]);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, kernel) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::max_pool2d_tiled_backward(x, kernel, grad));
        }
    }
}

/// The batch norm's backward step, through the extension's gradient. The batch statistics come
/// along as the forward pass computed them.
#[derive(Debug)]
struct BatchNormWithBatchStatistics;

impl<B: Backend + LayerBackend> Backward<B, 3> for BatchNormWithBatchStatistics {
    type State = (NodeId, NodeId, FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, gamma_state, mean, variance, epsilon) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let gamma = checkpointer.retrieve_node_output::<FloatTensor<B>>(gamma_state);
        let (dx, dgamma, dbeta) =
            B::batch_norm_with_batch_statistics_backward(x, gamma, mean, variance, epsilon, grad);
        for (node, gradient) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, gradient);
            }
        }
    }
}
