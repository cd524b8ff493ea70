//! The tasks the page offers: which bundles to load and which example images to show.

/// One classification task with its shipped ERM and MaskTune bundles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    pub id: &'static str,
    pub label: &'static str,
    /// One sentence on the shortcut the ERM model may have learned.
    pub story: &'static str,
    pub erm_bundle: &'static str,
    pub masktune_bundle: &'static str,
    pub examples: &'static [Example],
}

/// An example image shipped with the page (free to redistribute; see app/assets/examples/README.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Example {
    pub label: &'static str,
    pub url: &'static str,
}

pub const TASKS: &[Task] = &[
    Task {
        id: "cifar10",
        label: "Objects (CIFAR-10)",
        story: "Ten kinds of objects in 32×32 photos. MaskTune hides the region the ERM model relied on \
                and fine-tunes once, so the second model has to find other evidence; where the two \
                disagree, the pair abstains. Both know only these ten classes: a rocket still gets one of them.",
        erm_bundle: "assets/models/cifar10-erm.mtb",
        masktune_bundle: "assets/models/cifar10-masktune.mtb",
        examples: &[
            Example {
                label: "a cat",
                url: "assets/examples/cat-chelsea.png",
            },
            Example {
                label: "a rocket (not a CIFAR-10 class)",
                url: "assets/examples/rocket.png",
            },
            Example {
                label: "a cup of coffee (not a CIFAR-10 class)",
                url: "assets/examples/coffee.png",
            },
        ],
    },
    Task {
        id: "celeba",
        label: "Blond hair (CelebA faces)",
        story: "Faces labelled blond or not. In CelebA's training faces fewer than 1 in 15 blond people \
                are men, so an ERM model can take looking female as a sign of blond hair: this one finds \
                13 of the 45 blond men of the test split. MaskTune hides what it looked at and fine-tunes \
                once; the MaskTuned model finds 22 of them.",
        erm_bundle: "assets/models/celeba-erm.mtb",
        masktune_bundle: "assets/models/celeba-masktune.mtb",
        examples: &[
            Example {
                label: "astronaut Eileen Collins",
                url: "assets/examples/face-astronaut.png",
            },
            Example {
                label: "a man with a camera (grayscale)",
                url: "assets/examples/face-camera.png",
            },
        ],
    },
    Task {
        id: "spurious-mnist",
        label: "Digits with a red-square shortcut",
        story: "Trained on MNIST digits 0–4 vs 5–9 where a red square marked 99% of the low digits: \
                the ERM model learns to look at the square; MaskTune hides what it looked at and retrains.",
        erm_bundle: "assets/models/spurious-mnist-erm.mtb",
        masktune_bundle: "assets/models/spurious-mnist-masktune.mtb",
        examples: &[
            Example {
                label: "a 3 with the red square",
                url: "assets/examples/digit-3-square.png",
            },
            Example {
                label: "a 3 without the square",
                url: "assets/examples/digit-3.png",
            },
            Example {
                label: "an 8 with the red square",
                url: "assets/examples/digit-8-square.png",
            },
            Example {
                label: "an 8 without the square",
                url: "assets/examples/digit-8.png",
            },
        ],
    },
];

pub fn find(id: &str) -> Option<&'static Task> {
    TASKS.iter().find(|task| task.id == id)
}
