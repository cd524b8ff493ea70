//! Which PyTorch layer each of our layers is: torchvision's names for the ImageNet ResNets and
//! the VGG features, the MaskTune authors' for their CIFAR ResNet and MNIST network (the modules
//! of `pytorch/masktune_models.py`).

use crate::models::Architecture;
use crate::models::resnet::{cifar_blocks_per_stage, imagenet_layout};
use crate::models::vgg::vgg_stage_lengths;

/// The PyTorch name of the layer at `ours`, a layer's path in our model (e.g.
/// `blocks.3.conv1.bn`, `head.linear`), or `None` for a path the architecture does not have.
pub fn torch_layer(architecture: &Architecture, ours: &str) -> Option<String> {
    let parts: Vec<&str> = ours.split('.').collect();
    match *architecture {
        Architecture::MnistCnn { .. } => match parts[..] {
            ["body", "convs", i, part] => sequential_conv("backbone", &[2, 2], i, part),
            ["hidden"] => Some("linear.0".into()),
            ["hidden_norm"] => Some("linear.1".into()),
            ["classifier"] => Some("linear.3".into()),
            _ => None,
        },
        Architecture::SmallCnn { .. } | Architecture::Vgg { .. } => {
            let lengths = match *architecture {
                Architecture::Vgg { depth, .. } => vgg_stage_lengths(depth)?.to_vec(),
                _ => vec![2, 2, 2],
            };
            match parts[..] {
                ["body", "convs", i, part] => sequential_conv("features", &lengths, i, part),
                ["head", "linear"] => Some("fc".into()),
                _ => None,
            }
        }
        Architecture::CifarResNet { depth, .. } => {
            let n = cifar_blocks_per_stage(depth)?;
            resnet_layer(&parts, &[n; 3], "linear")
        }
        Architecture::ResNet { depth, .. } => {
            let (_, counts) = imagenet_layout(depth)?;
            resnet_layer(&parts, &counts, "fc")
        }
    }
}

/// Our path of the layer that maps the features to the class scores (the one whose shape
/// depends on the number of classes).
pub fn classifier_layer(architecture: &Architecture) -> &'static str {
    match architecture {
        Architecture::MnistCnn { .. } => "classifier",
        _ => "head.linear",
    }
}

/// Whether the PyTorch module's convolutions have biases (ours never do: the batch norm after
/// each one makes a bias redundant).
pub fn torch_convs_have_bias(architecture: &Architecture) -> bool {
    matches!(
        architecture,
        Architecture::MnistCnn { .. } | Architecture::SmallCnn { .. } | Architecture::Vgg { .. }
    )
}

/// Conv `i` of a stack laid out as an `nn.Sequential` of conv, batch norm, ReLU per layer and
/// one pooling slot (a max-pool or an identity) after each stage of `lengths` convolutions:
/// torchvision's `make_layers` and the authors' SmallCNN backbone.
fn sequential_conv(prefix: &str, lengths: &[usize], i: &str, part: &str) -> Option<String> {
    let i: usize = i.parse().ok()?;
    let mut index = 0;
    let mut conv = 0;
    for &length in lengths {
        for _ in 0..length {
            if conv == i {
                let offset = match part {
                    "conv" => 0,
                    "bn" => 1,
                    _ => return None,
                };
                return Some(format!("{prefix}.{}", index + offset));
            }
            index += 3;
            conv += 1;
        }
        index += 1;
    }
    None
}

/// torchvision's (and the authors') ResNet names: `conv1`/`bn1` for the stem, `layer{s}.{b}`
/// for block `b` of stage `s` with `conv{k}`/`bn{k}` and `downsample.0`/`.1`, and `head` for
/// the classifier.
fn resnet_layer(parts: &[&str], blocks_per_stage: &[usize], head: &str) -> Option<String> {
    let conv_or_bn = |name: &str, digit: &str, part: &str| match part {
        "conv" => Some(format!("{name}conv{digit}")),
        "bn" => Some(format!("{name}bn{digit}")),
        _ => None,
    };
    match *parts {
        ["stem", part] => conv_or_bn("", "1", part),
        ["head", "linear"] => Some(head.into()),
        ["blocks", k, layer, part] => {
            let mut k: usize = k.parse().ok()?;
            let mut stage = 0;
            while k >= *blocks_per_stage.get(stage)? {
                k -= blocks_per_stage[stage];
                stage += 1;
            }
            let block = format!("layer{}.{k}.", stage + 1);
            match layer {
                "shortcut" => match part {
                    "conv" => Some(format!("{block}downsample.0")),
                    "bn" => Some(format!("{block}downsample.1")),
                    _ => None,
                },
                _ => conv_or_bn(&block, layer.strip_prefix("conv")?, part),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg11_convs_keep_torchvisions_indices() {
        let vgg = Architecture::Vgg {
            in_channels: 3,
            num_classes: 10,
            depth: 11,
            width: 64,
        };
        // torchvision's vgg11_bn: conv/bn pairs at 0/1, 4/5, 8/9, 11/12, 15/16, 18/19, 22/23, 25/26.
        let convs: Vec<String> = (0..8)
            .map(|i| torch_layer(&vgg, &format!("body.convs.{i}.conv")).unwrap())
            .collect();
        let want = [0, 4, 8, 11, 15, 18, 22, 25].map(|i| format!("features.{i}"));
        assert_eq!(convs, want);
        assert_eq!(
            torch_layer(&vgg, "body.convs.7.bn").as_deref(),
            Some("features.26")
        );
        assert_eq!(torch_layer(&vgg, "body.convs.8.conv"), None);
    }

    #[test]
    fn resnet_blocks_are_numbered_per_stage() {
        let resnet50 = Architecture::ResNet {
            in_channels: 3,
            num_classes: 2,
            depth: 50,
            width: 64,
        };
        let name = |ours: &str| torch_layer(&resnet50, ours);
        assert_eq!(name("stem.bn").as_deref(), Some("bn1"));
        assert_eq!(name("blocks.3.conv3.bn").as_deref(), Some("layer2.0.bn3"));
        assert_eq!(
            name("blocks.13.shortcut.conv").as_deref(),
            Some("layer4.0.downsample.0")
        );
        assert_eq!(name("blocks.16.conv1.conv"), None);
        assert_eq!(name("head.linear").as_deref(), Some("fc"));
    }

    #[test]
    fn the_authors_small_cnn_backbone() {
        let mnist = Architecture::spurious_mnist();
        let convs: Vec<String> = (0..4)
            .map(|i| torch_layer(&mnist, &format!("body.convs.{i}.bn")).unwrap())
            .collect();
        assert_eq!(
            convs,
            ["backbone.1", "backbone.4", "backbone.8", "backbone.11"]
        );
        assert_eq!(
            torch_layer(&mnist, "classifier").as_deref(),
            Some("linear.3")
        );
    }
}
