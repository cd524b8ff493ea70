//! The tasks the page offers: which bundles to load and which example images to show.

/// One classification task: the shipped ERM and MaskTune bundles, or the user's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    pub id: &'static str,
    pub label: &'static str,
    /// One sentence on the shortcut the ERM model may have learned.
    pub story: &'static str,
    pub models: Models,
    pub examples: &'static [Example],
}

/// Where a task's two models come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Models {
    /// Bundles shipped with the page, by URL relative to it.
    Shipped {
        erm: &'static str,
        masktune: &'static str,
    },
    /// Two bundle files the user gives; they never leave the page.
    Own,
    /// The pair the page's Lab trained last.
    Lab,
}

/// An example image shipped with the page (free to redistribute; see app/assets/examples/README.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Example {
    pub label: &'static str,
    pub url: &'static str,
}

/// The task of the Lab's models.
pub const LAB_MODELS: &str = "lab-models";

/// Digits with and without the red square, for the spurious-MNIST models.
const DIGITS: &[Example] = &[
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
];

pub const TASKS: &[Task] = &[
    Task {
        id: "cifar10",
        label: "Objects (CIFAR-10)",
        story: "Ten kinds of objects in 32×32 photos. MaskTune hides the region the ERM model relied on \
                and fine-tunes once, so the second model has to find other evidence; where the two \
                disagree, the pair abstains. Both know only these ten classes: a rocket still gets one of them.",
        models: Models::Shipped {
            erm: "assets/models/cifar10-erm.mtb",
            masktune: "assets/models/cifar10-masktune.mtb",
        },
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
        models: Models::Shipped {
            erm: "assets/models/celeba-erm.mtb",
            masktune: "assets/models/celeba-masktune.mtb",
        },
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
        models: Models::Shipped {
            erm: "assets/models/spurious-mnist-erm.mtb",
            masktune: "assets/models/spurious-mnist-masktune.mtb",
        },
        examples: DIGITS,
    },
    Task {
        id: LAB_MODELS,
        label: "The models you trained in the Lab",
        story: "The ERM and MaskTune models of your last finished Lab run. Trained on spurious MNIST: \
                try digits with and without the red square (yours too, 28×28 or larger) to see whether \
                they learned the shortcut. Trained on your own folder: give images like its own.",
        models: Models::Lab,
        examples: DIGITS,
    },
    Task {
        id: "own",
        label: "Your own models (.mtb bundles)",
        story: "Give the ERM and the MaskTune bundle of one run of trainer-native (runs/<name>/bundles/), \
                on your own images or any data set: the page checks that they belong together and \
                then works with them as with a shipped pair, with their classes, thresholds and \
                risk-coverage curves. The files never leave this page.",
        models: Models::Own,
        examples: &[],
    },
];

pub fn find(id: &str) -> Option<&'static Task> {
    TASKS.iter().find(|task| task.id == id)
}
