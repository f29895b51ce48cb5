//! Immediate revocation. Every token carries its principal's token version; a demotion,
//! deactivation, password reset or secret rotation bumps the stored version, so a token issued
//! before stops working. Each request checks the stored version and the principal's `active`
//! flag, cached for at most [`CACHE_SECS`] per principal; the server that made the change
//! forgets its cached entry at once, so on one server revocation is immediate and across
//! servers it takes at most that long.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::models::admin::{api_client, user};
use crate::db::{self, DbPool};
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::AppError;

/// How long one server trusts a principal's looked-up token version.
pub const CACHE_SECS: u64 = 2;

/// Above this many cached principals, expired entries are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// A principal's stored token version and whether it is active.
type TokenState = (i32, bool);

/// The per-process cache of principals' token states.
#[derive(Debug, Default)]
pub struct TokenVersions {
    entries: Mutex<HashMap<String, (TokenState, Instant)>>,
}

impl TokenVersions {
    /// Drops a principal's cached state (after a change to it on this server).
    pub fn forget(&self, principal_key: &str) {
        if let Ok(mut m) = self.entries.lock() {
            m.remove(principal_key);
        }
    }

    fn get(&self, key: &str) -> Option<TokenState> {
        let m = self.entries.lock().ok()?;
        m.get(key)
            .filter(|(_, at)| at.elapsed() < Duration::from_secs(CACHE_SECS))
            .map(|(s, _)| *s)
    }

    fn put(&self, key: String, s: TokenState) {
        if let Ok(mut m) = self.entries.lock() {
            if m.len() > PRUNE_ABOVE {
                m.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(CACHE_SECS));
            }
            m.insert(key, (s, Instant::now()));
        }
    }

    /// Whether a token of `p` issued under `version` is still good: the principal exists, is
    /// active, and its version has not moved on.
    pub async fn still_valid(
        &self,
        pool: &DbPool,
        p: &Principal,
        version: i32,
    ) -> Result<bool, AppError> {
        let key = p.key();
        let state = match self.get(&key) {
            Some(s) => Some(s),
            None => {
                let (kind, id) = (p.kind, p.subject.clone());
                let found = db::run(pool, move |c| {
                    Ok(match kind {
                        PrincipalKind::User => match id.parse() {
                            Ok(id) => user::token_state(c, id)?,
                            Err(_) => None,
                        },
                        PrincipalKind::Client => api_client::token_state(c, &id)?,
                        PrincipalKind::Job => None,
                    })
                })
                .await?;
                if let Some(s) = found {
                    self.put(key, s);
                }
                found
            }
        };
        Ok(state.is_some_and(|(v, active)| active && v == version))
    }
}
