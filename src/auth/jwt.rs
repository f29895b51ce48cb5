//! JSON Web Tokens: issue and verify. Validation pins the one configured algorithm (so
//! `alg: none` or an HS256 token signed with a public key is refused), requires issuer,
//! audience, subject and expiry, and tolerates a small configured clock skew.

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::config::AuthSettings;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::role::Role;

/// The claims Guthrie writes and requires.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The issuer this server signs as (`auth.jwt_issuer`).
    pub iss: String,
    /// The audience the token is for (staff or API clients).
    pub aud: String,
    /// User id or API-client row id.
    pub sub: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// The principal's role when the token was issued.
    pub role: Role,
    /// Person or machine.
    pub kind: PrincipalKind,
    /// Hospital of a hospital-bound principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hospital: Option<String>,
    /// The principal's token version when issued; a later bump revokes the token.
    #[serde(default)]
    pub ver: i32,
}

/// Why a token was refused; the text goes into the 401's `WWW-Authenticate` description.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Past `exp` (plus leeway).
    #[error("token expired")]
    Expired,
    /// Signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// Wrong `iss`.
    #[error("invalid issuer")]
    BadIssuer,
    /// Wrong `aud`.
    #[error("invalid audience")]
    BadAudience,
    /// Algorithm other than the configured one, including `none`.
    #[error("algorithm not accepted")]
    BadAlgorithm,
    /// `iat` or `nbf` later than now (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// Anything else: not a JWT, missing claims, bad claim values.
    #[error("malformed token")]
    Malformed,
}

/// Signing and verification keys for the configured algorithm.
pub struct JwtKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// Builds keys from settings. `hs_secret` is the HS256 secret (configured, or the
    /// installation's generated one outside production); PEM files are read for RS256/EdDSA.
    pub fn from_settings(auth: &AuthSettings, hs_secret: &[u8]) -> anyhow::Result<Self> {
        let read = |path: &str| {
            std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read JWT key file {path}: {e}"))
        };
        let (algorithm, encoding, decoding) = match auth.jwt_algorithm.as_str() {
            "HS256" => {
                if hs_secret.len() < crate::config::MIN_SECRET_BYTES {
                    anyhow::bail!(
                        "the HS256 secret is shorter than {} bytes",
                        crate::config::MIN_SECRET_BYTES
                    );
                }
                (
                    Algorithm::HS256,
                    EncodingKey::from_secret(hs_secret),
                    DecodingKey::from_secret(hs_secret),
                )
            }
            "RS256" => (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(&read(&auth.jwt_private_key_file)?)?,
                DecodingKey::from_rsa_pem(&read(&auth.jwt_public_key_file)?)?,
            ),
            "EdDSA" => (
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(&read(&auth.jwt_private_key_file)?)?,
                DecodingKey::from_ed_pem(&read(&auth.jwt_public_key_file)?)?,
            ),
            other => anyhow::bail!("unsupported JWT algorithm {other}"),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&auth.issuer]);
        validation.set_audience(&[&auth.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = auth.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Ok(Self {
            algorithm,
            encoding,
            decoding,
            validation,
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
        })
    }

    /// Issues a token for `p` under its principal's token `version`, valid for `ttl_secs` from
    /// `now`.
    pub fn issue(
        &self,
        p: &Principal,
        version: i32,
        ttl_secs: i64,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: p.subject.clone(),
            iat: now.timestamp(),
            exp: now.timestamp() + ttl_secs,
            jti: uuid::Uuid::now_v7().to_string(),
            role: p.role,
            kind: p.kind,
            hospital: p.hospital_id.map(|h| h.to_string()),
            ver: version,
        };
        Ok(encode(
            &Header::new(self.algorithm),
            &claims,
            &self.encoding,
        )?)
    }

    /// Verifies a token (against the wall clock) and returns its principal and token version.
    pub fn verify(&self, token: &str) -> Result<(Principal, i32), TokenError> {
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                    ErrorKind::InvalidSignature => TokenError::BadSignature,
                    ErrorKind::InvalidIssuer => TokenError::BadIssuer,
                    ErrorKind::InvalidAudience => TokenError::BadAudience,
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                        TokenError::BadAlgorithm
                    }
                    _ => TokenError::Malformed,
                }
            })?;
        let c = data.claims;
        let leeway = i64::try_from(self.validation.leeway).unwrap_or(i64::MAX);
        if c.iat > Utc::now().timestamp().saturating_add(leeway) {
            return Err(TokenError::NotYetValid);
        }
        let hospital_id = match c.hospital {
            Some(h) => Some(h.parse().map_err(|_| TokenError::Malformed)?),
            None => None,
        };
        if c.role.is_hospital_bound() && hospital_id.is_none() {
            return Err(TokenError::Malformed);
        }
        let p = Principal {
            subject: c.sub,
            kind: c.kind,
            role: c.role,
            hospital_id,
            request_id: None,
            correlation_id: None,
        };
        Ok((p, c.ver))
    }
}
