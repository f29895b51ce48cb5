//! SMS through an HTTP gateway: the configured JSON body template gets `{{to}}`, `{{text}}` and
//! `{{id}}` filled into its string values (so values are JSON-escaped), is POSTed with the
//! configured authentication header, and the gateway's message id is read from its JSON answer.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::Value;

use super::SendError;
use crate::config::SmsSettings;

/// An SMS gateway client.
#[derive(Clone)]
pub struct SmsGateway {
    client: reqwest::Client,
    url: String,
    auth: Option<(String, String)>,
    body: Value,
    message_id_field: String,
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway").finish_non_exhaustive()
    }
}

fn fill(v: &Value, vars: &[(&str, &str)]) -> Value {
    match v {
        Value::String(s) => {
            let mut s = s.clone();
            for (k, val) in vars {
                s = s.replace(&format!("{{{{{k}}}}}"), val);
            }
            Value::String(s)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, vars)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), fill(x, vars))).collect())
        }
        other => other.clone(),
    }
}

impl SmsGateway {
    /// Builds the client from settings.
    pub fn new(s: &SmsSettings) -> anyhow::Result<Self> {
        let body: Value = serde_json::from_str(&s.body_template)
            .map_err(|e| anyhow::anyhow!("notify.sms.body_template: {e}"))?;
        super::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(s.timeout_secs))
            .build()?;
        let auth = (!s.auth_header_name.is_empty()).then(|| {
            (
                s.auth_header_name.clone(),
                s.auth_header_value.expose_secret().to_string(),
            )
        });
        Ok(Self {
            client,
            url: s.url.clone(),
            auth,
            body,
            message_id_field: s.message_id_field.clone(),
        })
    }

    /// The request body for one message.
    pub fn body_for(&self, id: &str, to: &str, text: &str) -> Value {
        fill(&self.body, &[("to", to), ("text", text), ("id", id)])
    }

    /// Sends one SMS; returns the gateway's message id. 4xx answers are permanent failures,
    /// network errors and 5xx transient.
    pub async fn send(&self, id: &str, to: &str, text: &str) -> Result<String, SendError> {
        let mut req = self
            .client
            .post(&self.url)
            .json(&self.body_for(id, to, text));
        if let Some((k, v)) = &self.auth {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| SendError::transient(format!("sms gateway: {}", e.without_url())))?;
        let status = resp.status();
        if status.is_client_error() {
            return Err(SendError::permanent(format!(
                "sms gateway answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(SendError::transient(format!(
                "sms gateway answered {status}"
            )));
        }
        let v: Value = resp.json().await.map_err(|e| {
            SendError::transient(format!("sms gateway answer: {}", e.without_url()))
        })?;
        match v.get(&self.message_id_field) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(SendError::transient(format!(
                "sms gateway answer has no {}",
                self.message_id_field
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_json_escaped() {
        let s = SmsSettings {
            enabled: true,
            url: "http://127.0.0.1:1/sms".into(),
            auth_header_name: String::new(),
            auth_header_value: String::new().into(),
            body_template: r#"{"to": "{{to}}", "msg": {"text": "{{text}}"}, "n": 1}"#.into(),
            message_id_field: "id".into(),
            receipt_token: String::new().into(),
            timeout_secs: 1,
        };
        let g = SmsGateway::new(&s).unwrap();
        let b = g.body_for("n1", "13800000000", "say \"hi\"\n");
        assert_eq!(b["to"], "13800000000");
        assert_eq!(b["msg"]["text"], "say \"hi\"\n");
        assert_eq!(b["n"], 1);
    }
}
