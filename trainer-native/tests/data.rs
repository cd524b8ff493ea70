//! Dataset loaders: against the real data in ../shared/data (MASKTUNE_DATA overrides; a test
//! whose folder is absent says so and passes) and against small fixtures generated in temp dirs.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use trainer_native::data::celeba::{self, CelebaOptions};
use trainer_native::data::spurious_mnist::{self, RED, SpuriousConfig};
use trainer_native::data::{DataError, ImageSet, Split, cifar10, image_folder, mnist};

mod support;
use support::cifar_record;

fn shared(name: &str) -> Option<PathBuf> {
    let root = std::env::var_os("MASKTUNE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
        });
    let dir = root.join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {} not found (set MASKTUNE_DATA)", dir.display());
        None
    }
}

fn set(labels: Vec<u32>, side: usize, classes: usize) -> ImageSet {
    ImageSet {
        images: (0..labels.len() * side * side * 3)
            .map(|i| (i % 251) as u8)
            .collect(),
        width: side,
        height: side,
        labels,
        groups: None,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        group_names: Vec::new(),
    }
}

// ---------- ImageSet helpers ----------

#[test]
fn image_set_subsets_and_holdout() {
    let s = set((0..100).map(|i| i % 10).collect(), 2, 10);
    assert_eq!(s.len(), 100);
    assert_eq!(s.image(3).len(), 12);
    let sub = s.subset(&[5, 1]);
    assert_eq!((sub.labels.clone(), sub.image(0)), (vec![5, 1], s.image(5)));

    let a = s.shuffled_subset(30, 7);
    assert_eq!(a, s.shuffled_subset(30, 7));
    assert_ne!(a, s.shuffled_subset(30, 8));
    assert_eq!(a.len(), 30);
    assert_eq!(s.shuffled_subset(1000, 7).len(), 100);

    let (rest, hold) = s.split_holdout(20, 3);
    assert_eq!((rest.len(), hold.len()), (80, 20));
    assert_eq!(s.split_holdout(20, 3), (rest.clone(), hold.clone()));
    // Disjoint and complete: every image appears exactly once (images here are distinct per index).
    let mut all: Vec<&[u8]> = (0..80)
        .map(|i| rest.image(i))
        .chain((0..20).map(|i| hold.image(i)))
        .collect();
    all.sort();
    let mut orig: Vec<&[u8]> = (0..100).map(|i| s.image(i)).collect();
    orig.sort();
    assert_eq!(all, orig);
    assert_eq!(s.class_counts(), vec![10; 10]);
}

// ---------- MNIST ----------

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(body);
    out
}

fn write_gz(path: &Path, bytes: &[u8]) {
    let mut enc = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
}

/// A valid 3-image 2x2 MNIST folder; `images` overrides the train image file's content.
fn mnist_fixture(images: Option<Vec<u8>>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let imgs =
        images.unwrap_or_else(|| idx(0x803, &[3, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
    write_gz(&dir.path().join("train-images-idx3-ubyte.gz"), &imgs);
    write_gz(
        &dir.path().join("train-labels-idx1-ubyte.gz"),
        &idx(0x801, &[3], &[7, 0, 9]),
    );
    // The test files unpacked: both forms are accepted.
    std::fs::write(
        dir.path().join("t10k-images-idx3-ubyte"),
        idx(0x803, &[1, 2, 2], &[9; 4]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t10k-labels-idx1-ubyte"),
        idx(0x801, &[1], &[4]),
    )
    .unwrap();
    dir
}

#[test]
fn mnist_fixture_parses_and_replicates_gray() {
    let dir = mnist_fixture(None);
    let (train, test) = mnist::load_official(dir.path()).unwrap();
    assert_eq!((train.len(), train.width, train.height), (3, 2, 2));
    assert_eq!(train.labels, vec![7, 0, 9]);
    assert_eq!(train.image(1), &[4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7]);
    assert_eq!(test.labels, vec![4]);
}

#[test]
fn mnist_errors() {
    let err =
        |images: Vec<u8>| mnist::load_official(mnist_fixture(Some(images)).path()).unwrap_err();
    assert!(matches!(
        err(idx(0x801, &[3, 2, 2], &[0; 12])),
        DataError::BadMagic { found: 0x801, .. }
    ));
    let e = err(idx(0x803, &[3, 2, 2], &[0; 11]));
    assert!(
        matches!(
            e,
            DataError::Truncated {
                expected: 28,
                found: 27,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("train-images-idx3-ubyte.gz"), "{e}");
    assert!(matches!(
        err(idx(0x803, &[3, 2, 2], &[0; 13])),
        DataError::Invalid { .. }
    ));
    assert!(matches!(err(vec![0, 0, 8]), DataError::Truncated { .. }));
    // A huge count in a corrupt header is an error, not an overflow or an allocation.
    assert!(matches!(
        err(idx(0x803, &[u32::MAX, u32::MAX, u32::MAX], &[])),
        DataError::Truncated { .. }
    ));
    // 2 images for 3 labels.
    assert!(matches!(
        err(idx(0x803, &[2, 2, 2], &[0; 8])),
        DataError::Invalid { .. }
    ));

    let dir = mnist_fixture(None);
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte.gz"),
        b"\x1f\x8b\x08\x00garbage",
    )
    .unwrap();
    let e = mnist::load_official(dir.path()).unwrap_err();
    assert!(
        matches!(e, DataError::Io { .. }) && e.to_string().contains("train-labels"),
        "{e}"
    );

    let dir = mnist_fixture(None);
    std::fs::remove_file(dir.path().join("train-labels-idx1-ubyte.gz")).unwrap();
    let e = mnist::load_official(dir.path()).unwrap_err();
    assert!(
        matches!(e, DataError::MissingFile { .. }) && e.to_string().contains("download"),
        "{e}"
    );

    let e = mnist::load_official(Path::new("/nonexistent/mnist")).unwrap_err();
    assert!(
        matches!(e, DataError::MissingDir { .. }) && e.to_string().contains("/nonexistent/mnist"),
        "{e}"
    );
}

/// The Lab's subset in the repository (scripts/make_lab_data.py) is MNIST's first 12,000 training
/// and 2,000 test images, and splits 10,000 / 2,000 / 2,000 like the page splits it.
#[test]
fn lab_subset_loads_and_matches_mnist() {
    let lab = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../app/assets/lab/mnist"
    ));
    let split = mnist::load(lab, 0).unwrap();
    let sizes = (split.train.len(), split.val.len(), split.test.len());
    assert_eq!(sizes, (10_000, 2_000, 2_000));
    let Some(dir) = shared("mnist") else { return };
    let (train, test) = mnist::load_official(&dir).unwrap();
    let (lab_train, lab_test) = mnist::load_official(lab).unwrap();
    assert_eq!(lab_train, train.subset(&(0..12_000).collect::<Vec<_>>()));
    assert_eq!(lab_test, test.subset(&(0..2_000).collect::<Vec<_>>()));
}

#[test]
fn mnist_shared_data_and_spurious_mnist() {
    let Some(dir) = shared("mnist") else { return };
    let (train, test) = mnist::load_official(&dir).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(
        (test.width, test.height, test.image_len()),
        (28, 28, 28 * 28 * 3)
    );
    assert_eq!(train.labels[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(test.labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert_eq!(
        train.class_counts(),
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    // What mnist::load does, without decoding the files twice.
    let (train, val) = train.split_holdout(masktune::data::mnist_idx::VAL_SIZE, 0);
    let split = Split { train, val, test };
    assert_eq!((split.train.len(), split.val.len()), (55_000, 5_000));
    assert!(
        split
            .test
            .image(0)
            .chunks(3)
            .all(|p| p[0] == p[1] && p[1] == p[2])
    );
    eprintln!(
        "mnist: train {:?} val {:?}",
        split.train.class_counts(),
        split.val.class_counts()
    );

    let config = SpuriousConfig {
        seed: 0,
        ..Default::default()
    };
    let s = spurious_mnist::build(&split, &config);
    check_spurious(&s.train, 0.99, 0.01);
    check_spurious(&s.val, 0.99, 0.01);
    check_spurious(&s.test_original, 0.0, 0.0);
    check_spurious(&s.test_biased, 0.0, 1.0);
    for name in ["train", "val"] {
        let set = if name == "train" { &s.train } else { &s.val };
        eprintln!(
            "spurious mnist {name} groups {:?}: {:?}",
            set.group_names,
            set.group_counts()
        );
    }
    eprintln!(
        "spurious mnist test_biased groups: {:?}",
        s.test_biased.group_counts()
    );
}

/// Exactly round(p * n) squares per class, the square red 4x4 at the top-left iff the group says so,
/// the rest of each image untouched.
fn check_spurious(s: &ImageSet, p0: f64, p1: f64) {
    let groups = s.groups.as_ref().unwrap();
    let counts = s.group_counts().unwrap();
    let n0 = counts[0] + counts[1];
    let n1 = counts[2] + counts[3];
    assert_eq!(counts[1], (p0 * n0 as f64).round() as usize);
    assert_eq!(counts[3], (p1 * n1 as f64).round() as usize);
    assert_eq!(s.class_counts(), vec![n0, n1]);
    assert_eq!(groups.len(), s.len());
    for (i, &group) in groups.iter().enumerate() {
        assert_eq!(group / 2, s.labels[i]);
        let img = s.image(i);
        let corner_red = (0..4).all(|y| (0..4).all(|x| img[(y * s.width + x) * 3..][..3] == RED));
        assert_eq!(corner_red, group % 2 == 1, "image {i}");
    }
}

#[test]
fn spurious_mnist_exact_fractions_and_seeds() {
    // 10 digits x 150 images of 6x6 gray (no red anywhere, as in MNIST).
    let mut digits = set((0..1500).map(|i| i % 10).collect(), 6, 10);
    digits.images.iter_mut().for_each(|v| *v = 0);
    let split = Split {
        train: digits.clone(),
        val: digits.subset(&(0..200).collect::<Vec<_>>()),
        test: digits,
    };
    let config = SpuriousConfig {
        seed: 42,
        ..Default::default()
    };
    let a = spurious_mnist::build(&split, &config);
    check_spurious(&a.train, 0.99, 0.01);
    assert_eq!(a.train.group_counts().unwrap(), vec![7, 743, 742, 8]);
    check_spurious(&a.val, 0.99, 0.01);
    assert_eq!(a.val.group_counts().unwrap(), vec![1, 99, 99, 1]);
    check_spurious(&a.test_original, 0.0, 0.0);
    check_spurious(&a.test_biased, 0.0, 1.0);
    assert_eq!(a.test_biased.group_counts().unwrap(), vec![750, 0, 0, 750]);
    assert_eq!(a.train.labels[..10], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);

    assert_eq!(a, spurious_mnist::build(&split, &config));
    let b = spurious_mnist::build(
        &split,
        &SpuriousConfig {
            seed: 43,
            ..config.clone()
        },
    );
    assert_ne!(a.train.groups, b.train.groups);
    // Train and val draw from different streams of the same seed.
    assert_ne!(
        a.train.groups.as_ref().unwrap()[..200],
        a.val.groups.as_ref().unwrap()[..]
    );
}

// ---------- CIFAR-10 ----------

fn cifar_fixture(dir: &Path, batches: &[(&str, Vec<u8>)]) {
    std::fs::write(dir.join("batches.meta.txt"), "a\nb\nc\n\n").unwrap();
    for (name, bytes) in batches {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn cifar_fixture_chw_to_hwc_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rec = cifar_record(2, 0);
    cifar_fixture(
        dir.path(),
        &[
            (
                "data_batch_2.bin",
                [rec.clone(), cifar_record(0, 5)].concat(),
            ),
            ("test_batch.bin", cifar_record(1, 9)),
        ],
    );
    let (train, test) = cifar10::load_official(dir.path()).unwrap();
    assert_eq!(
        (train.labels.clone(), test.labels.clone()),
        (vec![2, 0], vec![1])
    );
    assert_eq!(train.class_names, vec!["a", "b", "c"]);
    // Pixel (y=1, x=3) = plane offset 35: R, G, B from the three planes.
    let p = (32 + 3) * 3;
    assert_eq!(
        train.image(0)[p..p + 3],
        [rec[1 + 35], rec[1 + 1024 + 35], rec[1 + 2048 + 35]]
    );

    std::fs::write(dir.path().join("data_batch_3.bin"), vec![0; 3073 + 10]).unwrap();
    let e = cifar10::load_official(dir.path()).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::BadRecordSize {
                size: 3083,
                record: 3073,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("data_batch_3.bin"), "{e}");

    std::fs::write(dir.path().join("data_batch_3.bin"), cifar_record(3, 0)).unwrap();
    assert!(matches!(
        cifar10::load_official(dir.path()).unwrap_err(),
        DataError::Invalid { .. }
    ));

    let empty = tempfile::tempdir().unwrap();
    cifar_fixture(empty.path(), &[("test_batch.bin", cifar_record(1, 0))]);
    assert!(matches!(
        cifar10::load_official(empty.path()).unwrap_err(),
        DataError::Empty { .. }
    ));
}

#[test]
fn cifar_shared_data() {
    let Some(dir) = shared("cifar10") else { return };
    let (train, test) = cifar10::load_official(&dir).unwrap();
    assert_eq!((train.len(), test.len()), (40_000, 10_000));
    assert_eq!(test.class_counts(), vec![1000; 10]);
    assert_eq!(train.class_names[0], "airplane");
    assert_eq!(train.class_names[9], "truck");
    let per_batch = [
        [1004, 989, 984, 1034, 957, 1055, 1003, 1025, 976, 973],
        [1015, 1003, 1028, 994, 985, 977, 1001, 998, 971, 1028],
        [1000, 994, 1010, 998, 1025, 1023, 976, 985, 971, 1018],
        [969, 1012, 1000, 985, 1029, 981, 1010, 1031, 1028, 955],
    ];
    let expected: Vec<usize> = (0..10)
        .map(|c| per_batch.iter().map(|b| b[c]).sum())
        .collect();
    assert_eq!(train.class_counts(), expected);
    let split = cifar10::load(&dir, 1).unwrap();
    assert_eq!(
        (split.train.len(), split.val.len(), split.test.len()),
        (35_000, 5_000, 10_000)
    );
    eprintln!("cifar10 val class counts: {:?}", split.val.class_counts());
}

// ---------- CelebA ----------

#[test]
fn celeba_shared_annotations_and_subset() {
    let Some(dir) = shared("celeba") else { return };
    let ann = celeba::read_annotations(&dir).unwrap();
    assert_eq!((ann.files.len(), ann.attribute_names.len()), (14440, 40));
    let per_split: Vec<usize> = (0..3)
        .map(|p| ann.partition.iter().filter(|&&x| x == p).count())
        .collect();
    assert_eq!(per_split, vec![6250, 3000, 5190]);
    let counts = ann.group_counts("Blond_Hair", "Male").unwrap();
    eprintln!("celeba groups (not blond F, not blond M, blond F, blond M) per split: {counts:?}");
    assert_eq!(
        counts,
        [
            [2700, 2618, 874, 58],
            [1279, 1277, 400, 44],
            [2472, 2022, 651, 45]
        ]
    );

    let e = ann.attribute("Blonde").unwrap_err();
    assert!(
        matches!(e, DataError::UnknownAttribute { .. }) && e.to_string().contains("Blond_Hair"),
        "{e}"
    );

    let options = CelebaOptions {
        image_size: 32,
        max_per_split: Some(6),
        ..Default::default()
    };
    let data = celeba::load(&dir, &options).unwrap();
    for s in [&data.split.train, &data.split.val, &data.split.test] {
        assert_eq!((s.len(), s.width, s.images.len()), (6, 32, 6 * 32 * 32 * 3));
        let groups = s.groups.as_ref().unwrap();
        assert!(s.labels.iter().zip(groups).all(|(&l, &g)| g / 2 == l));
    }
    assert_eq!(
        data.split.train.class_names,
        vec!["not blond hair", "blond hair"]
    );
    assert_eq!(data.skipped_missing, 0);
}

/// Every one of the pack's 14,440 images decodes, and the loaded sets hold the README's groups.
#[test]
fn celeba_shared_loads_every_image() {
    let Some(dir) = shared("celeba") else { return };
    let options = CelebaOptions {
        image_size: 8,
        ..Default::default()
    };
    let data = celeba::load(&dir, &options).unwrap();
    let counts = |s: &ImageSet| {
        let mut c = [0usize; 4];
        s.groups
            .as_ref()
            .unwrap()
            .iter()
            .for_each(|&g| c[g as usize] += 1);
        c
    };
    let split = &data.split;
    assert_eq!(
        [
            counts(&split.train),
            counts(&split.val),
            counts(&split.test)
        ],
        [
            [2700, 2618, 874, 58],
            [1279, 1277, 400, 44],
            [2472, 2022, 651, 45]
        ]
    );
    assert_eq!(split.test.images.len(), 5190 * 8 * 8 * 3);
    assert_eq!(data.skipped_missing, 0);
}

/// Three CelebA rows (CRLF, trailing spaces) with two attributes; the images are written as
/// JPEGs of 10x14 except those in `missing`.
fn celeba_fixture(missing: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let attrs =
        "3\r\nBlond_Hair Male \r\n000001.jpg -1  1\r\n000002.jpg  1 -1\r\n000003.jpg 1 1\r\n";
    std::fs::write(dir.path().join("list_attr_celeba.txt"), attrs).unwrap();
    std::fs::write(
        dir.path().join("list_eval_partition.txt"),
        "000001.jpg 0\r\n000002.jpg 0\r\n000003.jpg 2\r\n",
    )
    .unwrap();
    let images = dir.path().join("img_align_celeba");
    std::fs::create_dir(&images).unwrap();
    for name in ["000001.jpg", "000002.jpg", "000003.jpg"] {
        if !missing.contains(&name) {
            image::RgbImage::from_pixel(10, 14, image::Rgb([200, 100, 50]))
                .save(images.join(name))
                .unwrap();
        }
    }
    dir
}

#[test]
fn celeba_fixture_groups_missing_and_parse_errors() {
    let options = CelebaOptions {
        image_size: 8,
        ..Default::default()
    };
    let dir = celeba_fixture(&[]);
    let data = celeba::load(dir.path(), &options).unwrap();
    assert_eq!(data.split.train.labels, vec![0, 1]);
    assert_eq!(data.split.train.groups, Some(vec![1, 2]));
    assert_eq!(data.split.test.groups, Some(vec![3]));
    assert!(data.split.val.is_empty());
    let px = data.split.test.image(0);
    assert_eq!(px.len(), 8 * 8 * 3);
    assert!(
        px.chunks(3)
            .all(|p| p[0].abs_diff(200) < 8 && p[1].abs_diff(100) < 8 && p[2].abs_diff(50) < 8)
    );

    let swapped = CelebaOptions {
        target: "Male".into(),
        spurious: "Blond_Hair".into(),
        ..options.clone()
    };
    assert_eq!(
        celeba::load(dir.path(), &swapped)
            .unwrap()
            .split
            .train
            .groups,
        Some(vec![2, 1])
    );
    let bad = CelebaOptions {
        spurious: "male".into(),
        ..options.clone()
    };
    let e = celeba::load(dir.path(), &bad).unwrap_err();
    assert!(
        e.to_string().contains("\"male\"") && e.to_string().contains("Blond_Hair, Male"),
        "{e}"
    );

    let dir = celeba_fixture(&["000002.jpg"]);
    let e = celeba::load(dir.path(), &options).unwrap_err();
    assert!(
        matches!(e, DataError::MissingFile { .. }) && e.to_string().contains("000002.jpg"),
        "{e}"
    );
    let skip = CelebaOptions {
        skip_missing: true,
        ..options.clone()
    };
    let data = celeba::load(dir.path(), &skip).unwrap();
    assert_eq!((data.skipped_missing, data.split.train.len()), (1, 1));

    std::fs::write(
        dir.path().join("img_align_celeba/000001.jpg"),
        b"not a jpeg",
    )
    .unwrap();
    let e = celeba::load(dir.path(), &skip).unwrap_err();
    assert!(
        matches!(e, DataError::Image { .. }) && e.to_string().contains("000001.jpg"),
        "{e}"
    );

    let dir = celeba_fixture(&[]);
    std::fs::write(
        dir.path().join("list_attr_celeba.txt"),
        "3\r\nBlond_Hair Male\r\n000001.jpg -1 0\r\n",
    )
    .unwrap();
    let e = celeba::read_annotations(dir.path()).unwrap_err();
    assert!(matches!(e, DataError::Parse { line: 3, .. }), "{e}");
    std::fs::write(
        dir.path().join("list_attr_celeba.txt"),
        "3\r\nBlond_Hair Male\r\n000001.jpg -1 1\r\n",
    )
    .unwrap();
    assert!(matches!(
        celeba::read_annotations(dir.path()).unwrap_err(),
        DataError::Invalid { .. }
    ));
}

// ---------- image folders ----------

fn save(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)))
        .save(path)
        .unwrap();
}

#[test]
fn image_folder_splits_crop_and_errors() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // 6x2: left, centre and right thirds in different colours; the centre crop keeps x = 2..4.
    save(&r.join("train/dog/a.png"), 6, 2, |x, _| {
        [if (2..4).contains(&x) { 10 } else { 250 }, 0, 0]
    });
    save(&r.join("train/cat/b.bmp"), 3, 3, |_, _| [1, 2, 3]);
    save(&r.join("train/cat/c.PNG"), 3, 3, |_, _| [4, 5, 6]);
    std::fs::write(r.join("train/cat/notes.txt"), "ignored").unwrap();
    save(&r.join("test/dog/d.jpg"), 16, 16, |_, _| [0, 0, 255]);

    // test/ given, validation held out of train/ (one of its three images).
    let f = image_folder::load(r, 2, 0, None).unwrap();
    assert_eq!(f.train.class_names, vec!["cat", "dog"]);
    let mut all = [f.train.labels.clone(), f.val.labels.clone()].concat();
    all.sort_unstable();
    assert_eq!((f.val.len(), all), (1, vec![0, 0, 1]));
    let dog = f.train.labels.iter().position(|&l| l == 1);
    let dog_image = dog.map_or(f.val.image(0), |i| f.train.image(i));
    assert_eq!(dog_image, &[10, 0, 0].repeat(4)[..]);
    assert_eq!(f.test.labels, vec![1]);

    // Without split folders the root itself is the training set, validation and test held out;
    // a subset is drawn from each.
    let flat = image_folder::load(&r.join("train"), 3, 0, None).unwrap();
    assert_eq!(
        (flat.train.len(), flat.val.len(), flat.test.len()),
        (1, 1, 1)
    );
    let cats = [&flat.train, &flat.val, &flat.test].map(|set| set.image(0)[0]);
    assert!(cats.contains(&1) && cats.contains(&4), "{cats:?}");
    let subset = image_folder::load(r, 2, 0, Some(1)).unwrap();
    assert_eq!(subset.train.len(), 1);

    save(&r.join("val/bird/e.png"), 2, 2, |_, _| [0; 3]);
    let e = image_folder::load(r, 2, 0, None).unwrap_err();
    assert!(e.to_string().contains("bird"), "{e}");
    std::fs::remove_dir_all(r.join("val")).unwrap();

    std::fs::write(r.join("train/cat/broken.jpg"), b"\xff\xd8\xff garbage").unwrap();
    let e = image_folder::load(r, 2, 0, None).unwrap_err();
    assert!(
        matches!(e, DataError::Image { .. }) && e.to_string().contains("broken.jpg"),
        "{e}"
    );

    let e = image_folder::load(&r.join("nothing"), 2, 0, None).unwrap_err();
    assert!(e.to_string().contains("nothing"), "{e}");
}
