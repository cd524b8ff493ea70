//! A model's weights as a PyTorch state dict, and a state dict's weights in a model.
//!
//! Besides the names ([`names`](super::names)), two layouts differ: a Linear weight is
//! `[out, in]` in PyTorch and `[in, out]` in Burn, and a batch norm's `gamma`/`beta` are
//! PyTorch's `weight`/`bias`, with a `num_batches_tracked` counter beside them. PyTorch
//! convolutions followed by a batch norm may have a bias, ours never do: a bias `b` before a
//! batch norm with running mean `m` computes the same as no bias and mean `m - b` (in training
//! too, where the batch mean moves by `b`), so reading folds it in and writing gives zeros.

use std::collections::{BTreeMap, BTreeSet};

use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{ModuleSnapshot, bridge};
use burn::tensor::{DType, TensorData};
use thiserror::Error;

use super::names::{classifier_layer, torch_convs_have_bias, torch_layer};
use crate::models::{AnyModel, Architecture};
use crate::problem_list::join_first;

/// Tensors by their PyTorch key, as `torch.save(model.state_dict())` holds them.
pub type StateDict = BTreeMap<String, TensorData>;

/// What to do with a state dict's classifier (the last layer, whose shape is the number of
/// classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classifier {
    /// Load it like every other layer: the state dict is this very model.
    Load,
    /// Load it if it fits; where it is missing or has another number of classes (ImageNet's
    /// 1000, say) keep the model's fresh one: the state dict initialises a new task.
    KeepFreshIfItDiffers,
}

/// How a state dict went into a model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// A prefix every key carried and that was taken off (`module.` of `nn.DataParallel`,
    /// `model.` of a wrapper module).
    pub stripped_prefix: Option<String>,
    /// Keys of the state dict that no layer of the model uses (e.g. torchvision VGG's
    /// three-layer classifier).
    pub unused: Vec<String>,
    /// Why the classifier kept its fresh weights, if it did.
    pub fresh_classifier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PytorchError {
    #[error("the weights do not fit {architecture}: {problems}")]
    Mismatch {
        architecture: String,
        problems: String,
    },
    #[error("'{key}' holds {dtype:?} values; the weights must be floating point")]
    NotFloat { key: String, dtype: DType },
    #[error("cannot read the model's weights: {0}")]
    Weights(String),
}

/// The PyTorch key and layout of one of our tensors.
struct TorchParam {
    /// Our tensor's path (`body.convs.0.bn.gamma`).
    ours: String,
    /// Our layer's path (`body.convs.0.bn`) and its PyTorch name (`features.1`).
    layer: String,
    torch_layer: String,
    /// The PyTorch key (`features.1.weight`).
    key: String,
    /// A Linear weight: transposed between the two.
    transposed: bool,
    /// A convolution weight (ours has no bias; PyTorch's may).
    conv: bool,
    /// A batch norm's running mean (PyTorch has a `num_batches_tracked` beside it).
    running_mean: bool,
    /// PyTorch's shape.
    shape: Vec<usize>,
}

/// Our model's tensors with their PyTorch keys, in the model's order.
fn torch_params(model: &AnyModel, architecture: &Architecture) -> Vec<(TorchParam, PackTensor)> {
    model
        .collect(None, None, true)
        .into_iter()
        .map(|tensor| {
            let (layer, param) = tensor
                .name
                .rsplit_once('.')
                .expect("every parameter sits in a layer");
            let torch_layer = torch_layer(architecture, layer).unwrap_or_else(|| {
                panic!("no PyTorch name for layer '{layer}' of {architecture:?}")
            });
            let shape: Vec<usize> = tensor.shape.iter().copied().collect();
            let transposed = param == "weight" && shape.len() == 2;
            let torch_param = match param {
                "gamma" => "weight",
                "beta" => "bias",
                other => other,
            };
            let info = TorchParam {
                ours: tensor.name.clone(),
                layer: layer.to_string(),
                key: format!("{torch_layer}.{torch_param}"),
                torch_layer,
                transposed,
                conv: param == "weight" && shape.len() == 4,
                running_mean: param == "running_mean",
                shape: match transposed {
                    true => vec![shape[1], shape[0]],
                    false => shape,
                },
            };
            (info, tensor)
        })
        .collect()
}

/// `model`'s weights under the PyTorch module's keys and layouts, ready for
/// `model.load_state_dict(...)` on the matching module of `pytorch/masktune_models.py`.
pub fn to_state_dict(
    model: &AnyModel,
    architecture: &Architecture,
) -> Result<StateDict, PytorchError> {
    let mut state = StateDict::new();
    for (param, tensor) in torch_params(model, architecture) {
        let data = bridge::into_data(tensor)
            .map_err(|e| PytorchError::Weights(e.to_string()))?
            .convert::<f32>();
        let data = match param.transposed {
            true => transpose(&data),
            false => data,
        };
        if param.conv && torch_convs_have_bias(architecture) {
            let bias = TensorData::zeros::<f32, _>([param.shape[0]]);
            state.insert(format!("{}.bias", param.torch_layer), bias);
        }
        if param.running_mean {
            let count = TensorData::new(vec![0i64], Vec::<usize>::new());
            state.insert(format!("{}.num_batches_tracked", param.torch_layer), count);
        }
        state.insert(param.key, data);
    }
    Ok(state)
}

/// Loads `state` (a PyTorch state dict of the module matching `architecture`) into `model`,
/// which must have been built from `architecture`. Every layer must be there with its shape,
/// except the classifier under [`Classifier::KeepFreshIfItDiffers`]; keys the model does not use
/// are listed in the report. The values may be any floating-point type (read as f32).
pub fn load_state_dict(
    mut model: AnyModel,
    architecture: &Architecture,
    state: &StateDict,
    classifier: Classifier,
) -> Result<(AnyModel, LoadReport), PytorchError> {
    let params = torch_params(&model, architecture);
    let prefix = common_prefix(state, params.iter().map(|(p, _)| p.key.as_str()));
    let key = |name: &str| format!("{prefix}{name}");
    let classifier_path = classifier_layer(architecture);

    let mut report = LoadReport {
        stripped_prefix: (!prefix.is_empty()).then(|| prefix.clone()),
        ..LoadReport::default()
    };
    let mut problems = Vec::new();
    let mut classifier_problems = Vec::new();
    let mut used = BTreeSet::new();
    let mut loaded: BTreeMap<String, TensorData> = BTreeMap::new();
    for (param, _) in &params {
        let is_classifier = param.layer == classifier_path;
        let found = match state.get(&key(&param.key)) {
            None => Err(format!("'{}' is missing", key(&param.key))),
            Some(data) if data.shape().as_slice() != param.shape.as_slice() => Err(format!(
                "'{}' is {:?}, expected {:?}",
                key(&param.key),
                data.shape().as_slice(),
                param.shape
            )),
            Some(data) => Ok(data),
        };
        match found {
            Ok(data) => {
                used.insert(key(&param.key));
                let data = float32(&key(&param.key), data)?;
                let data = match param.transposed {
                    true => transpose(&data),
                    false => data,
                };
                loaded.insert(param.ours.clone(), data);
            }
            Err(problem) if is_classifier && classifier == Classifier::KeepFreshIfItDiffers => {
                classifier_problems.push(problem)
            }
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Err(mismatch(architecture, problems));
    }
    if !classifier_problems.is_empty() {
        // All of the classifier or none of it.
        for (param, _) in params.iter().filter(|(p, _)| p.layer == classifier_path) {
            loaded.remove(&param.ours);
            used.remove(&key(&param.key));
        }
        report.fresh_classifier = Some(classifier_problems.join("; "));
    }

    // Conv biases fold into the running mean of the batch norm after them (see the module
    // docs); PyTorch's batch counters have no counterpart.
    for (param, _) in params.iter().filter(|(p, _)| p.conv) {
        let bias_key = key(&format!("{}.bias", param.torch_layer));
        let Some(bias) = state.get(&bias_key) else {
            continue;
        };
        let norm_layer = param
            .layer
            .strip_suffix("conv")
            .map(|parent| format!("{parent}bn.running_mean"));
        let mean = norm_layer.as_ref().and_then(|path| loaded.get(path));
        match mean {
            Some(mean) if bias.shape() == mean.shape() => {
                let bias = float32(&bias_key, bias)?.try_to_vec::<f32>().expect("f32");
                let mean = mean.try_to_vec::<f32>().expect("f32");
                let folded: Vec<f32> = mean.iter().zip(&bias).map(|(m, b)| m - b).collect();
                let shape = [folded.len()];
                loaded.insert(norm_layer.expect("matched"), TensorData::new(folded, shape));
                used.insert(bias_key);
            }
            _ => problems.push(format!(
                "'{bias_key}' does not fit the batch norm after its convolution"
            )),
        }
    }
    if !problems.is_empty() {
        return Err(mismatch(architecture, problems));
    }
    used.extend(
        state
            .keys()
            .filter(|k| k.starts_with(&prefix) && k.ends_with(".num_batches_tracked"))
            .cloned(),
    );
    report.unused = state
        .keys()
        .filter(|k| !used.contains(*k))
        .cloned()
        .collect();

    let tensors = loaded
        .into_iter()
        .map(|(name, data)| bridge::from_data(data, name, None))
        .collect();
    let result = model.apply(tensors, None, None, true);
    let mut problems: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
    problems.extend(
        result
            .missing
            .iter()
            .filter(|(path, _)| {
                report.fresh_classifier.is_none()
                    || !path.starts_with(&format!("{classifier_path}."))
            })
            .map(|(path, _)| format!("our tensor '{path}' got no value")),
    );
    if !problems.is_empty() {
        return Err(mismatch(architecture, problems));
    }
    Ok((model, report))
}

/// The prefix that the state dict puts before the keys we look for: none when they are there as
/// they are; else the one before the first key (`module.conv1.weight`) that finds the most.
fn common_prefix<'a>(state: &StateDict, keys: impl Iterator<Item = &'a str> + Clone) -> String {
    let Some(first) = keys.clone().next() else {
        return String::new();
    };
    if state.contains_key(first) {
        return String::new();
    }
    state
        .keys()
        .filter_map(|k| k.strip_suffix(first))
        .filter(|p| p.ends_with('.'))
        .max_by_key(|p| {
            keys.clone()
                .filter(|k| state.contains_key(&format!("{p}{k}")))
                .count()
        })
        .map(str::to_string)
        .unwrap_or_default()
}

fn mismatch(architecture: &Architecture, problems: Vec<String>) -> PytorchError {
    PytorchError::Mismatch {
        architecture: format!("{architecture:?}"),
        problems: join_first(problems, 8),
    }
}

fn float32(key: &str, data: &TensorData) -> Result<TensorData, PytorchError> {
    match data.dtype() {
        DType::F64 | DType::F32 | DType::F16 | DType::BF16 => Ok(data.clone().convert::<f32>()),
        dtype => Err(PytorchError::NotFloat {
            key: key.to_string(),
            dtype,
        }),
    }
}

/// A 2-D f32 tensor transposed.
fn transpose(data: &TensorData) -> TensorData {
    let [rows, cols] = data.shape().as_slice().try_into().expect("a 2-D tensor");
    let values = data.try_to_vec::<f32>().expect("f32");
    let transposed = (0..cols * rows)
        .map(|i| values[(i % rows) * cols + i / rows])
        .collect();
    TensorData::new(transposed, [cols, rows])
}
