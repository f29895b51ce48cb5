//! A per-address token bucket for the login and token endpoints: `per_minute` attempts, refilled
//! continuously. In memory and per process, which is enough to blunt password guessing; a
//! multi-instance deployment multiplies the allowance by the instance count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets keyed by client address.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Addresses remembered before idle buckets are pruned.
const PRUNE_AT: usize = 10_000;

impl RateLimiter {
    /// A limiter allowing `per_minute` attempts per address per minute (burst the same).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt for `ip`; `Err(seconds)` says how long until the next is allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.check_at(ip, Instant::now())
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let rate = self.per_minute / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= PRUNE_AT {
            let full = self.per_minute;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < full
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.per_minute, now));
        let refilled =
            (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(self.per_minute);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(((1.0 - refilled) / rate).ceil() as u64)
        }
    }
}

/// The client address a request is rate-limited under: the proxy's forwarded address when the
/// server runs behind one (`server.behind_proxy`), else the peer's.
pub fn client_ip(req: &actix_web::HttpRequest, behind_proxy: bool) -> IpAddr {
    let forwarded = behind_proxy
        .then(|| {
            req.connection_info()
                .realip_remote_addr()
                .and_then(|a| a.parse().ok())
        })
        .flatten();
    forwarded
        .or_else(|| req.peer_addr().map(|a| a.ip()))
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_burst_then_refuses_then_refills() {
        let l = RateLimiter::new(3);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Instant::now();
        for _ in 0..3 {
            assert!(l.check_at(ip, t).is_ok());
        }
        let wait = l.check_at(ip, t).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(l.check_at("10.0.0.2".parse().unwrap(), t).is_ok());
        assert!(l.check_at(ip, t + Duration::from_secs(21)).is_ok());
    }
}
