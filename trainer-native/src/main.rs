//! `trainer-native`: parses the command line and runs the step asked for.

use std::process::ExitCode;

use clap::Parser;
use trainer_native::cli::{Cli, Command, ExportArgs, FileFormat, PipelineArgs};
use trainer_native::predict;
use trainer_native::train::{self, Result, TrainError};

fn main() -> ExitCode {
    trainer_native::allocator::keep_freed_memory();
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Train(args) => {
            let (config, sets) = args.run.resolve(args.init_from.as_deref())?;
            train::erm::train(
                &config,
                &sets,
                &args.run.run_dir(),
                args.run.location.backend,
                args.resume,
            )
            .map(drop)
        }
        Command::Import(args) => {
            let (config, sets) = args.run.resolve(Some(&args.weights))?;
            let backend = args.run.location.backend;
            train::import::import(&config, &sets, &args.run.run_dir(), backend).map(drop)
        }
        Command::Mask(args) => {
            let (config, sets) = args.resolve()?;
            let location = &args.location;
            train::mask::mask(
                &config,
                &sets.train,
                &args.run_dir(),
                location.backend,
                location.masking,
                config.batch_size,
            )
            .map(drop)
        }
        Command::Finetune(args) => {
            let (config, sets) = args.resolve()?;
            train::finetune::finetune(&config, &sets, &args.run_dir(), args.location.backend)
                .map(drop)
        }
        Command::Evaluate(args) => match (args.resolve_bundles()?, args.run()) {
            (Some((pair, sets)), _) => {
                let report = train::evaluate::evaluate_bundles(&pair, &sets, args.batch_size)?;
                if let (true, Some(erm), Some(masktune)) =
                    (args.write_thresholds, &args.erm, &args.masktune)
                {
                    train::export::write_selective_metadata(&[erm, masktune], &report)?;
                }
                match &args.json {
                    Some(path) => train::atomic::write_json_atomic(path, &report),
                    None => Ok(()),
                }
            }
            (None, Some(run)) => {
                let (config, sets) = run.resolve()?;
                let backend = run.location.backend;
                train::evaluate::evaluate(&config, &sets, &run.run_dir(), backend).map(drop)
            }
            (None, None) => unreachable!("clap requires --name or --erm, --masktune and --dataset"),
        },
        Command::Export(ExportArgs {
            step,
            export,
            format,
        }) => {
            let run = step.run_dir();
            let file = export.file(format)?;
            train::export::export(&step.config()?, &run, step.location.backend, file).map(drop)
        }
        Command::ConvertBundle(args) => {
            let file = args.export.file(args.format)?;
            train::export::convert_bundle(&args.input, args.base.as_deref(), &args.output, file)
        }
        Command::WeightsDifference(args) => {
            train::export::weights_difference(&args.input, &args.base, &args.output, args.restore)
        }
        Command::Pipeline(PipelineArgs {
            train: args,
            export,
        }) => {
            let (config, sets) = args.run.resolve(args.init_from.as_deref())?;
            let (run, backend) = (args.run.run_dir(), args.run.location.backend);
            train::erm::train(&config, &sets, &run, backend, args.resume)?;
            train::mask::mask(
                &config,
                &sets.train,
                &run,
                backend,
                args.run.location.masking,
                config.batch_size,
            )?;
            train::finetune::finetune(&config, &sets, &run, backend)?;
            train::evaluate::evaluate(&config, &sets, &run, backend)?;
            let file = export.file(FileFormat::Bundle)?;
            train::export::export(&config, &run, backend, file).map(drop)
        }
        Command::Predict(args) => {
            let device = args.backend.device()?;
            let engine = args.backend.masking_engine(args.masking)?;
            let bundles = (args.erm.as_path(), args.masktune.as_path());
            let predictions =
                predict::predict(bundles, &args.images, args.coverage, &device, &engine)?;
            let json = serde_json::to_string_pretty(&predictions.reports)
                .map_err(|e| TrainError::compute("writing JSON", e))?;
            match &args.out {
                Some(path) => std::fs::write(path, json).map_err(TrainError::io("write", path))?,
                None => println!("{json}"),
            }
            // After the answers are out: a missing label loses none of them.
            match (&predictions.labelled, &args.labelled) {
                (Some(labelled), path) => {
                    eprint!("{}", labelled.markdown());
                    match path {
                        Some(path) => train::atomic::write_json_atomic(path, labelled),
                        None => Ok(()),
                    }
                }
                (None, Some(_)) => Err(TrainError::Settings(
                    "--labelled: no image sits in a folder named after one of the models' \
                     classes (<class>/<image>)"
                        .into(),
                )),
                (None, None) => Ok(()),
            }
        }
        Command::Summarize(args) => {
            let folders: Vec<_> = args.names.iter().map(|n| args.runs_dir.join(n)).collect();
            let summary = train::summary::summarize(&train::summary::load_runs(&folders)?);
            print!("{}", train::summary::markdown(&summary));
            match &args.json {
                Some(path) => train::atomic::write_json_atomic(path, &summary),
                None => Ok(()),
            }
        }
    }
}
