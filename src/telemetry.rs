//! Logging and metrics. Logs are structured `tracing` events (JSON in production) that carry
//! ids, never names, phone numbers, ID numbers, addresses or tokens. Metrics are Prometheus text.

use std::sync::Once;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;

use crate::config::LogSettings;

static INIT: Once = Once::new();

/// Installs the global subscriber once (later calls are ignored, which tests rely on).
/// `RUST_LOG` overrides the configured level.
pub fn init(log: &LogSettings) {
    INIT.call_once(|| {
        let filter = EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(&log.level))
            .unwrap_or_else(|_| EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        let _ = if log.format == "json" {
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .try_init()
        } else {
            builder.try_init()
        };
    });
}

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// Route pattern (never the raw path, which may carry ids).
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// Labels of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// Route pattern.
    pub route: String,
}

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by method, route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by method and route.
    pub latency: Family<RouteLabels, Histogram>,
}

impl Metrics {
    /// Registers the HTTP metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("guthrie");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        registry.register("http_requests", "HTTP requests handled", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        Self {
            registry,
            requests,
            latency,
        }
    }

    /// Adds the SQLite group writer's counters (`guthrie_write_groups_total`,
    /// `guthrie_write_group_requests_total`: requests per commit is their ratio).
    pub fn with_write_groups(mut self, counts: &crate::db::group_commit::Counts) -> Self {
        self.registry.register(
            "write_groups",
            "Commits of the SQLite group writer",
            counts.groups.clone(),
        );
        self.registry.register(
            "write_group_requests",
            "Write requests committed by the SQLite group writer",
            counts.requests.clone(),
        );
        self
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
