//! The MLLP listener: HL7 v2 messages over TCP (or TLS, [`tls`]), each framed
//! `0x0B … 0x1C 0x0D`, answered with its framed `ACK` by the same service as
//! `POST /api/v1/hl7v2`. Off unless `hl7.mllp.bind` is set; connections from outside
//! `hl7.mllp.allow` are closed at once (MLLP has no authentication of its own: the allow-list,
//! and with TLS a client certificate, are its guards). A frame that is too large or not valid in
//! its character set is answered `AR`; nothing a peer sends can stop the listener.

pub mod tls;

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::domain::mllp::{Frame, Frames, frame};
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::role::Role;
use crate::services::screening::hl7;
use crate::state::AppState;

/// How long a peer has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until the process stops; with `tls`, each must complete a TLS handshake
/// first.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    allow: Vec<ipnet::IpNet>,
    tls: Option<TlsAcceptor>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "mllp accept failed");
                continue;
            }
        };
        let ip = peer.ip();
        if !allow.iter().any(|n| n.contains(&ip)) {
            tracing::warn!(peer.ip = %ip, "mllp connection from a network not allowed: closed");
            drop(stream);
            continue;
        }
        let (state, tls) = (state.clone(), tls.clone());
        tokio::spawn(async move {
            let ended = match tls {
                None => connection(state, stream, ip).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => connection(state, s, ip).await,
                        Ok(Err(e)) => {
                            tracing::warn!(peer.ip = %ip, error = %e, "mllp tls handshake failed");
                            Ok(())
                        }
                        Err(_) => {
                            tracing::warn!(peer.ip = %ip, "mllp tls handshake timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = ended {
                tracing::info!(error = %e, "mllp connection ended");
            }
        });
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    state: AppState,
    mut stream: S,
    ip: IpAddr,
) -> std::io::Result<()> {
    let max = state.settings.hl7.mllp.max_frame_bytes;
    let mut frames = Frames::new(max);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        for f in frames.push(&buf[..n]) {
            let answer = match f {
                Frame::TooLarge => {
                    let why = format!("frame larger than {max} bytes");
                    hl7::reject(("100", "Segment sequence error"), why, state.now()).ack
                }
                Frame::Message(bytes) => answer(&state, &bytes, ip).await,
            };
            stream.write_all(&frame(answer.as_bytes())).await?;
            stream.flush().await?;
        }
    }
}

/// The `ACK` of one framed message.
async fn answer(state: &AppState, bytes: &[u8], ip: IpAddr) -> String {
    let now = state.now();
    let Some(text) = hl7::text_of(&state.settings.hl7, bytes) else {
        let why = "the message is not valid in its character set".to_string();
        return hl7::reject(("102", "Data type error"), why, now).ack;
    };
    let who = Principal {
        subject: format!("mllp:{ip}"),
        kind: PrincipalKind::Client,
        role: Role::LabClient,
        hospital_id: None,
        request_id: None,
        correlation_id: None,
    };
    match crate::api::screening::hl7::apply(state, who, text, "mllp").await {
        Ok(ack) => ack,
        Err(e) => {
            tracing::error!(error = %e, "hl7 message over mllp failed");
            // Nothing was acknowledged: the laboratory resends, and the message is idempotent.
            hl7::retry(now).ack
        }
    }
}
