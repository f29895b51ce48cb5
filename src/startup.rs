//! Wiring: database, migrations, first-start admin, secrets, keys, and the HTTP server.
//! `Application::build` binds before serving, so port 0 works and tests learn the real port.

use std::net::TcpListener;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use secrecy::ExposeSecret;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, ApiDoc};
use crate::auth::jwt::JwtKeys;
use crate::auth::rate_limit::RateLimiter;
use crate::config::{RunEnvironment, Settings};
use crate::db::{self, DbPool};
use crate::services::admin::bootstrap::{self, FirstAdmin};
use crate::services::admin::catalogue;
use crate::services::admin::versioned;
use crate::state::{AppState, Clock, SecretKey, SystemClock};
use crate::telemetry::Metrics;

/// Name under which a generated HS256 secret is kept (non-production only).
const JWT_SECRET_NAME: &str = "jwt_hs256_secret";
/// Name under which a generated ID-matching key is kept (non-production only).
const ID_KEY_NAME: &str = "id_hash_key";

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    first_admin: Option<FirstAdmin>,
    /// The MLLP listener, when `hl7.mllp.bind` is set.
    mllp: Option<std::net::TcpListener>,
}

/// Opens the pool and applies migrations when configured.
pub fn open_database(settings: &Settings) -> anyhow::Result<DbPool> {
    let d = &settings.database;
    let pool = db::build_pool(
        d.url.expose_secret(),
        d.pool_size,
        Duration::from_secs(d.connect_timeout_secs),
        d.prepared_statements,
    )?;
    if d.run_migrations {
        let mut conn = pool.get()?;
        let n = db::run_migrations(&mut conn)?;
        tracing::info!(migrations.applied = n, "database schema up to date");
        crate::services::quality::facts::ensure_built(&mut conn)?;
    }
    Ok(pool)
}

/// Builds the shared state: keys come from configuration, or outside production from secrets
/// generated once and kept in the database.
pub fn build_state(
    settings: Settings,
    pool: DbPool,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
    let mut conn = pool.get()?;
    let now = clock.now();
    let production = settings.environment == RunEnvironment::Production;
    let configured_or_generated =
        |conn: &mut db::AnyConnection, configured: &str, name: &str| -> anyhow::Result<Vec<u8>> {
            if !configured.is_empty() || production {
                return Ok(configured.as_bytes().to_vec());
            }
            Ok(bootstrap::instance_secret(conn, name, now)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .into_bytes())
        };
    let hs = configured_or_generated(
        &mut conn,
        settings.auth.jwt_secret.expose_secret(),
        JWT_SECRET_NAME,
    )?;
    let id_key = configured_or_generated(
        &mut conn,
        settings.privacy.id_hash_key.expose_secret(),
        ID_KEY_NAME,
    )?;
    let files = catalogue::load_files(std::path::Path::new(&settings.catalogue.directory))?;
    catalogue::sync(&mut conn, &files, now)?;
    let catalogues = Arc::new(RwLock::new(catalogue::load_store(&mut conn)?));
    let policies = versioned::start::<crate::domain::due::DuePolicy>(
        &mut conn,
        std::path::Path::new(&settings.follow_up.policy_directory),
        now,
    )?;
    let plans = versioned::start::<crate::domain::management::plan::PlanSet>(
        &mut conn,
        std::path::Path::new(&settings.management.plan_directory),
        now,
    )?;
    drop(conn);
    let condition_names = catalogue::condition_names(&catalogues);
    let notifier = crate::notify::Notifier::from_settings(&settings, &condition_names)?;
    let jwt = JwtKeys::from_settings(&settings.auth, &hs)?;
    let read_url = settings.database.read_url.expose_secret();
    let replica = if read_url.is_empty() {
        None
    } else {
        Some(db::replica::build_pool(
            read_url,
            settings.database.pool_size,
            Duration::from_secs(settings.database.connect_timeout_secs),
            settings.database.prepared_statements,
        )?)
    };
    let writer =
        db::group_commit::Writer::start(pool.clone(), settings.database.url.expose_secret())?;
    let metrics = Arc::new(Metrics::new().with_write_groups(&writer.counts()));
    Ok(AppState {
        replica,
        writer,
        login_limiter: Arc::new(RateLimiter::new(settings.auth.login_attempts_per_minute)),
        token_versions: Arc::default(),
        instance_id: instance_name().into(),
        settings: Arc::new(settings),
        pool,
        jwt: Arc::new(jwt),
        id_hash_key: SecretKey(Arc::new(id_key)),
        clock,
        metrics,
        catalogues,
        policies,
        plans,
        notifier,
        running_jobs: Arc::default(),
    })
}

impl Application {
    /// Builds with the system clock.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock))
    }

    /// Builds with an injected clock (tests).
    pub fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        crate::notify::install_crypto_provider();
        let pool = open_database(&settings)?;
        let first_admin = {
            let mut conn = pool.get()?;
            bootstrap::ensure_first_admin(&mut conn, clock.now())
                .map_err(|e| anyhow::anyhow!("first-start admin: {e}"))?
        };
        let state = build_state(settings, pool, clock)?;
        let s = &state.settings.server;
        let listener = TcpListener::bind((s.host.as_str(), s.port))
            .map_err(|e| anyhow::anyhow!("cannot bind {}:{}: {e}", s.host, s.port))?;
        let port = listener.local_addr()?.port();
        let server = run(listener, state.clone())?;
        let bind = state.settings.hl7.mllp.bind.clone();
        let mllp = if bind.is_empty() {
            None
        } else {
            let l = TcpListener::bind(&bind)
                .map_err(|e| anyhow::anyhow!("cannot bind the MLLP listener {bind}: {e}"))?;
            l.set_nonblocking(true)?;
            Some(l)
        };
        Ok(Self {
            port,
            server,
            state,
            first_admin,
            mllp,
        })
    }

    /// The MLLP listener's port, when it listens.
    pub fn mllp_port(&self) -> Option<u16> {
        self.mllp
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shared state (tests use it to reach the pool and keys).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Credentials of an administrator created by this start, to show once.
    pub fn take_first_admin(&mut self) -> Option<FirstAdmin> {
        self.first_admin.take()
    }

    /// Starts the job scheduler (when `jobs.enabled`) and serves until SIGINT/SIGTERM, letting
    /// in-flight requests finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let mut scheduler = crate::jobs::scheduler::start(self.state.clone()).await?;
        if let Some(l) = self.mllp {
            let listener = tokio::net::TcpListener::from_std(l)?;
            let allow = self.state.settings.hl7.mllp.networks()?;
            let tls = crate::api::mllp::tls::acceptor(&self.state.settings.hl7.mllp)?;
            tracing::info!(
                port = listener.local_addr()?.port(),
                tls = tls.is_some(),
                "mllp listening"
            );
            tokio::spawn(crate::api::mllp::serve(
                self.state.clone(),
                listener,
                allow,
                tls,
            ));
        }
        let served = self.server.await;
        if let Some(s) = scheduler.as_mut() {
            let _ = s.shutdown().await;
        }
        Ok(served?)
    }
}

fn run(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let s = state.settings.server.clone();
    let data = web::Data::new(state);
    let openapi = ApiDoc::openapi();
    let body_limit = s.body_limit_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::QueryConfig::default().error_handler(api::query_error))
            .app_data(web::PathConfig::default().error_handler(api::path_error))
            .app_data(web::PayloadConfig::new(body_limit))
            .wrap(Compress::default())
            .wrap(from_fn(api::observe::limit_headers))
            .wrap(from_fn(api::observe::observe))
            .configure(api::configure)
            .service(web::redirect("/api/docs", "/api/docs/"))
            .service(SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", openapi.clone()))
            // The console last: its scope takes every path the API left.
            .configure(crate::web::configure)
            .default_service(web::to(api::not_found))
    })
    // A compressed body leaves in several writes; with Nagle's algorithm the last waits for the
    // client's delayed ACK (~40 ms on every keep-alive response). Send each write at once.
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
            && let Err(e) = tcp.set_nodelay(true)
        {
            tracing::warn!(error = %e, "TCP_NODELAY not set");
        }
    })
    .listen(listener)?
    .shutdown_timeout(s.shutdown_timeout_secs);
    if s.workers > 0 {
        server = server.workers(s.workers);
    }
    Ok(server.run())
}

/// This process's name among the servers on one database: `host/pid/random`, readable in
/// `GET /api/v1/admin/jobs` (which server ran a job) and unique per start.
fn instance_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "guthrie".into());
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}/{}/{}", std::process::id(), &id[..8])
}
