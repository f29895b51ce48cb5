//! Notifications: templates, channels (SMTP e-mail, HTTP SMS gateway), the outbox writer and the
//! dispatcher that delivers queued rows with retries.

pub mod email;
pub mod outbox;
pub mod sms;
pub mod templates;

use std::sync::Arc;

use crate::config::Settings;
use email::Mailer;
use sms::SmsGateway;
use templates::Templates;

/// A failed delivery attempt: transient ones are retried, permanent ones fail the message.
#[derive(Debug, Clone)]
pub struct SendError {
    /// Retrying cannot help (bad address, hard bounce, gateway refused the request).
    pub permanent: bool,
    /// What happened (never holds the recipient).
    pub message: String,
}

impl SendError {
    /// A failure worth retrying.
    pub fn transient(m: impl Into<String>) -> Self {
        Self {
            permanent: false,
            message: m.into(),
        }
    }

    /// A failure retrying cannot fix.
    pub fn permanent(m: impl Into<String>) -> Self {
        Self {
            permanent: true,
            message: m.into(),
        }
    }
}

/// Templates and the enabled channels.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// Checked templates.
    pub templates: Arc<Templates>,
    /// E-mail, when enabled.
    pub mailer: Option<Mailer>,
    /// SMS, when enabled.
    pub sms: Option<SmsGateway>,
}

impl Notifier {
    /// Loads templates and builds the enabled channels.
    pub fn from_settings(s: &Settings, condition_names: &[String]) -> anyhow::Result<Self> {
        let n = &s.notify;
        let templates =
            Templates::load(std::path::Path::new(&n.template_directory), condition_names)?;
        for l in [&n.family_locale, &n.staff_locale] {
            if !templates.has_locale(l) {
                anyhow::bail!("notify: no templates for locale {l}");
            }
        }
        Ok(Self {
            templates: Arc::new(templates),
            mailer: n.email.enabled.then(|| Mailer::new(&n.email)).transpose()?,
            sms: n.sms.enabled.then(|| SmsGateway::new(&n.sms)).transpose()?,
        })
    }

    /// Channels that can deliver now.
    pub fn enabled_channels(&self) -> Vec<crate::domain::notification::Channel> {
        use crate::domain::notification::Channel;
        let mut v = Vec::new();
        if self.mailer.is_some() {
            v.push(Channel::Email);
        }
        if self.sms.is_some() {
            v.push(Channel::Sms);
        }
        v
    }
}

/// Installs the process-wide TLS crypto provider (ring) that SMTP and the SMS gateway use;
/// idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
