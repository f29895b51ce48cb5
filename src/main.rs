//! Entry point: parse the command line, load settings, start logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use guthrie::cli::{Cli, run};
use guthrie::config::Settings;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    guthrie::telemetry::init(&settings.log);
    match run(cli, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
