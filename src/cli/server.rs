//! `serve`, `migrate` and `generate`: running the server and preparing its database.

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::startup::{Application, open_database};

/// Runs the server until it is stopped; on a first start prints the generated administrator
/// password once.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
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
    Ok(())
}

/// Fills an empty database with synthetic hospitals, infants and open cases.
pub fn generate(
    settings: Settings,
    hospitals: usize,
    infants: usize,
    open_cases: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
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
    Ok(())
}

/// Applies pending migrations and exits.
pub fn migrate(settings: Settings) -> anyhow::Result<()> {
    let mut s = settings;
    s.database.run_migrations = true;
    open_database(&s)?;
    println!("migrations applied");
    Ok(())
}
