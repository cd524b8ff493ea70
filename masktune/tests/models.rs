//! Output shapes and the CAM split of every model, at tiny widths so the tests stay fast.

use burn::prelude::*;
use masktune::cam_model::CamModel;
use masktune::models::{AnyModel, Architecture};

fn random_images(batch: usize, side: usize, device: &Device) -> Tensor<4> {
    Tensor::random(
        [batch, 3, side, side],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        device,
    )
}

/// Checks feature and logit shapes, `forward == head(features)` and the GAP weight's shape.
fn check_model(arch: Architecture, side: usize, features: [usize; 3]) -> AnyModel {
    let model = check_shapes(&arch, side, features);
    let weight = model
        .gap_linear_weight()
        .expect("this model has a GAP + linear head");
    assert_eq!(weight.dims(), [arch.num_classes(), features[0]]);
    model
}

/// Checks feature and logit shapes and `forward == head(features)`.
fn check_shapes(arch: &Architecture, side: usize, features: [usize; 3]) -> AnyModel {
    let device = Device::flex();
    let model = arch.init(&device);
    let images = random_images(2, side, &device);
    let f = model.features(images.clone());
    let [channels, h, w] = features;
    assert_eq!(f.dims(), [2, channels, h, w], "{arch:?}");
    let logits = model.head(f);
    let classes = arch.num_classes();
    assert_eq!(logits.dims(), [2, classes]);
    model
        .forward(images)
        .into_data()
        .assert_approx_eq::<f32>(&logits.into_data(), burn::tensor::Tolerance::default());
    model
}

#[test]
fn mnist_cnn_has_the_authors_layout() {
    let arch = Architecture::spurious_mnist();
    let model = check_shapes(&arch, 28, [32, 8, 8]);
    // Its flattening head is not GAP + linear: the saliency must take the backward path.
    assert!(model.gap_linear_weight().is_none());
    // The authors' SmallCNN has 149,202 parameters in PyTorch; ours leaves out the four conv
    // biases (16 + 16 + 32 + 32, cancelled by the batch norms) and Burn counts the running mean
    // and variance of the 16 + 16 + 32 + 32 + 256 batch-norm channels.
    assert_eq!(model.num_params(), 149_202 - 96 + 2 * 352);
    // Other image sizes change the flattened width: 16x16 ends in a 2x2 block.
    check_shapes(
        &Architecture::MnistCnn {
            in_channels: 3,
            num_classes: 3,
            width: 2,
            input_size: 16,
        },
        16,
        [4, 2, 2],
    );
}

#[test]
fn small_cnn_ends_at_7x7_on_mnist() {
    let arch = Architecture::SmallCnn {
        in_channels: 3,
        num_classes: 2,
        width: 4,
    };
    check_model(arch, 28, [16, 7, 7]);
}

#[test]
fn vgg11_ends_at_4x4_on_cifar() {
    let arch = Architecture::Vgg {
        in_channels: 3,
        num_classes: 10,
        depth: 11,
        width: 4,
    };
    check_model(arch, 32, [32, 4, 4]);
}

#[test]
fn vgg16_layout_builds_and_runs() {
    let arch = Architecture::Vgg {
        in_channels: 3,
        num_classes: 10,
        depth: 16,
        width: 2,
    };
    let model = check_model(arch, 32, [16, 4, 4]);
    // 13 convolutions (3x3, no bias) + 13 batch norms + the linear head. Burn counts a batch
    // norm's running mean and variance as parameters too: 4 values per channel.
    let widths = [2, 2, 4, 4, 8, 8, 8, 16, 16, 16, 16, 16, 16];
    let mut in_c = 3;
    let mut expected = 16 * 10 + 10;
    for out in widths {
        expected += in_c * out * 9 + 4 * out;
        in_c = out;
    }
    assert_eq!(model.num_params(), expected);
}

#[test]
fn cifar_resnet32_ends_at_8x8() {
    let arch = Architecture::CifarResNet {
        in_channels: 3,
        num_classes: 10,
        depth: 32,
        width: 4,
    };
    check_model(arch, 32, [16, 8, 8]);
}

#[test]
fn cifar_resnet32_has_the_papers_parameter_count() {
    // He et al.'s ResNet-32 with option-A shortcuts (the MaskTune authors' resnet32): 464,154
    // parameters in PyTorch; Burn also counts the running mean and variance of its 1,136
    // batch-norm channels (16 in the stem, 2 x 5 x (16 + 32 + 64) in the blocks).
    let model = Architecture::cifar10_resnet32().init(&Device::flex());
    assert_eq!(model.num_params(), 464_154 + 2 * 1_136);
}

#[test]
fn imagenet_resnet18_and_50_shapes_at_small_input() {
    let arch = Architecture::ResNet {
        in_channels: 3,
        num_classes: 2,
        depth: 18,
        width: 4,
    };
    check_model(arch, 64, [32, 2, 2]);
    // Bottleneck blocks expand the last stage to 4 * 8 * width channels.
    let arch = Architecture::ResNet {
        in_channels: 3,
        num_classes: 2,
        depth: 50,
        width: 2,
    };
    check_model(arch, 64, [64, 2, 2]);
}

#[test]
fn imagenet_resnets_have_torchvisions_parameter_counts() {
    // torchvision's resnet18 / resnet50 (1000 classes) have 11,689,512 / 25,557,032 parameters;
    // Burn also counts each batch norm's running mean and variance (torchvision's buffers):
    // 2 x 4,800 and 2 x 26,560 channels.
    for (depth, torchvision, bn_channels) in [(18, 11_689_512, 4_800), (50, 25_557_032, 26_560)] {
        let arch = Architecture::ResNet {
            in_channels: 3,
            num_classes: 1000,
            depth,
            width: 64,
        };
        assert_eq!(
            arch.init(&Device::flex()).num_params(),
            torchvision + 2 * bn_channels
        );
    }
}

#[test]
fn invalid_settings_are_reported_not_built() {
    let bad = [
        Architecture::Vgg {
            in_channels: 3,
            num_classes: 10,
            depth: 12,
            width: 8,
        },
        Architecture::CifarResNet {
            in_channels: 3,
            num_classes: 10,
            depth: 33,
            width: 16,
        },
        Architecture::ResNet {
            in_channels: 3,
            num_classes: 2,
            depth: 152,
            width: 64,
        },
        Architecture::SmallCnn {
            in_channels: 3,
            num_classes: 0,
            width: 8,
        },
        Architecture::SmallCnn {
            in_channels: 3,
            num_classes: 2,
            width: 1 << 20,
        },
        Architecture::MnistCnn {
            in_channels: 3,
            num_classes: 2,
            width: 16,
            input_size: 15,
        },
    ];
    for arch in bad {
        assert!(arch.validate().is_err(), "{arch:?}");
    }
    for arch in [
        Architecture::spurious_mnist(),
        Architecture::cifar10_vgg(),
        Architecture::cifar10_resnet32(),
        Architecture::celeba_resnet50(),
    ] {
        assert_eq!(arch.validate(), Ok(()));
    }
}

#[test]
fn architecture_json_names_the_kind() {
    let arch = Architecture::cifar10_resnet32();
    let json = serde_json::to_string(&arch).unwrap();
    assert_eq!(
        json,
        r#"{"kind":"cifar_resnet","in_channels":3,"num_classes":10,"depth":32,"width":16}"#
    );
    assert_eq!(serde_json::from_str::<Architecture>(&json).unwrap(), arch);
}
