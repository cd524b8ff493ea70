//! `trainer-native`: parses the command line and runs the step asked for.

use std::process::ExitCode;

use clap::Parser;
use trainer_native::cli::{Cli, Command, ExportArgs, PipelineArgs};
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
            let (config, sets) = args.resolve()?;
            train::erm::train(
                &config,
                &sets,
                &args.run_dir(),
                args.location.backend,
                args.resume,
            )
            .map(drop)
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
        Command::Export(ExportArgs { step, export }) => {
            let run = step.run_dir();
            let precision = export.weights.into();
            train::export::export(&step.config()?, &run, step.location.backend, precision).map(drop)
        }
        Command::ConvertBundle(args) => {
            train::export::convert_bundle(&args.input, &args.output, args.export.weights.into())
        }
        Command::Pipeline(PipelineArgs {
            train: args,
            export,
        }) => {
            let (config, sets) = args.resolve()?;
            let (run, backend) = (args.run_dir(), args.location.backend);
            train::erm::train(&config, &sets, &run, backend, args.resume)?;
            train::mask::mask(
                &config,
                &sets.train,
                &run,
                backend,
                args.location.masking,
                config.batch_size,
            )?;
            train::finetune::finetune(&config, &sets, &run, backend)?;
            train::evaluate::evaluate(&config, &sets, &run, backend)?;
            train::export::export(&config, &run, backend, export.weights.into()).map(drop)
        }
        Command::Predict(args) => {
            let device = args.backend.device()?;
            let engine = args.backend.masking_engine(args.masking)?;
            let bundles = (args.erm.as_path(), args.masktune.as_path());
            let predictions =
                predict::predict(bundles, &args.images, args.coverage, &device, &engine)?;
            let json = serde_json::to_string_pretty(&predictions)
                .map_err(|e| TrainError::compute("writing JSON", e))?;
            match &args.out {
                Some(path) => std::fs::write(path, json).map_err(TrainError::io("write", path)),
                None => Ok(println!("{json}")),
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
