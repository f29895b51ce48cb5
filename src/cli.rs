//! The command line: `serve`, `migrate`, and account administration that works before any
//! administrator can log in. Secrets (passwords, client secrets) are printed once to stdout,
//! never to the log.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Settings;
use crate::db::AnyConnection;
use crate::db::models::{api_client, hospital};
use crate::domain::ids::HospitalId;
use crate::domain::principal::Scope;
use crate::domain::role::Role;
use crate::services::accounts::{self, HospitalInput, UserInput};
use crate::startup::{Application, open_database};

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

/// Sub-commands.
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
    /// Fill an EMPTY database with synthetic hospitals, infants and open cases (benchmarks).
    Generate {
        /// Hospitals.
        #[arg(long, default_value_t = 100)]
        hospitals: usize,
        /// Infants.
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
        /// Name.
        #[arg(long)]
        name: String,
        /// District.
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

fn resolve_hospital(conn: &mut AnyConnection, code_or_id: &str) -> anyhow::Result<HospitalId> {
    let found = match code_or_id.parse::<HospitalId>() {
        Ok(id) => hospital::get(conn, &Scope::unrestricted(), id)?,
        Err(_) => hospital::find_by_code(conn, code_or_id)?,
    };
    let h = found.ok_or_else(|| anyhow::anyhow!("no hospital with code or id {code_or_id}"))?;
    Ok(h.id)
}

fn app_err(e: crate::error::AppError) -> anyhow::Error {
    match e {
        crate::error::AppError::Validation(f) => {
            let lines: Vec<String> =
                f.0.iter()
                    .map(|(k, v)| format!("{k}: {}", v.join("; ")))
                    .collect();
            anyhow::anyhow!("invalid input: {}", lines.join(", "))
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// Runs a parsed command.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let mut app = Application::build(settings)?;
            if let Some(admin) = app.take_first_admin() {
                // Shown once, like Jenkins' initial password; never logged.
                println!(
                    "\nFirst start: created administrator '{}' with password:\n\n    {}\n\n\
                     Log in at POST /api/v1/auth/login and change it (POST /api/v1/auth/password).\n",
                    admin.username, admin.password
                );
            }
            tracing::info!(port = app.port(), "guthrie listening");
            app.run_until_stopped().await?;
            tracing::info!("guthrie stopped");
        }
        Command::Generate {
            hospitals,
            infants,
            open_cases,
        } => {
            let pool = open_database(&settings)?;
            // Stores the catalogue and due-policy versions the generated cases name.
            crate::startup::build_state(
                settings,
                pool.clone(),
                std::sync::Arc::new(crate::state::SystemClock),
            )?;
            let mut conn = pool.get()?;
            let started = std::time::Instant::now();
            let g = crate::demo_data::generate(&mut conn, hospitals, infants, open_cases, now)?;
            println!(
                "generated {} hospitals, {} infants, {} open cases in {:.1} s",
                g.hospitals,
                g.infants,
                g.open_cases,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Migrate => {
            let mut s = settings;
            s.database.run_migrations = true;
            open_database(&s)?;
            println!("migrations applied");
        }
        Command::User(UserCommand::Add(a)) => {
            let pool = open_database(&settings)?;
            let mut conn = pool.get()?;
            let hospital_id = a
                .hospital
                .as_deref()
                .map(|h| resolve_hospital(&mut conn, h))
                .transpose()?;
            let (password, generated) = if a.password_stdin {
                let mut p = String::new();
                std::io::stdin().read_to_string(&mut p)?;
                (p.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (crate::auth::secrets::random_token(18)?, true)
            };
            let input = UserInput {
                display_name: a.display_name.unwrap_or_else(|| a.username.clone()),
                username: a.username,
                password: password.clone(),
                role: a.role,
                hospital_id,
                email: a.email,
            };
            let u = accounts::create_user(&mut conn, input, now).map_err(app_err)?;
            println!("created user {} ({}) id {}", u.username, u.role, u.id);
            if generated {
                println!("password (shown once): {password}");
            }
        }
        Command::Hospital(HospitalCommand::Add {
            code,
            name,
            district,
            emails,
        }) => {
            let pool = open_database(&settings)?;
            let mut conn = pool.get()?;
            let h = accounts::create_hospital(
                &mut conn,
                HospitalInput {
                    code,
                    name,
                    district,
                    contact_emails: emails,
                },
                now,
            )
            .map_err(app_err)?;
            println!("created hospital {} id {}", h.code, h.id);
        }
        Command::Hospital(HospitalCommand::List) => {
            let pool = open_database(&settings)?;
            let mut conn = pool.get()?;
            for h in hospital::list(&mut conn, &Scope::unrestricted(), None)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    h.id,
                    h.code,
                    if h.active { "active" } else { "inactive" },
                    h.name
                );
            }
        }
        Command::Client(ClientCommand::Add {
            hospital,
            lab,
            name,
        }) => {
            let pool = open_database(&settings)?;
            let mut conn = pool.get()?;
            let hospital_id = hospital
                .as_deref()
                .map(|h| resolve_hospital(&mut conn, h))
                .transpose()?;
            let role = if lab {
                Role::LabClient
            } else {
                Role::HospitalClient
            };
            let issued = accounts::create_client(&mut conn, &name, role, hospital_id, now)
                .map_err(app_err)?;
            println!("client_id:     {}", issued.client.client_id);
            println!(
                "client_secret: {}  (shown once; store it now)",
                issued.secret
            );
        }
        Command::Client(ClientCommand::Rotate { client_id }) => {
            let pool = open_database(&settings)?;
            let mut conn = pool.get()?;
            let c = api_client::find_by_client_id(&mut conn, &client_id)?
                .ok_or_else(|| anyhow::anyhow!("no client {client_id}"))?;
            let issued = accounts::rotate_client_secret(&mut conn, &c.id, now).map_err(app_err)?;
            println!("client_id:     {}", issued.client.client_id);
            println!(
                "client_secret: {}  (shown once; store it now)",
                issued.secret
            );
        }
    }
    Ok(())
}
