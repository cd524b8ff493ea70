//! The data of a Lab run: spurious MNIST built from the Lab's MNIST subset, or the user's folder
//! of class subfolders placed and held out, by the trainer's own code (`masktune::data`), and
//! what the worker keeps of it for the next run.

use std::cell::RefCell;
use std::rc::Rc;

use masktune::bundle::BundleMetadata;
use masktune::data::image_folder::{self, FolderLayout, SplitPlan};
use masktune::data::spurious_mnist::{self, SpuriousConfig};
use masktune::data::{ImageSet, mnist_idx};
use masktune::evaluation::NamedSet;
use masktune::training::Batching;
use wasm_bindgen::JsCast;

use super::{Ended, LabRun, progress};
use crate::assets;
use crate::protocol::lab::{
    LabData, LabDataUrls, LabEvent, LabFile, LabRecipe, LabSettings, LabStep, LabTask,
};
use crate::worker::image_input;

/// What the worker keeps between runs: the Lab's MNIST subset, downloaded by the first run that
/// takes it, and the splits the last run read from the user's folder.
#[derive(Default)]
pub struct KeptData {
    mnist: Option<Rc<MnistSubset>>,
    folder: Option<ReadFolder>,
}

/// Splits read from the user's folder, and what they were read from: a run on the same files,
/// seed, images per split and side takes them instead of decoding the images again, the one
/// step of a run that its other settings leave alone.
struct ReadFolder {
    key: FolderKey,
    splits: Rc<Splits>,
}

/// What a folder's splits depend on.
#[derive(PartialEq)]
struct FolderKey {
    /// Each file's path, size and time of last change, in the order the page gave them.
    files: Vec<(String, f64, f64)>,
    seed: u64,
    images: usize,
    side: usize,
}

impl FolderKey {
    fn of(files: &[LabFile], settings: &LabSettings, side: usize) -> FolderKey {
        let identity = |file: &LabFile| {
            let changed = file
                .blob
                .dyn_ref::<web_sys::File>()
                .map_or(0.0, |f| f.last_modified());
            (file.path.clone(), file.blob.size(), changed)
        };
        FolderKey {
            files: files.iter().map(identity).collect(),
            seed: settings.seed,
            images: settings.images,
            side,
        }
    }
}

/// The Lab's MNIST subset as its files hold it (fetched once per page).
struct MnistSubset {
    train_full: ImageSet,
    test: ImageSet,
}

/// The Lab's MNIST subset, downloaded by the first run that takes it.
async fn kept_mnist(
    lab: &LabRun<'_>,
    kept: &RefCell<KeptData>,
    urls: &LabDataUrls,
) -> Result<Rc<MnistSubset>, Ended> {
    let subset = kept.borrow().mnist.clone();
    if let Some(subset) = subset {
        return Ok(subset);
    }
    let subset = Rc::new(fetch_mnist(lab, urls).await?);
    kept.borrow_mut().mnist = Some(subset.clone());
    Ok(subset)
}

/// Downloads the four idx files.
async fn fetch_mnist(lab: &LabRun<'_>, urls: &LabDataUrls) -> Result<MnistSubset, Ended> {
    let mut files = Vec::new();
    let (mut done, mut known_total) = (0u64, 0u64);
    for url in urls.all() {
        let bytes = assets::fetch_bytes(url, |received, total| {
            let of = known_total + total.unwrap_or(received);
            progress(lab, LabStep::Data, done + received, of);
        })
        .await
        .map_err(Ended::Failed)?;
        done += bytes.len() as u64;
        known_total = done;
        let bytes = mnist_idx::unpacked(bytes)
            .map_err(|error| Ended::Failed(format!("{url} is not a gzip file: {error}")))?;
        files.push(bytes);
        if (lab.stop_requested)() {
            return Err(Ended::Stopped);
        }
    }
    let parse = |images: &[u8], labels: &[u8], which: &str| {
        mnist_idx::digit_set(images, labels).map_err(|(file, error)| {
            Ended::Failed(format!(
                "the Lab's {which} {file:?} file is damaged ({error}): reload the page"
            ))
        })
    };
    Ok(MnistSubset {
        train_full: parse(&files[0], &files[1], "training")?,
        test: parse(&files[2], &files[3], "test")?,
    })
}

/// The most bytes a folder's decoded images (and the masked copy of its training set) may take:
/// about a third of the module's 4 GiB, whose rest the models, their training and the page's
/// other work share.
const MAX_FOLDER_BYTES: usize = 1_500_000_000;

/// The folder the page handed over (`Request::LabFiles`): the newest one given, which every run
/// on it reads.
#[derive(Clone, Default)]
pub struct HandedFolder {
    /// The page's number for the folder; 0 before any.
    number: u64,
    files: Vec<LabFile>,
}

impl HandedFolder {
    /// Takes a slice of folder `number`'s files; a newer folder's first slice lets the files of
    /// the one before go.
    pub fn receive(&mut self, number: u64, files: Vec<LabFile>) {
        if number != self.number {
            *self = HandedFolder {
                number,
                files: Vec::new(),
            };
        }
        self.files.extend(files);
    }
}

/// What a run reads its data from.
pub enum RunData<'a> {
    /// The Lab's MNIST subset, at these URLs.
    SpuriousMnist(&'a LabDataUrls),
    /// The user's folder, its files as the page handed them over.
    Folder(&'a [LabFile]),
}

impl<'a> RunData<'a> {
    /// The data `data` names; a folder's are the files the page handed over, all of them.
    pub fn of(data: &'a LabData, handed: &'a HandedFolder) -> Result<Self, Ended> {
        match *data {
            LabData::SpuriousMnist(ref urls) => Ok(RunData::SpuriousMnist(urls)),
            LabData::Folder { folder, files } => {
                let received = if handed.number == folder {
                    handed.files.len()
                } else {
                    0
                };
                if received == files {
                    Ok(RunData::Folder(&handed.files))
                } else {
                    Err(Ended::Failed(format!(
                        "the worker has {received} of the folder's {files} files: start the run \
                         again"
                    )))
                }
            }
        }
    }
}

/// The sets a run trains and measures on, what they are and how the run trains on them.
pub struct LabSets {
    pub recipe: LabRecipe,
    pub splits: Rc<Splits>,
    /// Whether `splits` are those an earlier run read from the same folder.
    read_before: bool,
}

/// The images of a run's splits.
pub struct Splits {
    pub train: ImageSet,
    pub val: ImageSet,
    /// Named as the trainer's report names them.
    pub tests: Vec<(String, ImageSet)>,
}

impl LabSets {
    /// The run's sets: spurious MNIST from the Lab's subset (downloaded once and kept), or the
    /// user's folder (kept for the next run); read for the recipe of the given ERM model
    /// (`erm`), if any.
    pub async fn read(
        lab: &LabRun<'_>,
        kept: &RefCell<KeptData>,
        data: RunData<'_>,
        erm: Option<&BundleMetadata>,
        settings: &LabSettings,
    ) -> Result<LabSets, Ended> {
        let checked_recipe = |task: &LabTask| -> Result<LabRecipe, Ended> {
            settings.check(task, erm).map_err(Ended::Failed)?;
            Ok(task.recipe(settings, erm))
        };
        match data {
            RunData::SpuriousMnist(urls) => {
                let recipe = checked_recipe(&LabTask::SpuriousMnist)?;
                let subset = kept_mnist(lab, kept, urls).await?;
                Ok(LabSets {
                    recipe,
                    splits: Rc::new(Splits::spurious_mnist(&subset, settings)),
                    read_before: false,
                })
            }
            RunData::Folder(files) => {
                let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
                let layout = image_folder::arrange(&paths).map_err(|error| {
                    Ended::Failed(format!("the folder cannot be trained on: {error}"))
                })?;
                let recipe = checked_recipe(&LabTask::Folder {
                    class_names: layout.class_names.clone(),
                })?;
                let key = FolderKey::of(files, settings, recipe.image_size);
                let kept_splits = kept
                    .borrow()
                    .folder
                    .as_ref()
                    .and_then(|read| (read.key == key).then(|| read.splits.clone()));
                if let Some(splits) = kept_splits {
                    return Ok(LabSets {
                        recipe,
                        splits,
                        read_before: true,
                    });
                }
                // The last folder's images go first, so that the worker never holds two.
                kept.borrow_mut().folder = None;
                let splits = Rc::new(Splits::folder(lab, files, &layout, &key).await?);
                kept.borrow_mut().folder = Some(ReadFolder {
                    key,
                    splits: splits.clone(),
                });
                Ok(LabSets {
                    recipe,
                    splits,
                    read_before: false,
                })
            }
        }
    }

    /// The held-out sets in the order [`HeldOut`](super::HeldOut) keeps them: validation, then
    /// the tests.
    pub fn held_out(&self) -> Vec<NamedSet<'_>> {
        let splits = &self.splits;
        std::iter::once(("val", &splits.val))
            .chain(splits.tests.iter().map(|(name, set)| (name.as_str(), set)))
            .map(|(name, set)| NamedSet { name, set })
            .collect()
    }

    pub fn batching(&self) -> Batching {
        Batching {
            batch_size: self.recipe.recipe.batch_size,
            normalization: self.recipe.normalization,
            augmentation: self.recipe.augmentation,
        }
    }

    /// What the page shows of the data: sizes, and the training set's groups (or classes).
    pub fn summary(&self) -> LabEvent {
        let Splits { train, val, tests } = &*self.splits;
        let (names, counts) = match train.group_counts() {
            Some(counts) => (&train.group_names, counts),
            None => (&train.class_names, train.class_counts()),
        };
        LabEvent::DataReady {
            train: train.len(),
            val: val.len(),
            tests: tests
                .iter()
                .map(|(name, set)| (name.clone(), set.len()))
                .collect(),
            train_groups: names.iter().cloned().zip(counts).collect(),
            read_before: self.read_before,
        }
    }

    /// The group of training image `i`, or its class where the set has no groups.
    pub fn group_of(&self, i: usize) -> String {
        let train = &self.splits.train;
        let (names, of) = match &train.groups {
            Some(groups) => (&train.group_names, groups[i]),
            None => (&train.class_names, train.labels[i]),
        };
        names.get(of as usize).cloned().unwrap_or_default()
    }
}

impl Splits {
    /// Spurious MNIST as `trainer-native --experiment spurious-mnist --data <the Lab's data>
    /// --seed S --subset N` builds it.
    fn spurious_mnist(data: &MnistSubset, settings: &LabSettings) -> Splits {
        let split = mnist_idx::split(data.train_full.clone(), data.test.clone(), settings.seed);
        let config = SpuriousConfig {
            seed: settings.seed,
            ..Default::default()
        };
        let sets = spurious_mnist::build(&split, &config);
        let subset = |set: ImageSet| set.shuffled_subset(settings.images, settings.seed);
        Splits {
            train: subset(sets.train),
            val: subset(sets.val),
            tests: vec![
                ("test_original".into(), subset(sets.test_original)),
                ("test_biased".into(), subset(sets.test_biased)),
            ],
        }
    }

    /// The user's folder (its files placed as `layout`) as `trainer-native --experiment folder
    /// --data <the folder> --image-size S --seed S --subset N` reads it: the sets chosen first,
    /// then only their images decoded here (PNG and JPEG by the trainer's decoder), at the
    /// key's side.
    async fn folder(
        lab: &LabRun<'_>,
        files: &[LabFile],
        layout: &FolderLayout,
        key: &FolderKey,
    ) -> Result<Splits, Ended> {
        let plan = image_folder::plan(layout, key.seed, Some(key.images));
        let images = fits_in_memory(&plan, key.side).map_err(Ended::Failed)?;
        let mut reading = FolderReading {
            lab,
            files,
            layout,
            side: key.side,
            done: 0,
            of: images as u64,
        };
        Ok(Splits {
            train: reading.set(&plan.train).await?,
            val: reading.set(&plan.val).await?,
            tests: vec![("test".into(), reading.set(&plan.test).await?)],
        })
    }
}

/// The number of images `plan` chooses, if they fit in [`MAX_FOLDER_BYTES`] at `side` px; else
/// what to change.
fn fits_in_memory(plan: &SplitPlan, side: usize) -> Result<usize, String> {
    let images = plan.train.len() + plan.val.len() + plan.test.len();
    // The masking pass copies the training set once more.
    let bytes = (images + plan.train.len()) * side * side * 3;
    if bytes > MAX_FOLDER_BYTES {
        return Err(format!(
            "{images} images of {side}x{side} px would take {} MB in the page, more than its {} MB \
             for a folder: lower the images per split or the image side",
            bytes / 1_000_000,
            MAX_FOLDER_BYTES / 1_000_000
        ));
    }
    Ok(images)
}

/// The user's folder being decoded, set by set, with progress over all the images chosen.
struct FolderReading<'a> {
    lab: &'a LabRun<'a>,
    files: &'a [LabFile],
    layout: &'a FolderLayout,
    side: usize,
    done: u64,
    of: u64,
}

impl FolderReading<'_> {
    /// The images `chosen` (indices into the layout's images), decoded in that order.
    async fn set(&mut self, chosen: &[usize]) -> Result<ImageSet, Ended> {
        let mut set = ImageSet {
            images: Vec::with_capacity(chosen.len() * self.side * self.side * 3),
            width: self.side,
            height: self.side,
            labels: Vec::with_capacity(chosen.len()),
            groups: None,
            class_names: self.layout.class_names.clone(),
            group_names: Vec::new(),
        };
        for &i in chosen {
            let placed = self.layout.images[i];
            let file = &self.files[placed.index];
            let image = image_input::decode(&file.blob, &file.path, self.side)
                .await
                .map_err(|error| {
                    Ended::Failed(format!("{error}; remove or replace it in the folder"))
                })?;
            set.images.extend(image.rgb);
            set.labels.push(placed.label);
            self.done += 1;
            progress(self.lab, LabStep::Reading, self.done, self.of);
            if (self.lab.stop_requested)() {
                return Err(Ended::Stopped);
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use masktune::data::image_folder::SplitPlan;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{Ended, HandedFolder, RunData, fits_in_memory};
    use crate::protocol::lab::{LabData, LabFile};

    fn files(paths: &[&str]) -> Vec<LabFile> {
        let blob = web_sys::Blob::new().unwrap();
        paths
            .iter()
            .map(|path| LabFile {
                path: path.to_string(),
                blob: blob.clone(),
            })
            .collect()
    }

    fn read(data: &LabData, handed: &HandedFolder) -> Result<Vec<String>, String> {
        match RunData::of(data, handed) {
            Ok(RunData::Folder(files)) => Ok(files.iter().map(|f| f.path.clone()).collect()),
            Ok(RunData::SpuriousMnist(_)) => Err("spurious MNIST".into()),
            Err(Ended::Failed(message)) => Err(message),
            Err(Ended::Stopped) => Err("stopped".into()),
        }
    }

    #[wasm_bindgen_test]
    fn a_run_reads_the_folder_it_names_once_the_worker_has_all_of_it() {
        let mut handed = HandedFolder::default();
        handed.receive(1, files(&["a/1.png", "b/1.png"]));
        handed.receive(1, files(&["b/2.png"]));
        let run_on = |folder, files| LabData::Folder { folder, files };
        assert_eq!(
            read(&run_on(1, 3), &handed),
            Ok(vec!["a/1.png".into(), "b/1.png".into(), "b/2.png".into()])
        );
        assert_eq!(
            read(&run_on(1, 4), &handed).unwrap_err(),
            "the worker has 3 of the folder's 4 files: start the run again"
        );
        // A newer folder replaces the one before, whose runs find none of their files.
        handed.receive(2, files(&["c/1.png"]));
        assert_eq!(read(&run_on(2, 1), &handed), Ok(vec!["c/1.png".into()]));
        assert_eq!(
            read(&run_on(1, 3), &handed).unwrap_err(),
            "the worker has 0 of the folder's 3 files: start the run again"
        );
    }

    #[wasm_bindgen_test]
    fn a_folder_too_large_for_the_pages_memory_is_refused_before_decoding() {
        let plan = |n: usize| SplitPlan {
            train: (0..n).collect(),
            val: (0..n).collect(),
            test: (0..n).collect(),
        };
        assert_eq!(fits_in_memory(&plan(1000), 64), Ok(3000));
        assert_eq!(
            fits_in_memory(&plan(10_000), 128).unwrap_err(),
            "30000 images of 128x128 px would take 1966 MB in the page, more than its 1500 MB for \
             a folder: lower the images per split or the image side"
        );
    }
}
