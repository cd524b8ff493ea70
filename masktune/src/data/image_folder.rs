//! A class-per-folder image set, arranged from its files' paths alone: the trainer lists a folder
//! on disk, the page a folder the user chose or dropped, and both place every image by this one
//! rule, then choose the images of the training, validation and test sets by [`plan`] before
//! decoding any, so that a seed gives the same sets in both.
//!
//! The layout is `<class>/<image>`, or with split folders `{train,val,test}/<class>/<image>`
//! (train required then, val and test optional). Classes are the training folder's subfolders,
//! sorted by name; a label is the class's index in that order. Images are the files with one of
//! [`EXTENSIONS`] directly in a class folder; other files and deeper folders are left alone.

use std::collections::{BTreeMap, BTreeSet};

#[cfg(doc)]
use super::ImageSet;
use super::{holdout_positions, subset_positions};
use crate::models::preprocess::Normalization;

/// File extensions (any case) read as images.
pub const EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "webp"];

/// What a folder must look like, for messages.
pub const LAYOUT: &str =
    "expected one subfolder per class holding its images, optionally under train/, val/ and test/";

/// The dataset's name in the bundles of a folder's models.
pub const DATASET_NAME: &str = "folder";

/// A folder's photos are normalised with ImageNet's statistics (as CelebA's).
pub const NORMALIZATION: Normalization = Normalization::IMAGENET;

/// Share of the training images held out for validation (and then again for testing) where the
/// folder has no `val/` (`test/`) split.
pub const HOLDOUT: f64 = 0.1;

/// The split an image belongs to by its folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FolderSplit {
    Train,
    Val,
    Test,
}

impl FolderSplit {
    fn folder(self) -> &'static str {
        match self {
            FolderSplit::Train => "train",
            FolderSplit::Val => "val",
            FolderSplit::Test => "test",
        }
    }
}

/// One image file's place: its index in the paths given to [`arrange`], its split and label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacedImage {
    pub index: usize,
    pub split: FolderSplit,
    pub label: u32,
}

/// Where every image of a folder belongs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderLayout {
    pub class_names: Vec<String>,
    /// Split by split (train, val, test), class by class, and by path within a class: the order
    /// the images are read in, which the seeded holdouts depend on.
    pub images: Vec<PlacedImage>,
}

impl FolderLayout {
    /// The images of `split`, in order.
    pub fn of(&self, split: FolderSplit) -> impl Iterator<Item = &PlacedImage> {
        self.images.iter().filter(move |image| image.split == split)
    }

    pub fn has(&self, split: FolderSplit) -> bool {
        self.of(split).next().is_some()
    }
}

/// Why a folder's files do not make an image set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("no class folder found: {LAYOUT}")]
    NoClasses,
    #[error("only one class folder, {class}/: a classifier needs two or more; {LAYOUT}")]
    OneClass { class: String },
    #[error("no image file in the class folder {folder}: {LAYOUT}")]
    EmptyClass { folder: String },
    #[error("{folder} is not a class of train/ (its classes: {classes})")]
    UnknownClass { folder: String, classes: String },
}

/// Places the image files among `paths` (relative to the folder, `/` between names) by the
/// folder's layout.
pub fn arrange(paths: &[&str]) -> Result<FolderLayout, LayoutError> {
    let split_folders = paths
        .iter()
        .any(|path| path.split('/').count() >= 3 && path.starts_with("train/"));
    // (split, class) -> indices of the class folder's images; classes seen without images too.
    let mut images: BTreeMap<(FolderSplit, &str), Vec<usize>> = BTreeMap::new();
    let mut class_folders: BTreeSet<(FolderSplit, &str)> = BTreeSet::new();
    for (index, path) in paths.iter().enumerate() {
        let parts: Vec<&str> = path.split('/').collect();
        let (split, class, file) = match (split_folders, parts.as_slice()) {
            (false, [class, rest @ ..]) if !rest.is_empty() => (FolderSplit::Train, *class, rest),
            (true, [split, class, rest @ ..]) if !rest.is_empty() => {
                let Some(split) = [FolderSplit::Train, FolderSplit::Val, FolderSplit::Test]
                    .into_iter()
                    .find(|s| s.folder() == *split)
                else {
                    continue;
                };
                (split, *class, rest)
            }
            _ => continue,
        };
        if class.starts_with('.') {
            continue;
        }
        class_folders.insert((split, class));
        if let [name] = file
            && is_image_name(name)
        {
            images.entry((split, class)).or_default().push(index);
        }
    }
    let class_names: Vec<String> = class_folders
        .iter()
        .filter(|(split, _)| *split == FolderSplit::Train)
        .map(|(_, class)| class.to_string())
        .collect();
    match class_names.as_slice() {
        [] => return Err(LayoutError::NoClasses),
        [class] => {
            return Err(LayoutError::OneClass {
                class: class.clone(),
            });
        }
        _ => {}
    }
    let folder_name = |split: FolderSplit, class: &str| {
        if split_folders {
            format!("{}/{class}/", split.folder())
        } else {
            format!("{class}/")
        }
    };
    let mut placed = Vec::new();
    for &(split, class) in &class_folders {
        let Some(label) = class_names.iter().position(|c| c == class) else {
            return Err(LayoutError::UnknownClass {
                folder: folder_name(split, class),
                classes: class_names.join(", "),
            });
        };
        let Some(indices) = images.get_mut(&(split, class)) else {
            return Err(LayoutError::EmptyClass {
                folder: folder_name(split, class),
            });
        };
        indices.sort_by_key(|&i| paths[i]);
        placed.extend(indices.iter().map(|&index| PlacedImage {
            index,
            split,
            label: label as u32,
        }));
    }
    // `class_folders` is ordered by split, then class name: the labels' order.
    Ok(FolderLayout {
        class_names,
        images: placed,
    })
}

/// Whether a file's name has one of [`EXTENSIONS`].
pub fn is_image_name(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, extension)| {
        EXTENSIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(extension))
    })
}

/// The images each set of a run takes, as indices into [`FolderLayout::images`], in the order
/// the sets hold them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitPlan {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

/// Training, validation and test sets from a folder's splits, chosen before any image is
/// decoded: a split the folder lacks is held out of the training images at random by `seed`
/// ([`HOLDOUT`] of them, at least one), validation first, then test from what is left; then
/// each set keeps at most `subset` images, drawn by `seed` as [`ImageSet::shuffled_subset`]
/// draws them.
pub fn plan(layout: &FolderLayout, seed: u64, subset: Option<usize>) -> SplitPlan {
    let of = |split| -> Vec<usize> {
        (0..layout.images.len())
            .filter(|&i| layout.images[i].split == split)
            .collect()
    };
    let hold_out = |from: Vec<usize>, seed| {
        let n = ((from.len() as f64 * HOLDOUT).ceil() as usize).max(1);
        let (rest, held) = holdout_positions(from.len(), n, seed);
        (pick(&from, &rest), pick(&from, &held))
    };
    let train = of(FolderSplit::Train);
    let (train, val) = match of(FolderSplit::Val) {
        val if !val.is_empty() => (train, val),
        _ => hold_out(train, seed),
    };
    let (train, test) = match of(FolderSplit::Test) {
        test if !test.is_empty() => (train, test),
        _ => hold_out(train, seed.wrapping_add(1)),
    };
    let subset = |set: Vec<usize>| match subset {
        Some(n) => pick(&set, &subset_positions(set.len(), n, seed)),
        None => set,
    };
    SplitPlan {
        train: subset(train),
        val: subset(val),
        test: subset(test),
    }
}

fn pick(from: &[usize], positions: &[usize]) -> Vec<usize> {
    positions.iter().map(|&p| from[p]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageSet;

    fn placed(layout: &FolderLayout) -> Vec<(usize, FolderSplit, u32)> {
        layout
            .images
            .iter()
            .map(|p| (p.index, p.split, p.label))
            .collect()
    }

    #[test]
    fn a_folder_of_class_folders_is_the_training_set_with_sorted_classes_and_files() {
        let paths = [
            "dog/b.png",
            "cat/z.JPG",
            "dog/a.jpeg",
            "cat/notes.txt",
            "readme.md",
            "cat/deeper/x.png",
            ".hidden/x.png",
        ];
        let layout = arrange(&paths).unwrap();
        assert_eq!(layout.class_names, ["cat", "dog"]);
        use FolderSplit::Train;
        assert_eq!(
            placed(&layout),
            [(1, Train, 0), (2, Train, 1), (0, Train, 1)]
        );
    }

    #[test]
    fn split_folders_take_their_classes_from_train() {
        let paths = [
            "test/dog/d.png",
            "train/dog/a.png",
            "train/cat/b.bmp",
            "val/cat/c.webp",
            "other/cat/e.png",
        ];
        let layout = arrange(&paths).unwrap();
        assert_eq!(layout.class_names, ["cat", "dog"]);
        use FolderSplit::*;
        assert_eq!(
            placed(&layout),
            [(2, Train, 0), (1, Train, 1), (3, Val, 0), (0, Test, 1)]
        );
        assert!(layout.has(Val) && layout.has(Test));
    }

    #[test]
    fn bad_layouts_are_named() {
        assert_eq!(arrange(&["a.png", "b.txt"]), Err(LayoutError::NoClasses));
        assert_eq!(
            arrange(&["cat/a.png", "cat/b.png"]),
            Err(LayoutError::OneClass {
                class: "cat".into()
            })
        );
        assert_eq!(
            arrange(&["cat/a.png", "dog/notes.txt", "eel/b.png"]),
            Err(LayoutError::EmptyClass {
                folder: "dog/".into()
            })
        );
        let error = arrange(&["train/cat/a.png", "train/dog/c.png", "val/bird/b.png"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "val/bird/ is not a class of train/ (its classes: cat, dog)"
        );
    }

    /// A layout of `train` training images (two classes in turn) and `test` test images.
    fn layout(train: usize, test: usize) -> FolderLayout {
        let placed = |index, split| PlacedImage {
            index,
            split,
            label: (index % 2) as u32,
        };
        FolderLayout {
            class_names: vec!["a".into(), "b".into()],
            images: (0..train)
                .map(|i| placed(i, FolderSplit::Train))
                .chain((train..train + test).map(|i| placed(i, FolderSplit::Test)))
                .collect(),
        }
    }

    /// The same choice made on decoded images: a set whose image i is the byte i.
    fn numbered(indices: impl Iterator<Item = usize>) -> ImageSet {
        let indices: Vec<usize> = indices.collect();
        ImageSet {
            images: indices.iter().flat_map(|&i| [i as u8; 3]).collect(),
            width: 1,
            height: 1,
            labels: vec![0; indices.len()],
            groups: None,
            class_names: vec!["one".into()],
            group_names: Vec::new(),
        }
    }

    fn bytes(set: &ImageSet) -> Vec<usize> {
        set.images
            .chunks(3)
            .map(|pixel| pixel[0] as usize)
            .collect()
    }

    #[test]
    fn missing_splits_are_held_out_of_training_by_the_seed() {
        let plan = plan(&layout(100, 0), 7, None);
        assert_eq!(
            (plan.train.len(), plan.val.len(), plan.test.len()),
            (81, 10, 9)
        );
        let mut all: Vec<usize> = [&plan.train, &plan.val, &plan.test]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>(), "each image in one set");
        assert_eq!(
            super::plan(&layout(100, 0), 7, None),
            plan,
            "the seed decides"
        );
        assert_ne!(super::plan(&layout(100, 0), 8, None).val, plan.val);
        let given = super::plan(&layout(5, 2), 0, None);
        assert_eq!(
            (given.train.len(), given.val.len(), given.test),
            (4, 1, vec![5, 6])
        );
    }

    #[test]
    fn the_plan_keeps_what_holding_out_and_subsetting_decoded_sets_keeps() {
        let (seed, n) = (3, 20);
        let plan = plan(&layout(100, 30), seed, Some(n));
        let all = numbered(0..100);
        let (train, val) = all.split_holdout(10, seed);
        assert_eq!(plan.train, bytes(&train.shuffled_subset(n, seed)));
        assert_eq!(plan.val, bytes(&val.shuffled_subset(n, seed)));
        assert_eq!(
            plan.test,
            bytes(&numbered(100..130).shuffled_subset(n, seed))
        );
    }
}
