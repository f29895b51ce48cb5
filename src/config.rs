//! Settings: `config/base.toml` (embedded in the binary, so it runs from any directory), then the
//! optional `config/{environment}.toml`, then `GUTHRIE__SECTION__KEY` environment variables, then
//! the conventional `DATABASE_URL`. Unknown keys are rejected so a typo never silently falls back
//! to a default. Secrets are `SecretString`, whose `Debug` prints `[REDACTED]`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use config::{Config, Environment as EnvSource, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The base configuration, compiled in so that every key has a default.
const BASE_TOML: &str = include_str!("../config/base.toml");

/// Minimum length of HMAC/HS256 secrets accepted in production.
pub const MIN_SECRET_BYTES: usize = 32;

/// Which deployment this process runs as; chosen by `GUTHRIE_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnvironment {
    /// Developer machine (default).
    Local,
    /// Automated tests.
    Test,
    /// Production: strict secret checks, JSON logs.
    Production,
}

impl RunEnvironment {
    /// Parses `local`, `test` or `production`.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s {
            "local" | "" => Ok(Self::Local),
            "test" => Ok(Self::Test),
            "production" | "prod" => Ok(Self::Production),
            other => Err(ConfigError(format!(
                "GUTHRIE_ENV={other:?} is not one of local, test, production"
            ))),
        }
    }

    /// The file name stem of this environment's config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Test => "test",
            Self::Production => "production",
        }
    }
}

/// A configuration problem that stops start-up.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// The whole settings tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP server.
    pub server: ServerSettings,
    /// Database connection.
    pub database: DatabaseSettings,
    /// Tokens and login.
    pub auth: AuthSettings,
    /// Personal-data protection.
    pub privacy: PrivacySettings,
    /// Condition catalogue files.
    pub catalogue: CatalogueSettings,
    /// Follow-up cases.
    pub follow_up: FollowUpSettings,
    /// Long-term management of confirmed infants.
    pub management: ManagementSettings,
    /// Notifications: channels, templates, recipients.
    pub notify: NotifySettings,
    /// Timed jobs.
    pub jobs: JobSettings,
    /// Quality indicators.
    pub quality: QualitySettings,
    /// HL7 v2 messages from laboratories.
    pub hl7: Hl7Settings,
    /// Log format and level.
    pub log: LogSettings,
    /// Set from `GUTHRIE_ENV`, never from files.
    #[serde(skip, default = "default_env")]
    pub environment: RunEnvironment,
}

fn default_env() -> RunEnvironment {
    RunEnvironment::Local
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Bind address.
    pub host: String,
    /// Bind port (0 = any free port).
    pub port: u16,
    /// Maximum request body size in bytes.
    pub body_limit_bytes: usize,
    /// Maximum body size of bulk endpoints.
    pub bulk_body_limit_bytes: usize,
    /// Worker threads (0 = one per core).
    pub workers: usize,
    /// Graceful shutdown window.
    pub shutdown_timeout_secs: u64,
    /// Trust forwarding headers for the client address.
    pub behind_proxy: bool,
    /// Largest total size of a request's headers (names and values); larger gets 431.
    pub max_header_bytes: usize,
    /// Seconds a running keyed request's claim on its `Idempotency-Key` lasts without renewal
    /// (renewed every third of it while the request runs); a retry after a crash waits this long.
    pub idempotency_lease_secs: u64,
}

/// `[database]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Connection URL; may hold a password, hence secret.
    pub url: SecretString,
    /// Pool size (0 = backend default).
    pub pool_size: u32,
    /// Run embedded migrations at start.
    pub run_migrations: bool,
    /// Seconds to wait for a pooled connection.
    pub connect_timeout_secs: u64,
    /// Optional PostgreSQL read replica for the quality report, its drill-downs and exports;
    /// empty reads everything from `url`.
    #[serde(default = "empty_secret")]
    pub read_url: SecretString,
    /// Keep prepared statements per connection (PostgreSQL). Turn off behind a PgBouncer older
    /// than 1.21 in transaction mode; 1.21+ with `max_prepared_statements` handles them.
    #[serde(default = "yes")]
    pub prepared_statements: bool,
}

fn yes() -> bool {
    true
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("pool_size", &self.pool_size)
            .field("run_migrations", &self.run_migrations)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("read_url", &redact_url(self.read_url.expose_secret()))
            .field("prepared_statements", &self.prepared_statements)
            .finish()
    }
}

/// Replaces the user-info part of a URL (user:password@) so the URL can be shown.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://[REDACTED]@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `HS256`, `RS256` or `EdDSA`.
    pub jwt_algorithm: String,
    /// HS256 shared secret.
    pub jwt_secret: SecretString,
    /// PEM private key (RS256/EdDSA).
    pub jwt_private_key_file: String,
    /// PEM public key (RS256/EdDSA).
    pub jwt_public_key_file: String,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// Staff token lifetime.
    pub staff_token_ttl_secs: i64,
    /// Hospital-client token lifetime.
    pub client_token_ttl_secs: i64,
    /// Expiry leeway.
    pub leeway_secs: u64,
    /// Rate limit for login and token endpoints, per client address.
    pub login_attempts_per_minute: u32,
    /// A console session without a request for this long ends.
    pub session_idle_secs: i64,
    /// A console session ends this long after sign-in.
    pub session_absolute_secs: i64,
}

impl AuthSettings {
    /// The console's session lifetimes.
    pub fn session_lifetimes(&self) -> crate::domain::session::Lifetimes {
        crate::domain::session::Lifetimes {
            idle: chrono::Duration::seconds(self.session_idle_secs),
            absolute: chrono::Duration::seconds(self.session_absolute_secs),
        }
    }
}

/// `[privacy]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySettings {
    /// HMAC key for ID-card matching.
    pub id_hash_key: SecretString,
}

/// `[catalogue]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueSettings {
    /// Directory of `*.toml` catalogue files.
    pub directory: String,
}

/// `[follow_up]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpSettings {
    /// Directory of `*.toml` due-time policy files.
    pub policy_directory: String,
}

/// `[management]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagementSettings {
    /// Directory of `*.toml` management plan sets.
    pub plan_directory: String,
    /// The managing centre named on episodes opened here.
    pub centre: String,
}

/// `[notify]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// Directory holding one `<locale>.toml` of message templates per locale.
    pub template_directory: String,
    /// Locale of messages to families.
    pub family_locale: String,
    /// Locale of messages to staff and institutions.
    pub staff_locale: String,
    /// The screening centre's phone number, quoted in family messages.
    pub centre_phone: String,
    /// Family SMS (except for T0 cases) wait out these hours, local time of the due policy.
    pub quiet_hours_start: String,
    /// End of the quiet hours.
    pub quiet_hours_end: String,
    /// Delivery attempts before a notification is marked failed.
    pub max_attempts: i32,
    /// First retry delay; doubled per attempt.
    pub retry_base_secs: i64,
    /// Longest retry delay.
    pub retry_max_secs: i64,
    /// How long a dispatcher holds a claimed notification before another may take it over.
    pub claim_secs: i64,
    /// Notifications claimed per dispatcher pass.
    pub batch_size: i64,
    /// Notifications sent at once by one dispatcher.
    pub concurrency: usize,
    /// Overdue-recall reminders to families: one every this many days …
    pub overdue_reminder_every_days: i64,
    /// … at most this many per case.
    pub overdue_reminder_max: i64,
    /// SMTP e-mail.
    pub email: EmailSettings,
    /// SMS gateway.
    pub sms: SmsSettings,
    /// Who receives escalations.
    pub recipients: RecipientSettings,
}

/// `[notify.email]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// Send e-mail at all (when off, e-mail notifications stay queued).
    pub enabled: bool,
    /// SMTP host.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// `plain` (local relay), `starttls` or `tls`.
    pub security: String,
    /// SMTP user (empty: no authentication).
    pub username: String,
    /// SMTP password.
    pub password: SecretString,
    /// From header.
    pub from: String,
    /// Seconds before an SMTP conversation is given up.
    pub timeout_secs: u64,
}

/// `[notify.sms]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    /// Send SMS at all (when off, SMS notifications stay queued).
    pub enabled: bool,
    /// Gateway URL the message is POSTed to.
    pub url: String,
    /// Name of the authentication header (e.g. `Authorization`); empty: none.
    pub auth_header_name: String,
    /// Its value (e.g. `Bearer …`).
    pub auth_header_value: SecretString,
    /// JSON body with `{{to}}`, `{{text}}` and `{{id}}` placeholders inside string values.
    pub body_template: String,
    /// Field of the gateway's JSON answer that holds its message id.
    pub message_id_field: String,
    /// Token the gateway sends in `X-Receipt-Token` with delivery receipts.
    pub receipt_token: SecretString,
    /// Seconds before a gateway call is given up.
    pub timeout_secs: u64,
}

/// `[notify.recipients]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientSettings {
    /// The centre's on-call clinician (L0 of urgent tiers).
    pub on_call_emails: Vec<String>,
    /// Screening-centre supervisors (L2).
    pub supervisor_emails: Vec<String>,
    /// Coordinators' shared address, used when a case has no assignee with an e-mail (L1).
    pub coordinator_emails: Vec<String>,
    /// The screening centre's own address (summaries).
    pub centre_emails: Vec<String>,
    /// Per district: MCH institution (L3) and health bureau (L4) contacts.
    pub districts: Vec<DistrictContacts>,
}

/// The recipient lists that environment variables may set (comma-separated).
const RECIPIENT_LISTS: [&str; 4] = [
    "on_call_emails",
    "supervisor_emails",
    "coordinator_emails",
    "centre_emails",
];

/// One district's institutions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictContacts {
    /// District name as on the hospital (`*` matches hospitals of any other district).
    pub district: String,
    /// District MCH institution (妇幼保健院).
    pub mch_emails: Vec<String>,
    /// District health bureau.
    pub bureau_emails: Vec<String>,
}

/// `[jobs]`: cron strings with six fields (seconds first), in UTC; an empty string disables a job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// Run the scheduler inside `guthrie serve`.
    pub enabled: bool,
    /// Escalation sweep.
    pub escalation: String,
    /// Missed-screen sweep.
    pub missed_screens: String,
    /// Family reminders.
    pub family_reminders: String,
    /// Hospital digest.
    pub hospital_digest: String,
    /// Outbox dispatcher.
    pub dispatcher: String,
    /// Monthly quality scorecards.
    pub quality_scorecard: String,
    /// Recompute the quality facts tables from the source tables (a safety net: every write
    /// keeps them current).
    pub quality_facts: String,
    /// Forget the raw text of HL7 messages past their retention.
    pub hl7_retention: String,
    /// Items one sweep handles at most (the rest waits for the next run).
    pub batch_size: i64,
}

/// `[quality]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySettings {
    /// Jurisdiction the targets belong to.
    pub jurisdiction: String,
    /// A card received more than this many days after collection is late.
    pub late_card_days: i64,
    /// A result reported more than this many days after receipt is late.
    pub report_days: i64,
    /// Target per indicator: a minimum for rates of good events, a maximum for rates of
    /// problems. A name that is not an indicator is refused at start-up.
    pub targets: std::collections::BTreeMap<crate::domain::quality::Indicator, f64>,
}

impl QualitySettings {
    /// The ages and delays the indicator definitions use: the catalogue's and these delays.
    pub fn limits(
        &self,
        c: &crate::domain::catalogue::Catalogue,
    ) -> crate::domain::quality::Limits {
        crate::domain::quality::Limits::of(c, self.late_card_days, self.report_days)
    }
}

/// `[hl7]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hl7Settings {
    /// Largest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Days a message's raw text is kept (its ACK and counts stay, so resends are answered).
    pub raw_retention_days: i64,
    /// One profile per laboratory, keyed by its sending facility (MSH-4.1).
    #[serde(default)]
    pub labs: std::collections::BTreeMap<String, LabProfile>,
    /// The MLLP listener.
    pub mllp: MllpSettings,
}

/// `[hl7.mllp]`: HL7's plain TCP transport, for laboratories that cannot use HTTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MllpSettings {
    /// Address to listen on (`0.0.0.0:2575`); empty keeps the listener off.
    pub bind: String,
    /// Source networks (CIDR) allowed to connect; any other is disconnected at once. MLLP has no
    /// authentication: this list and the network are its only guard.
    pub allow: Vec<String>,
    /// Largest frame accepted, in bytes; a larger one is answered `AR`.
    pub max_frame_bytes: usize,
    /// TLS: the server's certificate chain (PEM file); with `tls_key`, every connection must
    /// speak TLS. Empty: plain TCP.
    #[serde(default)]
    pub tls_cert: String,
    /// TLS: the server's private key (PEM file).
    #[serde(default)]
    pub tls_key: String,
    /// TLS: the certificate authorities (PEM file) whose client certificates are accepted; when
    /// set, a peer without such a certificate is refused in the handshake (mutual TLS).
    #[serde(default)]
    pub tls_client_ca: String,
}

impl MllpSettings {
    /// The allowed networks, parsed.
    pub fn networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.allow
            .iter()
            .map(|a| {
                a.parse().map_err(|_| {
                    ConfigError(format!("hl7.mllp.allow: {a:?} is not a network (CIDR)"))
                })
            })
            .collect()
    }
}

/// `[hl7.labs.<facility>]`: how one laboratory's messages map to the catalogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabProfile {
    /// Where the card's barcode is: `obx57723`, `spm2` or `obr2`.
    pub barcode: crate::domain::hl7::BarcodeAt,
    /// The laboratory's offset from UTC in minutes, for times sent without one (480 = China).
    pub utc_offset_minutes: i32,
    /// The character set of messages whose MSH-18 is empty (e.g. `GB18030`); UTF-8 when unset.
    #[serde(default)]
    pub charset: Option<String>,
    /// Sample-quality answer code (OBX 57718-9) → `acceptable` or a catalogue unsatisfactory
    /// reason.
    pub quality: std::collections::BTreeMap<String, String>,
    /// LOINC or local code → catalogue analyte.
    pub codes: std::collections::BTreeMap<String, String>,
    /// The laboratory's unit → the catalogue's unit and a factor.
    pub units: std::collections::BTreeMap<String, crate::domain::hl7::UnitMap>,
    /// Numeric observations that are not analytes.
    #[serde(default)]
    pub ignored: std::collections::BTreeSet<String>,
}

impl LabProfile {
    /// The code and unit maps.
    pub fn profile(&self) -> crate::domain::hl7::Profile<'_> {
        crate::domain::hl7::Profile {
            codes: &self.codes,
            units: &self.units,
            ignored: &self.ignored,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: String,
    /// EnvFilter directive.
    pub level: String,
}

impl Settings {
    /// Loads settings from `config_dir` and the process environment.
    pub fn load(config_dir: &Path) -> Result<Self, ConfigError> {
        Self::load_with(config_dir, std::env::vars().collect())
    }

    /// Loads settings from `config_dir` and the given variables (the process environment in
    /// production, a map in tests so they never touch global state).
    pub fn load_with(
        config_dir: &Path,
        vars: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let environment =
            RunEnvironment::parse(vars.get("GUTHRIE_ENV").map_or("", String::as_str))?;
        let env_file: PathBuf = config_dir.join(format!("{}.toml", environment.as_str()));
        let overrides: HashMap<String, String> = vars
            .iter()
            .filter(|(k, _)| k.starts_with("GUTHRIE__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut env = EnvSource::with_prefix("GUTHRIE")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",");
        // Recipient lists may be set as comma-separated variables, e.g.
        // GUTHRIE__NOTIFY__RECIPIENTS__ON_CALL_EMAILS="a@centre.cn,b@centre.cn".
        for key in RECIPIENT_LISTS {
            env = env.with_list_parse_key(&format!("notify.recipients.{key}"));
        }
        let mut builder = Config::builder()
            .add_source(File::from_str(BASE_TOML, FileFormat::Toml))
            .add_source(File::from(env_file).required(false))
            .add_source(env.source(Some(overrides)));
        if let Some(url) = vars.get("DATABASE_URL").filter(|u| !u.is_empty()) {
            builder = builder
                .set_override("database.url", url.as_str())
                .map_err(|e| ConfigError(e.to_string()))?;
        }
        let config = builder.build().map_err(|e| ConfigError(e.to_string()))?;
        let mut settings: Settings = config
            .try_deserialize()
            .map_err(|e| ConfigError(e.to_string()))?;
        settings.environment = environment;
        let r = &mut settings.notify.recipients;
        for list in [
            &mut r.on_call_emails,
            &mut r.supervisor_emails,
            &mut r.coordinator_emails,
            &mut r.centre_emails,
        ] {
            *list = list
                .iter()
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect();
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Checks that cannot be expressed in types: algorithm names, key material in production.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let a = &self.auth;
        match a.jwt_algorithm.as_str() {
            "HS256" => {
                let len = a.jwt_secret.expose_secret().len();
                if self.environment == RunEnvironment::Production && len < MIN_SECRET_BYTES {
                    return Err(ConfigError(format!(
                        "auth.jwt_secret must be set to at least {MIN_SECRET_BYTES} bytes in production \
                         (GUTHRIE__AUTH__JWT_SECRET); it is {len} bytes"
                    )));
                }
                if len > 0 && len < MIN_SECRET_BYTES {
                    return Err(ConfigError(format!(
                        "auth.jwt_secret is too weak: {len} bytes, at least {MIN_SECRET_BYTES} needed"
                    )));
                }
            }
            "RS256" | "EdDSA" => {
                if a.jwt_private_key_file.is_empty() || a.jwt_public_key_file.is_empty() {
                    return Err(ConfigError(format!(
                        "auth.jwt_algorithm = {} needs auth.jwt_private_key_file and auth.jwt_public_key_file",
                        a.jwt_algorithm
                    )));
                }
            }
            other => {
                return Err(ConfigError(format!(
                    "auth.jwt_algorithm = {other:?} is not one of HS256, RS256, EdDSA"
                )));
            }
        }
        let key_len = self.privacy.id_hash_key.expose_secret().len();
        if self.environment == RunEnvironment::Production && key_len < MIN_SECRET_BYTES {
            return Err(ConfigError(format!(
                "privacy.id_hash_key must be set to at least {MIN_SECRET_BYTES} bytes in production \
                 (GUTHRIE__PRIVACY__ID_HASH_KEY)"
            )));
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            return Err(ConfigError(format!(
                "log.format = {:?} is not one of pretty, json",
                self.log.format
            )));
        }
        self.validate_notify()?;
        self.hl7.mllp.networks()?;
        let m = &self.hl7.mllp;
        if m.tls_cert.is_empty() != m.tls_key.is_empty()
            || (!m.tls_client_ca.is_empty() && m.tls_cert.is_empty())
        {
            return Err(ConfigError(
                "hl7.mllp: tls_cert and tls_key go together, and tls_client_ca needs them".into(),
            ));
        }
        if a.staff_token_ttl_secs <= 0 || a.client_token_ttl_secs <= 0 {
            return Err(ConfigError("auth token lifetimes must be positive".into()));
        }
        if a.session_idle_secs <= 0 || a.session_absolute_secs < a.session_idle_secs {
            return Err(ConfigError(
                "auth.session_idle_secs must be positive and at most auth.session_absolute_secs"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl Settings {
    fn validate_notify(&self) -> Result<(), ConfigError> {
        let n = &self.notify;
        for (k, v) in [
            ("quiet_hours_start", &n.quiet_hours_start),
            ("quiet_hours_end", &n.quiet_hours_end),
        ] {
            if chrono::NaiveTime::parse_from_str(v, "%H:%M").is_err() {
                return Err(ConfigError(format!("notify.{k} = {v:?} is not HH:MM")));
            }
        }
        if !matches!(n.email.security.as_str(), "plain" | "starttls" | "tls") {
            return Err(ConfigError(format!(
                "notify.email.security = {:?} is not one of plain, starttls, tls",
                n.email.security
            )));
        }
        if n.max_attempts < 1 || n.retry_base_secs < 1 || n.retry_max_secs < n.retry_base_secs {
            return Err(ConfigError(
                "notify.max_attempts and retry delays must be positive (retry_max_secs >= retry_base_secs)"
                    .into(),
            ));
        }
        if n.batch_size < 1 || n.concurrency < 1 || n.claim_secs < 1 || self.jobs.batch_size < 1 {
            return Err(ConfigError(
                "notify.batch_size, notify.concurrency, notify.claim_secs and jobs.batch_size must be positive"
                    .into(),
            ));
        }
        // A message's lease is extended just before its send, so one send must end (or time
        // out) within the lease: no other server can take over a message still being sent.
        let longest_send = n.email.timeout_secs.max(n.sms.timeout_secs);
        if u64::try_from(n.claim_secs).unwrap_or(0) <= longest_send {
            return Err(ConfigError(format!(
                "notify.claim_secs ({}) must exceed the longest channel timeout ({longest_send} s)",
                n.claim_secs
            )));
        }
        if n.sms.enabled {
            if n.sms.url.is_empty() {
                return Err(ConfigError(
                    "notify.sms.enabled needs notify.sms.url".into(),
                ));
            }
            let body: serde_json::Value = serde_json::from_str(&n.sms.body_template)
                .map_err(|e| ConfigError(format!("notify.sms.body_template is not JSON: {e}")))?;
            if !body.to_string().contains("{{text}}") || !body.to_string().contains("{{to}}") {
                return Err(ConfigError(
                    "notify.sms.body_template must place {{to}} and {{text}}".into(),
                ));
            }
        }
        if n.sms.enabled && n.sms.receipt_token.expose_secret().len() < 16 {
            return Err(ConfigError(
                "notify.sms.receipt_token must be at least 16 characters when SMS is enabled"
                    .into(),
            ));
        }
        if n.email.enabled && !n.email.from.contains('@') {
            return Err(ConfigError(format!(
                "notify.email.from = {:?} is not an address",
                n.email.from
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_bind_localhost_8080_on_sqlite() {
        let s = Settings::load_with(&dir(), vars(&[])).unwrap();
        assert_eq!(s.server.host, "127.0.0.1");
        assert_eq!(s.server.port, 8080);
        assert!(s.database.url.expose_secret().starts_with("sqlite://"));
        assert_eq!(s.environment, RunEnvironment::Local);
    }

    #[test]
    fn quality_targets_name_indicators() {
        use crate::domain::quality::Indicator;
        let s = Settings::load_with(
            &dir(),
            vars(&[("GUTHRIE__QUALITY__TARGETS__LATE_CARDS", "0.02")]),
        )
        .unwrap();
        assert_eq!(s.quality.targets.get(&Indicator::LateCards), Some(&0.02));
        assert!(s.quality.targets.contains_key(&Indicator::DbsCoverage));
        let e = Settings::load_with(
            &dir(),
            vars(&[("GUTHRIE__QUALITY__TARGETS__DBS_COVERAG", "0.98")]),
        )
        .unwrap_err();
        assert!(e.0.contains("dbs_coverag"), "{}", e.0);
    }

    #[test]
    fn env_vars_override_files_and_database_url_wins() {
        let s = Settings::load_with(
            &dir(),
            vars(&[
                ("GUTHRIE__SERVER__PORT", "9123"),
                ("GUTHRIE__DATABASE__URL", "sqlite://x.db"),
                ("DATABASE_URL", "postgres://u:pw@db/guthrie"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.port, 9123);
        assert_eq!(s.database.url.expose_secret(), "postgres://u:pw@db/guthrie");
    }

    #[test]
    fn recipient_lists_come_from_comma_separated_variables() {
        let s = Settings::load_with(
            &dir(),
            vars(&[
                (
                    "GUTHRIE__NOTIFY__RECIPIENTS__ON_CALL_EMAILS",
                    "a@centre.cn, b@centre.cn",
                ),
                (
                    "GUTHRIE__NOTIFY__RECIPIENTS__SUPERVISOR_EMAILS",
                    "chief@centre.cn",
                ),
                ("GUTHRIE__NOTIFY__RECIPIENTS__CENTRE_EMAILS", ""),
                ("GUTHRIE__SERVER__HOST", "0.0.0.0"),
            ]),
        )
        .unwrap();
        let r = &s.notify.recipients;
        assert_eq!(r.on_call_emails, ["a@centre.cn", "b@centre.cn"]);
        assert_eq!(r.supervisor_emails, ["chief@centre.cn"]);
        assert!(r.centre_emails.is_empty());
        assert_eq!(s.server.host, "0.0.0.0", "other strings stay strings");
    }

    #[test]
    fn unknown_key_is_an_error_naming_the_key() {
        let err = Settings::load_with(&dir(), vars(&[("GUTHRIE__SERVER__PROT", "1")])).unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let s = Settings::load_with(
            &dir(),
            vars(&[
                (
                    "GUTHRIE__AUTH__JWT_SECRET",
                    "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t",
                ),
                ("DATABASE_URL", "postgres://u:hunter2@db/guthrie"),
            ]),
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db/guthrie"));
    }

    #[test]
    fn production_refuses_missing_or_weak_secrets() {
        let err = Settings::load_with(&dir(), vars(&[("GUTHRIE_ENV", "production")])).unwrap_err();
        assert!(err.to_string().contains("jwt_secret"), "{err}");
        let err = Settings::load_with(
            &dir(),
            vars(&[
                ("GUTHRIE_ENV", "production"),
                ("GUTHRIE__AUTH__JWT_SECRET", "short"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("jwt_secret"), "{err}");
        let strong = "0123456789abcdef0123456789abcdef";
        let ok = Settings::load_with(
            &dir(),
            vars(&[
                ("GUTHRIE_ENV", "production"),
                ("GUTHRIE__AUTH__JWT_SECRET", strong),
                ("GUTHRIE__PRIVACY__ID_HASH_KEY", strong),
            ]),
        )
        .unwrap();
        assert_eq!(ok.log.format, "json");
    }

    #[test]
    fn redact_url_hides_credentials() {
        assert_eq!(
            redact_url("postgres://a:b@h/d"),
            "postgres://[REDACTED]@h/d"
        );
        assert_eq!(redact_url("sqlite://data/g.db"), "sqlite://data/g.db");
    }
}
