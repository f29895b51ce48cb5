//! Real delivery endpoints for the tests: a minimal SMTP server on a TCP port (it speaks enough
//! SMTP for lettre: EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and an HTTP SMS gateway. Both keep
//! what they received so tests can assert recipients, subjects and bodies.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One received e-mail.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

fn decode_words(v: &str) -> String {
    // RFC 2047 encoded words (=?utf-8?b?…?=), possibly several; plain text passes through.
    let mut bytes = Vec::new();
    let mut rest = v.trim();
    let mut plain = String::new();
    while let Some(i) = rest.find("=?") {
        plain.push_str(rest[..i].trim());
        let after = &rest[i + 2..];
        let parts: Vec<&str> = after.splitn(3, '?').collect();
        let (enc, tail) = (parts[1], parts[2]);
        let end = tail.find("?=").unwrap();
        let text = &tail[..end];
        if enc.eq_ignore_ascii_case("b") {
            bytes.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .unwrap(),
            );
        } else {
            bytes.extend(text.replace('_', " ").as_bytes());
        }
        rest = &tail[end + 2..];
    }
    if bytes.is_empty() {
        return v.trim().to_string();
    }
    plain + String::from_utf8(bytes).unwrap().as_str() + rest.trim()
}

impl Mail {
    fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.data.split_once("\r\n\r\n")?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some(v) = value.as_mut() {
                    v.push_str(line.trim_start());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_string());
            }
        }
        value
    }

    /// The decoded subject.
    pub fn subject(&self) -> String {
        decode_words(
            &self
                .header("Subject")
                .unwrap_or_default()
                .replace("?==?", "?= =?"),
        )
    }

    /// The decoded body.
    pub fn body(&self) -> String {
        let (_, body) = self.data.split_once("\r\n\r\n").unwrap();
        let cte = self.header("Content-Transfer-Encoding").unwrap_or_default();
        if cte.eq_ignore_ascii_case("base64") {
            let joined: String = body.split_whitespace().collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(joined)
                    .unwrap(),
            )
            .unwrap()
        } else {
            body.to_string()
        }
    }
}

/// A local SMTP server.
pub struct SmtpSink {
    pub port: u16,
    /// Milliseconds the sink takes to accept each message (a slow mail server).
    pub delay_ms: Arc<std::sync::atomic::AtomicU64>,
    mails: Arc<Mutex<Vec<Mail>>>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl SmtpSink {
    /// Listens on a free port.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Listens on `port` (0 = any).
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let store = mails.clone();
        let tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let sessions = tasks.clone();
        let delay_ms: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let delay = delay_ms.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (store, delay) = (store.clone(), delay.clone());
                let s = tokio::spawn(async move {
                    let _ = session(sock, store, delay).await;
                });
                sessions.lock().unwrap().push(s);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self {
            port,
            delay_ms,
            mails,
            tasks,
        }
    }

    /// Everything received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Mails to `addr`.
    pub fn to(&self, addr: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == addr))
            .collect()
    }

    /// Stops listening and drops every open connection (a server going down).
    pub fn stop(&self) {
        for t in self.tasks.lock().unwrap().iter() {
            t.abort();
        }
    }
}

async fn session(
    sock: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<Mail>>>,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
) -> std::io::Result<()> {
    // Small replies must not wait for delayed ACKs (Nagle), as a real mail server's do not.
    sock.set_nodelay(true)?;
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 sink ESMTP\r\n").await?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?;
        } else if upper.starts_with("MAIL FROM") {
            to.clear();
            w.write_all(b"250 ok\r\n").await?;
        } else if upper.starts_with("RCPT TO") {
            let addr = cmd
                .split_once('<')
                .and_then(|(_, a)| a.split_once('>'))
                .map(|(a, _)| a.to_string())
                .unwrap_or_default();
            // Addresses starting with "bounce" do not exist: a permanent (hard) failure.
            if addr.starts_with("bounce") {
                w.write_all(b"550 5.1.1 no such user\r\n").await?;
                continue;
            }
            to.push(addr);
            w.write_all(b"250 ok\r\n").await?;
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(l);
            }
            store.lock().unwrap().push(Mail {
                to: std::mem::take(&mut to),
                data,
            });
            let delay = delay_ms.load(std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            w.write_all(b"250 queued\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            w.write_all(b"250 ok\r\n").await?;
        }
    }
}

/// A local SMS gateway: POST /sms answers `{"message_id": "gw-<n>"}` (or 503 while failing).
pub struct SmsSink {
    pub url: String,
    received: Arc<Mutex<Vec<Value>>>,
    pub failing: Arc<AtomicBool>,
}

impl SmsSink {
    /// Starts the gateway on a free port.
    pub async fn start() -> Self {
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let failing = Arc::new(AtomicBool::new(false));
        let counter = Arc::new(AtomicU32::new(0));
        let (r, f) = (received.clone(), failing.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let (r, f, c) = (r.clone(), f.clone(), counter.clone());
            App::new().route(
                "/sms",
                web::post().to(move |req: actix_web::HttpRequest, body: web::Json<Value>| {
                    let (r, f, c) = (r.clone(), f.clone(), c.clone());
                    async move {
                        if f.load(Ordering::SeqCst) {
                            return HttpResponse::ServiceUnavailable().finish();
                        }
                        let auth = req
                            .headers()
                            .get("x-api-key")
                            .map(|v| v.to_str().unwrap().to_string());
                        let mut b = body.into_inner();
                        b["_auth"] = json!(auth);
                        let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                        r.lock().unwrap().push(b);
                        HttpResponse::Ok().json(json!({"message_id": format!("gw-{n}")}))
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/sms"),
            received,
            failing,
        }
    }

    /// Bodies received.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}
