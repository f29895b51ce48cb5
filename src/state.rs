//! Shared application state handed to every handler and job, and the injectable clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

use crate::auth::jwt::JwtKeys;
use crate::auth::rate_limit::RateLimiter;
use crate::config::Settings;
use crate::db::DbPool;
use crate::services::admin::catalogue::SharedCatalogues;
use crate::services::admin::policy::SharedPolicies;
use crate::telemetry::Metrics;

/// The source of "now". Production uses the system clock; tests move a manual one.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests set and advance.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// Starts at `t`.
    pub fn new(t: DateTime<Utc>) -> Self {
        Self(AtomicI64::new(t.timestamp_micros()))
    }

    /// Moves to `t`.
    pub fn set(&self, t: DateTime<Utc>) {
        self.0.store(t.timestamp_micros(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// A secret key whose bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct SecretKey(pub Arc<Vec<u8>>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

/// Everything a request or job needs.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Loaded settings.
    pub settings: Arc<Settings>,
    /// Database pool.
    pub pool: DbPool,
    /// Where the everyday writes run: SQLite's group-commit thread, or the pool.
    pub writer: crate::db::group_commit::Writer,
    /// The read replica's pool, when `database.read_url` is set (reports only).
    pub replica: Option<DbPool>,
    /// Token keys.
    pub jwt: Arc<JwtKeys>,
    /// Key for ID-number matching hashes.
    pub id_hash_key: SecretKey,
    /// Login and token attempts per address.
    pub login_limiter: Arc<RateLimiter>,
    /// This process's id among the servers on one database (owner of running keyed requests).
    pub instance_id: Arc<str>,
    /// Principals' token versions, briefly cached (revocation).
    pub token_versions: Arc<crate::auth::revocation::TokenVersions>,
    /// Injected clock.
    pub clock: Arc<dyn Clock>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Every stored condition-catalogue version.
    pub catalogues: SharedCatalogues,
    /// Every stored due-time policy version.
    pub policies: SharedPolicies,
    /// Every stored management plan-set version.
    pub plans: crate::services::management::plans::SharedPlans,
    /// Message templates and delivery channels.
    pub notifier: crate::notify::Notifier,
    /// Timed jobs currently running in this process (a tick that finds its job still running
    /// is skipped).
    pub running_jobs: Arc<std::sync::Mutex<std::collections::HashSet<&'static str>>>,
}

impl AppState {
    /// Now, from the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// What the notice-writing jobs need besides a connection.
    pub fn notice_context(&self) -> crate::services::follow_up::notices::NoticeContext {
        crate::services::follow_up::notices::NoticeContext {
            notify: self.settings.notify.clone(),
            templates: self.notifier.templates.clone(),
            catalogues: self.catalogues.clone(),
            policies: self.policies.clone(),
            plans: self.plans.clone(),
        }
    }
}
