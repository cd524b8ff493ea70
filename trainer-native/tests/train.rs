//! The MaskTune pipeline end to end through the `trainer-native` binary, on a tiny subset of
//! spurious MNIST (the first images of ../shared/data/mnist): checkpoints, masks, fine-tuning, evaluation, reports;
//! resuming an interrupted run; clear errors for damaged or mismatched checkpoints.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use burn::prelude::Device;
use burn::store::{ModuleSnapshot, bridge};
use flate2::read::GzDecoder;
use masktune::bundle::{Bundle, BundleMetadata, CheckpointKind};
use masktune::evaluation::EvaluationReport;
use serde_json::Value;
use trainer_native::train::checkpoint::{self, Stage};
use trainer_native::train::masked_set;

const SUBSET: &str = "128";
/// Images of the MNIST fixture: the loader holds 5,000 training images out for validation.
const FIXTURE_TRAIN: usize = 5_000 + 128;
const FIXTURE_TEST: usize = 128;

/// The first images of the real MNIST files, unpacked, in `CARGO_TARGET_TMPDIR`: decoding all
/// 70,000 gzipped digits in a debug build takes longer than the training the tests exercise.
fn mnist_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist");
        assert!(
            source.is_dir(),
            "these tests need MNIST in {}",
            source.display()
        );
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("mnist-{FIXTURE_TRAIN}-{FIXTURE_TEST}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (prefix, n) in [("train", FIXTURE_TRAIN), ("t10k", FIXTURE_TEST)] {
            for (kind, magic, header, record) in [
                ("images-idx3", 0x803u32, 16, 784),
                ("labels-idx1", 0x801, 8, 1),
            ] {
                let name = format!("{prefix}-{kind}-ubyte");
                let mut bytes = vec![0; header + n * record];
                GzDecoder::new(std::fs::File::open(source.join(format!("{name}.gz"))).unwrap())
                    .read_exact(&mut bytes)
                    .unwrap();
                assert_eq!(u32::from_be_bytes(bytes[..4].try_into().unwrap()), magic);
                bytes[4..8].copy_from_slice(&(n as u32).to_be_bytes());
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
        dir
    })
    .clone()
}

/// Runs the binary; `train`, `pipeline` and `import` get the tiny-run settings that `args` does
/// not set.
fn trainer(runs: &Path, args: &[&str]) -> Output {
    let mnist = mnist_dir();
    let mut command = Command::new(env!("CARGO_BIN_EXE_trainer-native"));
    command.args(args).arg("--runs-dir").arg(runs);
    if matches!(args[0], "train" | "pipeline" | "import") {
        command.arg("--data").arg(&mnist);
        for (flag, value) in [
            ("--experiment", "spurious-mnist"),
            ("--subset", SUBSET),
            ("--width", "4"),
            ("--batch-size", "32"),
        ] {
            if !args.contains(&flag) {
                command.args([flag, value]);
            }
        }
    }
    command.output().expect("the trainer binary runs")
}

fn ok(output: Output) -> Output {
    assert!(
        output.status.success(),
        "trainer failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn failure(output: Output) -> String {
    assert!(!output.status.success(), "the trainer should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn report(run: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap()
}

/// Every weight of a checkpoint's model, by path.
fn weights(path: &Path) -> Vec<(String, Vec<f32>)> {
    let loaded = checkpoint::load(path, Stage::Erm, None, &Device::flex()).unwrap();
    let mut all: Vec<(String, Vec<f32>)> = loaded
        .model
        .collect(None, None, false)
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                bridge::to_data(t)
                    .unwrap()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .unwrap(),
            )
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// Plain MNIST (ten digits, no squares) trains, and its bundles evaluate on it per digit.
#[test]
fn plain_mnist_runs_and_its_bundles_evaluate_on_it() {
    let runs = tempfile::tempdir().unwrap();
    let pipeline = [
        "pipeline",
        "--experiment",
        "mnist",
        "--name",
        "digits",
        "--epochs",
        "1",
    ];
    ok(trainer(runs.path(), &pipeline));
    let run = runs.path().join("digits");
    let json = runs.path().join("digits-evaluation.json");
    let bundle = |name: &str| run.join("bundles").join(name);
    let mnist = mnist_dir();
    ok(trainer(
        runs.path(),
        &[
            "evaluate",
            "--erm",
            bundle("erm.bundle").to_str().unwrap(),
            "--masktune",
            bundle("masktune.bundle").to_str().unwrap(),
            "--dataset",
            "mnist",
            "--data",
            mnist.to_str().unwrap(),
            "--subset",
            SUBSET,
            "--json",
            json.to_str().unwrap(),
        ],
    ));
    let evaluation: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(evaluation["class_names"].as_array().unwrap().len(), 10);
    let sets = evaluation["sets"].as_array().unwrap();
    let names: Vec<&str> = sets.iter().map(|s| s["set"].as_str().unwrap()).collect();
    assert_eq!(names, ["val", "test"]);
    let from_run = &report(&run)["evaluation"]["sets"][1];
    let accuracy = &sets[1]["models"][0]["accuracy"];
    assert_eq!(accuracy, &from_run["models"][0]["accuracy"]);
    assert_eq!(
        accuracy["per_class"].as_array().unwrap().len(),
        10,
        "{accuracy}"
    );
}

#[test]
fn pipeline_runs_end_to_end_and_finetunes_one_epoch_on_the_masked_set() {
    let runs = tempfile::tempdir().unwrap();
    ok(trainer(
        runs.path(),
        &["pipeline", "--name", "e2e", "--epochs", "1"],
    ));
    let run = runs.path().join("e2e");
    for file in [
        "config.json",
        "checkpoints/erm_best.ckpt",
        "checkpoints/erm_last.ckpt",
        "checkpoints/masktune.ckpt",
        "masked_train.bin",
        "mask_examples.png",
        "risk_coverage.csv",
        "bundles/erm.bundle",
        "bundles/masktune.bundle",
    ] {
        assert!(run.join(file).is_file(), "{file} is missing");
    }
    let report = report(&run);
    assert_eq!(report["train"]["history"].as_array().unwrap().len(), 1);
    assert_eq!(report["mask"]["images"], 128);
    // Exactly one epoch over the masked images, from the last ERM epoch.
    assert_eq!(report["finetune"]["images"], 128);
    assert_eq!(report["finetune"]["from_epoch"], 1);
    assert_eq!(report["finetune"]["epoch"]["epoch"], 2);
    let masktune = checkpoint::read_header(&run.join("checkpoints/masktune.ckpt")).unwrap();
    assert_eq!(masktune.history.len(), 2);
    assert_eq!(masktune.history[1].images, 128);
    let sets: Vec<&str> = report["evaluation"]["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["set"].as_str().unwrap())
        .collect();
    assert_eq!(sets, ["val", "test_original", "test_biased"]);
    // Peak memory beside each step's times: one process, so it never falls from step to step.
    let peaks: Vec<u64> = ["train", "mask", "finetune", "evaluation", "export"]
        .iter()
        .map(|step| {
            report["peak_memory_bytes"][step]
                .as_u64()
                .unwrap_or_else(|| panic!("no peak memory for {step}"))
        })
        .collect();
    assert!(
        peaks[0] > 1 << 20,
        "a trainer uses more than 1 MiB: {peaks:?}"
    );
    assert!(peaks.windows(2).all(|w| w[0] <= w[1]), "{peaks:?}");
    let biased = &report["evaluation"]["sets"][2];
    assert_eq!(biased["selective"]["rows"].as_array().unwrap().len(), 5);
    assert_eq!(biased["models"].as_array().unwrap().len(), 3);
    // The masked file belongs to the training set it was made from, and it masked something.
    let header = masked_set::read_header(&run.join("masked_train.bin")).unwrap();
    assert_eq!((header.count, header.height, header.width), (128, 28, 28));
    assert!(report["mask"]["mean_masked_fraction"].as_f64().unwrap() > 0.0);
    assert_eq!(
        report["mask"]["engine"], "Burn tensor ops",
        "the CPU backend masks with tensor ops by default"
    );
    // The bundles read back, with the class names and the thresholds chosen on validation.
    let bytes = std::fs::read(run.join("bundles/masktune.bundle")).unwrap();
    let (_, meta) = Bundle::from_bytes(&bytes, &Device::flex()).unwrap();
    assert_eq!(meta.checkpoint, CheckpointKind::MaskTune);
    assert_eq!(meta.class_names, ["0-4", "5-9"]);
    assert_eq!(
        meta.selective_thresholds.len(),
        51,
        "every whole percent from 50 to 100"
    );
    assert!(
        !meta.selective_summaries.is_empty(),
        "the test sets' selective tables ship"
    );

    // Masking per group: the groups' images add up to the set and their fractions to the mean.
    let groups = report["mask"]["groups"].as_array().unwrap();
    let images: u64 = groups.iter().map(|g| g["images"].as_u64().unwrap()).sum();
    let weighted: f64 = groups
        .iter()
        .map(|g| g["images"].as_f64().unwrap() * g["mean_masked_fraction"].as_f64().unwrap())
        .sum();
    assert_eq!(images, 128);
    let mean = report["mask"]["mean_masked_fraction"].as_f64().unwrap();
    assert!((weighted / 128.0 - mean).abs() < 1e-12, "{groups:?}");

    summarize_repeats_the_runs_numbers(runs.path(), &run, &report);
    exported_bundles_evaluate_as_the_run_did(runs.path(), &run, &report);
    bundles_convert_to_f16_and_int8(runs.path(), &run);
    int8_bundles_take_the_thresholds_of_their_own_evaluation(runs.path(), &run);
    a_masktune_bundle_stored_as_a_difference_evaluates_as_the_whole_one(runs.path());
    pytorch_exports_come_back_as_the_same_models(runs.path(), &run);
}

/// `export --format safetensors` writes both models as PyTorch state dicts; `import` of the ERM
/// one makes a run whose checkpoints hold the very weights of the run's best ERM checkpoint,
/// and that fine-tunes; a bundle imports as the same weights, a `torch.save` file as the
/// settings' architecture; `train --init-from` starts from it; weights of another width are
/// refused with the keys at fault.
fn pytorch_exports_come_back_as_the_same_models(runs: &Path, run: &Path) {
    ok(trainer(
        runs,
        &["export", "--name", "e2e", "--format", "safetensors"],
    ));
    let erm = run.join("bundles/erm.safetensors");
    assert!(run.join("bundles/masktune.safetensors").exists());
    let erm_arg = erm.to_str().unwrap();

    let imported = runs.join("imported");
    ok(trainer(
        runs,
        &["import", "--name", "imported", "--weights", erm_arg],
    ));
    let best = weights(&run.join("checkpoints/erm_best.ckpt"));
    assert_eq!(weights(&imported.join("checkpoints/erm_best.ckpt")), best);
    assert_eq!(weights(&imported.join("checkpoints/erm_last.ckpt")), best);
    let config: Value =
        serde_json::from_slice(&std::fs::read(imported.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["init_from"], erm_arg);
    ok(trainer(runs, &["mask", "--name", "imported"]));
    ok(trainer(runs, &["finetune", "--name", "imported"]));
    assert!(imported.join("checkpoints/masktune.ckpt").exists());
    // A bundle describes its model too, and imports as the same weights.
    let bundle = run.join("bundles/erm.bundle");
    ok(trainer(
        runs,
        &[
            "import",
            "--name",
            "from-bundle",
            "--weights",
            bundle.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        weights(&runs.join("from-bundle/checkpoints/erm_best.ckpt")),
        best
    );
    // A torch.save file describes nothing: it is the settings' architecture (PyTorch's own
    // weights, so not the run's).
    let pth = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch/mnist_cnn_w4.pth");
    ok(trainer(
        runs,
        &[
            "import",
            "--name",
            "from-pth",
            "--weights",
            pth.to_str().unwrap(),
        ],
    ));
    let from_pth = weights(&runs.join("from-pth/checkpoints/erm_best.ckpt"));
    assert_eq!(from_pth.len(), best.len());
    assert_ne!(from_pth, best);
    // A described model must be the one the settings name.
    let err = failure(trainer(
        runs,
        &[
            "import",
            "--name",
            "wide",
            "--width",
            "8",
            "--weights",
            erm_arg,
        ],
    ));
    assert!(
        err.contains("erm.safetensors")
            && err.contains(
                "it holds a MNIST CNN (width 4), the settings name a MNIST CNN (width 8)"
            ),
        "{err}"
    );

    let log = ok(trainer(
        runs,
        &[
            "train",
            "--name",
            "init",
            "--epochs",
            "1",
            "--init-from",
            erm_arg,
        ],
    ));
    assert!(
        String::from_utf8_lossy(&log.stderr).contains("loaded the PyTorch weights"),
        "{}",
        String::from_utf8_lossy(&log.stderr)
    );
    let err = failure(trainer(
        runs,
        &[
            "train",
            "--name",
            "wider",
            "--width",
            "8",
            "--init-from",
            erm_arg,
        ],
    ));
    assert!(
        err.contains("erm.safetensors")
            && err.contains("'backbone.0.weight' is [4, 3, 3, 3], expected [8, 3, 3, 3]"),
        "{err}"
    );
}

/// `evaluate --erm ERM --masktune MASKTUNE` on the tests' spurious MNIST in batches of 32, its
/// evaluation written as JSON to `json`, then `extra`.
fn evaluate_pair(runs: &Path, [erm, masktune]: [&Path; 2], json: &Path, extra: &[&str]) -> Output {
    let mnist = mnist_dir();
    let mut args = vec![
        "evaluate",
        "--erm",
        erm.to_str().unwrap(),
        "--masktune",
        masktune.to_str().unwrap(),
        "--dataset",
        "spurious-mnist",
        "--data",
        mnist.to_str().unwrap(),
        "--subset",
        SUBSET,
        "--batch-size",
        "32",
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    trainer(runs, &args)
}

/// `evaluate --erm --masktune --dataset` on the run's exported bundles, with the run's data and
/// batch size, gives the run's own evaluation of its best ERM and its MaskTune checkpoint.
fn exported_bundles_evaluate_as_the_run_did(runs: &Path, run: &Path, report: &Value) {
    let json = runs.join("bundles-evaluation.json");
    let bundle = |name: &str| run.join("bundles").join(name);
    let evaluate = |erm: &Path, masktune: &Path| evaluate_pair(runs, [erm, masktune], &json, &[]);
    ok(evaluate(&bundle("erm.bundle"), &bundle("masktune.bundle")));
    let from_bundles: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let from_run = &report["evaluation"];
    assert_eq!(from_bundles["thresholds"], from_run["thresholds"]);
    for (bundles_set, run_set) in from_bundles["sets"]
        .as_array()
        .unwrap()
        .iter()
        .zip(from_run["sets"].as_array().unwrap())
    {
        let set = run_set["set"].as_str().unwrap();
        assert_eq!(bundles_set["set"], run_set["set"]);
        let models = bundles_set["models"].as_array().unwrap();
        assert_eq!(models.len(), 2, "{set}: ERM and MaskTune");
        for (model, run_model) in models.iter().zip([0, 2]) {
            let expected = &run_set["models"][run_model];
            assert_eq!(model["accuracy"], expected["accuracy"], "{set}");
            assert_eq!(model["groups"], expected["groups"], "{set}");
        }
        for field in ["selective", "aurc", "curve"] {
            assert_eq!(bundles_set[field], run_set[field], "{set}: {field}");
        }
    }
    let err = failure(evaluate(&bundle("masktune.bundle"), &bundle("erm.bundle")));
    assert!(err.contains("swapped"), "{err}");
}

/// The binary with `args` as they are (for the commands that work on bundle files).
fn bundle_command(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer-native"))
        .args(args)
        .output()
        .expect("the trainer binary runs")
}

/// `trainer-native convert-bundle INPUT OUTPUT --weights WEIGHTS`.
fn convert_bundle(input: &Path, output: &Path, weights: &str) -> Output {
    bundle_command(&[
        "convert-bundle",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--weights",
        weights,
    ])
}

/// `evaluate --write-thresholds` on an int8 pair puts the thresholds and summaries of that
/// evaluation into both bundles, and changes nothing else: metadata or weights.
fn int8_bundles_take_the_thresholds_of_their_own_evaluation(runs: &Path, run: &Path) {
    let pair: Vec<PathBuf> = ["erm", "masktune"]
        .iter()
        .map(|name| {
            let int8 = runs.join(format!("{name}-int8.bundle"));
            let f32_bundle = run.join("bundles").join(format!("{name}.bundle"));
            ok(convert_bundle(&f32_bundle, &int8, "int8"));
            int8
        })
        .collect();
    let before: Vec<Vec<u8>> = pair.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let json = runs.join("int8-evaluation.json");
    ok(evaluate_pair(
        runs,
        [&pair[0], &pair[1]],
        &json,
        &["--write-thresholds"],
    ));
    let evaluation: EvaluationReport =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let weights = |bundle: &[u8]| {
        let len = u64::from_le_bytes(bundle[16..24].try_into().unwrap()) as usize;
        bundle[bundle.len() - 4 - len..bundle.len() - 4].to_vec()
    };
    for (path, old) in pair.iter().zip(&before) {
        let new = std::fs::read(path).unwrap();
        let meta = Bundle::metadata(&new).unwrap();
        assert_eq!(meta.selective_thresholds, evaluation.coverage_thresholds());
        assert_eq!(meta.selective_summaries, evaluation.selective_summaries());
        let old_meta = Bundle::metadata(old).unwrap();
        let unchanged = BundleMetadata {
            selective_thresholds: old_meta.selective_thresholds.clone(),
            selective_summaries: old_meta.selective_summaries.clone(),
            ..meta
        };
        assert_eq!(
            unchanged,
            old_meta,
            "{}: only the selective fields",
            path.display()
        );
        assert_eq!(
            weights(&new),
            weights(old),
            "{}: the weights",
            path.display()
        );
    }
}

/// `weights-difference` stores the int8 MaskTune bundle (of the test above) as its difference
/// from the int8 ERM bundle: the pair evaluates exactly as the whole one, `--restore` gives the
/// whole bundle back byte for byte, and reading it alone or with another base says what to give.
fn a_masktune_bundle_stored_as_a_difference_evaluates_as_the_whole_one(runs: &Path) {
    let path = |name: &str| runs.join(name).to_str().unwrap().to_string();
    let (erm, masktune) = (path("erm-int8.bundle"), path("masktune-int8.bundle"));
    let (difference, restored) = (path("masktune-difference.bundle"), path("restored.bundle"));
    ok(bundle_command(&[
        "weights-difference",
        &masktune,
        &difference,
        "--base",
        &erm,
    ]));
    ok(bundle_command(&[
        "weights-difference",
        "--restore",
        &difference,
        &restored,
        "--base",
        &erm,
    ]));
    assert_eq!(
        std::fs::read(&restored).unwrap(),
        std::fs::read(&masktune).unwrap()
    );

    let evaluation = |masktune: &str, json: &str| {
        ok(evaluate_pair(
            runs,
            [Path::new(&erm), Path::new(masktune)],
            &runs.join(json),
            &[],
        ));
        serde_json::from_slice::<Value>(&std::fs::read(runs.join(json)).unwrap()).unwrap()
    };
    assert_eq!(
        evaluation(&difference, "difference-evaluation.json"),
        evaluation(&masktune, "whole-evaluation.json")
    );

    let safetensors = path("masktune.safetensors");
    let convert = |extra: &[&str]| {
        let mut args = vec![
            "convert-bundle",
            &difference,
            &safetensors,
            "--format",
            "safetensors",
        ];
        args.extend_from_slice(extra);
        bundle_command(&args)
    };
    let err = failure(convert(&[]));
    assert!(
        err.contains("masktune-difference.bundle") && err.contains("weights-difference --restore"),
        "{err}"
    );
    ok(convert(&["--base", &erm]));
    let err = failure(bundle_command(&[
        "weights-difference",
        "--restore",
        &difference,
        &restored,
        "--base",
        &masktune,
    ]));
    assert!(
        err.contains("give the ERM bundle it was written against"),
        "{err}"
    );
}

/// `convert-bundle --weights f16` halves a bundle and `--weights int8` quarters it, and the
/// trainer still reads both; a file that is not a bundle is named in the error and nothing is
/// written.
fn bundles_convert_to_f16_and_int8(runs: &Path, run: &Path) {
    let f32_bundle = run.join("bundles/masktune.bundle");
    let f32_bytes = std::fs::read(&f32_bundle).unwrap();
    let (_, f32_meta) = Bundle::from_bytes(&f32_bytes, &Device::flex()).unwrap();
    let mut saved = Vec::new();
    for weights in ["f16", "int8"] {
        let converted = runs.join(format!("masktune-{weights}.bundle"));
        ok(convert_bundle(&f32_bundle, &converted, weights));
        let bytes = std::fs::read(&converted).unwrap();
        let (_, meta) = Bundle::from_bytes(&bytes, &Device::flex()).unwrap();
        assert_eq!(meta, f32_meta, "{weights}: the metadata is kept as is");
        saved.push(f32_bytes.len() as f64 - bytes.len() as f64);
    }
    // The converted weights cost 2 bytes each in f16 and 1 in int8 (plus a 4-byte scale per
    // output channel), 4 in f32; the metadata, biases and batch norms are kept (most of this
    // small model's bundle). So f16 saves 2 bytes a weight and int8 nearly 3.
    let [f16_saved, int8_saved] = saved[..] else {
        unreachable!()
    };
    assert!(
        f16_saved > f32_bytes.len() as f64 * 0.25,
        "f16 saved {f16_saved} of {} bytes",
        f32_bytes.len()
    );
    assert!(
        int8_saved > f16_saved * 1.25,
        "int8 saved {int8_saved} bytes, f16 {f16_saved}"
    );

    let not_a_bundle = runs.join("notes.txt");
    std::fs::write(&not_a_bundle, "not a model").unwrap();
    let output = runs.join("never-written.bundle");
    let err = failure(convert_bundle(&not_a_bundle, &output, "f16"));
    assert!(
        err.contains("notes.txt") && err.contains("not a MaskTune model bundle"),
        "{err}"
    );
    assert!(!output.exists());
}

/// `summarize` of a run given twice: each mean is the run's own number with no spread; the
/// Markdown shows each run's worst group as correct of count; a folder without a report is
/// refused.
fn summarize_repeats_the_runs_numbers(runs: &Path, run: &Path, report: &Value) {
    let json = runs.join("summary.json");
    let output = ok(trainer(
        runs,
        &[
            "summarize",
            run.to_str().unwrap(),
            run.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    ));
    let markdown = String::from_utf8(output.stdout).unwrap();
    let summary: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let evaluated = &report["evaluation"]["sets"][2]["models"][2];
    let summarized = &summary["sets"][2]["models"][2];
    assert_eq!(summary["sets"][2]["set"], "test_biased");
    assert_eq!(summarized["model"], "masktune");
    let worst = &summarized["worst_group"]["accuracy"];
    assert_eq!(worst["mean"], evaluated["groups"]["worst_group_accuracy"]);
    assert_eq!(
        (worst["std"].as_f64(), worst["n"].as_u64()),
        (Some(0.0), Some(2))
    );
    let (low, high) = (
        summarized["worst_group"]["interval"][0].as_f64().unwrap(),
        summarized["worst_group"]["interval"][1].as_f64().unwrap(),
    );
    let mean = worst["mean"].as_f64().unwrap();
    assert!(low < mean && mean < high, "{low} {mean} {high}");
    let per_run = &summarized["worst_group_per_run"][0];
    let cell = format!(
        "{}: {}, {} of {}",
        per_run[0].as_str().unwrap(),
        per_run[1],
        per_run[1],
        per_run[2]
    );
    assert!(markdown.contains(&cell), "{cell} not in\n{markdown}");
    assert!(
        markdown.contains("test_biased (") && markdown.contains("AURC"),
        "{markdown}"
    );

    let empty = runs.join("not-a-run");
    std::fs::create_dir_all(&empty).unwrap();
    let err = failure(trainer(runs, &["summarize", empty.to_str().unwrap()]));
    assert!(
        err.contains("no evaluation") && err.contains("not-a-run"),
        "{err}"
    );
}

/// At most 0.1 % of the masked pixels of the 128 training images may tie with their threshold.
const TIED_PIXELS: usize = 128 * 28 * 28 / 1000;

/// Pixels (3 bytes each) in which two masked-set files differ; the files must be the same size.
fn differing_pixels(a: &[u8], b: &[u8]) -> usize {
    assert_eq!(a.len(), b.len(), "masked sets of different sizes");
    a.chunks(3).zip(b.chunks(3)).filter(|(x, y)| x != y).count()
}

/// The masked set of a run, and again after running `mask` with `args`.
fn remasked(runs: &Path, name: &str, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let file = runs.join(name).join("masked_train.bin");
    let before = std::fs::read(&file).unwrap();
    ok(trainer(runs, &[&["mask", "--name", name], args].concat()));
    (before, std::fs::read(&file).unwrap())
}

/// The WGSL kernels (on wgpu's default adapter; lavapipe without a GPU) mask the training set as
/// Burn's tensor ops on the CPU do. Pixels whose map value ties with the threshold within f32
/// rounding may fall either way; nothing else may differ.
#[test]
fn masking_with_the_kernels_gives_the_masks_of_the_tensor_path() {
    let runs = tempfile::tempdir().unwrap();
    ok(trainer(
        runs.path(),
        &["train", "--name", "m", "--epochs", "1"],
    ));
    ok(trainer(
        runs.path(),
        &["mask", "--name", "m", "--masking", "tensor"],
    ));
    let (by_tensors, by_kernels) = remasked(runs.path(), "m", &["--masking", "kernels"]);
    assert_eq!(
        report(&runs.path().join("m"))["mask"]["engine"],
        "WGSL kernels"
    );
    let differing = differing_pixels(&by_tensors, &by_kernels);
    assert!(
        differing <= TIED_PIXELS,
        "{differing} pixels masked differently"
    );
    assert!(
        report(&runs.path().join("m"))["mask"]["mean_masked_fraction"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn resumed_run_matches_an_uninterrupted_one_and_bad_checkpoints_are_refused() {
    let runs = tempfile::tempdir().unwrap();
    ok(trainer(
        runs.path(),
        &["train", "--name", "straight", "--epochs", "2"],
    ));
    ok(trainer(
        runs.path(),
        &["train", "--name", "resumed", "--epochs", "1"],
    ));
    // Starting over on an existing run is refused rather than overwriting it.
    assert!(
        failure(trainer(
            runs.path(),
            &["train", "--name", "resumed", "--epochs", "2"]
        ))
        .contains("--resume")
    );
    ok(trainer(
        runs.path(),
        &["train", "--name", "resumed", "--epochs", "2", "--resume"],
    ));
    let straight = runs.path().join("straight/checkpoints/erm_last.ckpt");
    let resumed = runs.path().join("resumed/checkpoints/erm_last.ckpt");
    assert_eq!(weights(&straight), weights(&resumed));
    let (a, b) = (
        checkpoint::read_header(&straight).unwrap(),
        checkpoint::read_header(&resumed).unwrap(),
    );
    assert_eq!(a.rng, b.rng);
    assert_eq!(
        a.history.iter().map(|e| e.train_loss).collect::<Vec<_>>(),
        b.history.iter().map(|e| e.train_loss).collect::<Vec<_>>()
    );

    // Another architecture than the checkpoint's.
    let err = failure(trainer(
        runs.path(),
        &[
            "train", "--name", "resumed", "--epochs", "3", "--resume", "--width", "8",
        ],
    ));
    assert!(
        err.contains("does not match this run") && err.contains("architecture"),
        "{err}"
    );

    // A damaged checkpoint: one flipped byte in the middle.
    let mut bytes = std::fs::read(&resumed).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&resumed, &bytes).unwrap();
    let err = failure(trainer(
        runs.path(),
        &["train", "--name", "resumed", "--epochs", "3", "--resume"],
    ));
    assert!(
        err.contains("not a valid checkpoint") && err.contains("checksum"),
        "{err}"
    );

    // Not a checkpoint at all.
    std::fs::write(&resumed, b"hello").unwrap();
    let err = failure(trainer(
        runs.path(),
        &["train", "--name", "resumed", "--epochs", "3", "--resume"],
    ));
    assert!(err.contains("not a trainer-native checkpoint"), "{err}");
}

/// The accuracy of every model on every evaluated set, and the sets' AURC, from a run's report.
#[cfg(feature = "wgpu")]
fn evaluation_numbers(run: &Path) -> Vec<(String, Vec<u64>, f64)> {
    report(run)["evaluation"]["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|set| {
            let correct = set["models"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["accuracy"]["correct"].as_u64().unwrap());
            (
                set["set"].as_str().unwrap().to_owned(),
                correct.collect(),
                set["aurc"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// `--backend wgpu` (lavapipe where there is no GPU) computes what the CPU backend computes: the
/// evaluation of a CPU-trained run and the fine-tuning epoch from its checkpoint (same weights,
/// same batches) agree; and training from scratch runs (its initial weights come from the
/// device's own random stream, so only that it runs is checked).
#[cfg(feature = "wgpu")]
#[test]
fn wgpu_backend_agrees_with_the_cpu() {
    let runs = tempfile::tempdir().unwrap();
    ok(trainer(
        runs.path(),
        &["pipeline", "--name", "cpu", "--epochs", "1"],
    ));
    let run = runs.path().join("cpu");
    let cpu = (
        evaluation_numbers(&run),
        report(&run)["finetune"]["epoch"].clone(),
    );

    ok(trainer(
        runs.path(),
        &["evaluate", "--name", "cpu", "--backend", "wgpu"],
    ));
    ok(trainer(
        runs.path(),
        &["finetune", "--name", "cpu", "--backend", "wgpu"],
    ));
    let wgpu = (
        evaluation_numbers(&run),
        report(&run)["finetune"]["epoch"].clone(),
    );

    for ((set, on_cpu, cpu_aurc), (_, on_wgpu, wgpu_aurc)) in cpu.0.iter().zip(&wgpu.0) {
        // float32 on two devices: an image whose two logits tie within rounding may flip.
        for (a, b) in on_cpu.iter().zip(on_wgpu) {
            assert!(
                a.abs_diff(*b) <= 1,
                "{set}: {on_cpu:?} correct on the CPU, {on_wgpu:?} on wgpu"
            );
        }
        assert!(
            (cpu_aurc - wgpu_aurc).abs() < 0.01,
            "{set}: AURC {cpu_aurc} on the CPU, {wgpu_aurc} on wgpu"
        );
    }
    let (cpu_loss, wgpu_loss) = (
        cpu.1["train_loss"].as_f64().unwrap(),
        wgpu.1["train_loss"].as_f64().unwrap(),
    );
    assert!(
        (cpu_loss - wgpu_loss).abs() < 1e-3,
        "fine-tuning loss {cpu_loss} on the CPU, {wgpu_loss} on wgpu"
    );
    let (cpu_val, wgpu_val) = (
        cpu.1["val_accuracy"].as_f64().unwrap(),
        wgpu.1["val_accuracy"].as_f64().unwrap(),
    );
    assert!(
        (cpu_val - wgpu_val).abs() <= 1.0 / 128.0,
        "fine-tuned val accuracy {cpu_val} on the CPU, {wgpu_val} on wgpu"
    );

    // The masking pass with the kernels on Burn's own wgpu device.
    let (on_cpu, on_wgpu) = remasked(runs.path(), "cpu", &["--backend", "wgpu"]);
    assert_eq!(report(&run)["mask"]["engine"], "WGSL kernels");
    let differing = differing_pixels(&on_cpu, &on_wgpu);
    assert!(
        differing <= TIED_PIXELS,
        "{differing} pixels masked differently"
    );

    ok(trainer(
        runs.path(),
        &[
            "train",
            "--name",
            "gpu",
            "--epochs",
            "1",
            "--backend",
            "wgpu",
        ],
    ));
    assert_eq!(report(&runs.path().join("gpu"))["train"]["backend"], "wgpu");
}
