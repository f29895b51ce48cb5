//! The command line: `serve`, `migrate`, and account administration that works before any
//! administrator can log in. Secrets (passwords, client secrets) are printed once to stdout,
//! never to the log.

mod accounts;
pub mod demo;
mod server;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Settings;
use crate::domain::role::Role;

/// Guthrie: newborn screening follow-up and recall server.
///
/// Configuration comes from config/base.toml (built in), config/<GUTHRIE_ENV>.toml,
/// GUTHRIE__SECTION__KEY environment variables and DATABASE_URL.
#[derive(Debug, Parser)]
#[command(name = "guthrie", version, about, long_about)]
pub struct Cli {
    /// Directory with the per-environment configuration files.
    #[arg(
        long,
        env = "GUTHRIE_CONFIG_DIR",
        default_value = "config",
        global = true
    )]
    pub config_dir: PathBuf,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies migrations first unless database.run_migrations = false).
    /// On an empty database it creates the administrator `admin` and prints its password once.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Staff user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Maternity hospitals.
    #[command(subcommand)]
    Hospital(HospitalCommand),
    /// Hospitals' REST API clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Fill an EMPTY database with a small, labelled demonstration programme (three DEMO
    /// hospitals, a few hundred infants, cases at every urgency, a sweep's notices) and print the
    /// demonstration accounts' passwords once.
    Demo,
    /// Fill an EMPTY database with synthetic hospitals, infants and open cases (benchmarks).
    Generate {
        /// How many hospitals to generate.
        #[arg(long, default_value_t = 100)]
        hospitals: usize,
        /// How many infants to generate.
        #[arg(long, default_value_t = 1_000_000)]
        infants: usize,
        /// Open follow-up cases (a tenth overdue).
        #[arg(long, default_value_t = 50_000)]
        open_cases: usize,
    },
}

/// `guthrie user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints a generated password once unless --password-stdin is given.
    Add(UserAdd),
}

/// Arguments of `user add`.
#[derive(Debug, Args)]
pub struct UserAdd {
    /// Login name.
    #[arg(long)]
    pub username: String,
    /// admin, coordinator, clinician, viewer or hospital_staff.
    #[arg(long)]
    pub role: Role,
    /// Hospital code or id (hospital_staff only).
    #[arg(long)]
    pub hospital: Option<String>,
    /// E-mail for escalations of the user's assigned cases.
    #[arg(long)]
    pub email: Option<String>,
    /// Display name (defaults to the username).
    #[arg(long)]
    pub display_name: Option<String>,
    /// Read the password from standard input instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
}

/// `guthrie hospital …`
#[derive(Debug, Subcommand)]
pub enum HospitalCommand {
    /// Register a hospital.
    Add {
        /// Unique code.
        #[arg(long)]
        code: String,
        /// The hospital's name.
        #[arg(long)]
        name: String,
        /// The district it belongs to.
        #[arg(long)]
        district: Option<String>,
        /// Follow-up contact e-mail (repeatable).
        #[arg(long = "email")]
        emails: Vec<String>,
    },
    /// List hospitals.
    List,
}

/// `guthrie client …`
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a REST client for a hospital (or with --lab for the screening laboratory); prints
    /// client_id and the secret once.
    Add {
        /// Hospital code or id.
        #[arg(long, required_unless_present = "lab", conflicts_with = "lab")]
        hospital: Option<String>,
        /// A laboratory client (receipt, quality and results; no hospital).
        #[arg(long)]
        lab: bool,
        /// Client name.
        #[arg(long, default_value = "HIS integration")]
        name: String,
    },
    /// Issue a new secret for a client (the old one stops working); prints it once.
    Rotate {
        /// The public client id (gc_…).
        #[arg(long)]
        client_id: String,
    },
}

/// Runs a parsed command.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server::serve(settings).await,
        Command::Demo => demo::demo(settings).await,
        Command::Generate {
            hospitals,
            infants,
            open_cases,
        } => server::generate(settings, hospitals, infants, open_cases, now),
        Command::Migrate => server::migrate(settings),
        Command::User(UserCommand::Add(a)) => accounts::add_user(settings, a, now),
        Command::Hospital(HospitalCommand::Add {
            code,
            name,
            district,
            emails,
        }) => accounts::add_hospital(settings, code, name, district, emails, now),
        Command::Hospital(HospitalCommand::List) => accounts::list_hospitals(settings),
        Command::Client(ClientCommand::Add {
            hospital,
            lab,
            name,
        }) => accounts::add_client(settings, hospital, lab, name, now),
        Command::Client(ClientCommand::Rotate { client_id }) => {
            accounts::rotate_client(settings, &client_id, now)
        }
    }
}
