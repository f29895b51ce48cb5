//! Escalation sweep and outbox throughput.
//!
//! 1. `BENCH_CASES` open cases (default 50,000) from the `guthrie generate` generator, of which
//!    `BENCH_DUE` (default 5,000) have a rung due; the sweep is timed twice: with the other cases
//!    scheduled for later (all 50,000 open) and with only a fifth of them scheduled, to show that
//!    the sweep's time follows the due rungs, not the open cases.
//! 2. The e-mails the sweep queued are delivered by the dispatcher to a local SMTP listener;
//!    messages per second are reported.
//!
//! SQLite by default; PostgreSQL with `BENCH_DATABASE_URL`. `cargo bench --bench escalation`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

mod common;
#[path = "../tests/api/sinks.rs"]
mod sinks;

use std::time::Instant;

use chrono::{Duration, Utc};
use diesel::prelude::*;
use guthrie::db::schema::{case_escalations, cases, hospitals, notifications};
use guthrie::db::types::UtcMicros;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Schedules `due` cases' next rung in the past, `later` cases' in the future, the rest none,
/// and forgets earlier runs.
fn arrange(c: &mut guthrie::db::AnyConnection, due: usize, later: usize) {
    let now = Utc::now();
    diesel::delete(notifications::table).execute(c).unwrap();
    diesel::delete(case_escalations::table).execute(c).unwrap();
    diesel::update(cases::table)
        .set((
            cases::next_rung.eq(None::<String>),
            cases::next_rung_at.eq(None::<UtcMicros>),
        ))
        .execute(c)
        .unwrap();
    let ids: Vec<String> = cases::table
        .order(cases::id.asc())
        .limit((due + later) as i64)
        .select(cases::id)
        .load(c)
        .unwrap();
    let (d, l) = ids.split_at(due.min(ids.len()));
    // The due ones opened an hour ago (L0 due; T-tier deadlines decide the rest).
    for chunk in d.chunks(1000) {
        diesel::update(cases::table.filter(cases::id.eq_any(chunk)))
            .set((
                cases::next_rung.eq(Some("L0")),
                cases::next_rung_at.eq(Some(UtcMicros::new(now - Duration::hours(1)))),
                cases::opened_at.eq(UtcMicros::new(now - Duration::hours(1))),
            ))
            .execute(c)
            .unwrap();
    }
    for chunk in l.chunks(1000) {
        diesel::update(cases::table.filter(cases::id.eq_any(chunk)))
            .set((
                cases::next_rung.eq(Some("L2")),
                cases::next_rung_at.eq(Some(UtcMicros::new(now + Duration::days(30)))),
            ))
            .execute(c)
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let (n_cases, n_due) = (
        env_usize("BENCH_CASES", 50_000),
        env_usize("BENCH_DUE", 5_000),
    );
    // Cases per claimed chunk: `jobs.batch_size`, 500 in config/base.toml.
    let chunk = env_usize("BENCH_CHUNK", 500) as i64;
    let smtp = sinks::SmtpSink::start().await;
    let port = smtp.port;
    let server = common::BenchServer::start_with("guthrie_esc", |s| {
        s.notify.email.enabled = true;
        s.notify.email.host = "127.0.0.1".into();
        s.notify.email.port = port;
        s.notify.recipients.on_call_emails = vec!["oncall@centre.test".into()];
        s.notify.batch_size = 500;
        s.notify.concurrency = 16;
        s.jobs.batch_size = 1000;
    })
    .await;
    let state = server.state.clone();
    let pool = state.pool.clone();
    let t = Instant::now();
    tokio::task::spawn_blocking(move || {
        let mut c = pool.get().unwrap();
        guthrie::demo_data::generate(&mut c, 100, n_cases.max(1000), n_cases, Utc::now()).unwrap();
        diesel::update(hospitals::table)
            .set(hospitals::contact_emails.eq(r#"["follow-up@hospital.test"]"#))
            .execute(&mut c)
            .unwrap();
    })
    .await
    .unwrap();
    eprintln!(
        "generated {n_cases} open cases in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let backend = server.backend();

    for scheduled in [n_cases - n_due, (n_cases - n_due) / 5] {
        let pool = state.pool.clone();
        let ctx = state.notice_context();
        let (elapsed, report) = tokio::task::spawn_blocking(move || {
            arrange(&mut pool.get().unwrap(), n_due, scheduled);
            let t = Instant::now();
            let r = guthrie::services::follow_up::escalation::sweep(
                &pool,
                &ctx,
                Utc::now(),
                chunk,
                1000,
                if backend == "PostgreSQL" {
                    guthrie::services::follow_up::escalation::WORKERS
                } else {
                    1
                },
            )
            .unwrap();
            (t.elapsed(), r)
        })
        .await
        .unwrap();
        println!(
            "{backend}: escalation sweep, {} open cases with a rung scheduled, {n_due} due: {:.2} s \
             ({} rungs fired, {} notifications queued, {} staff e-mails after combining, {:.0} cases/s)",
            n_due + scheduled,
            elapsed.as_secs_f64(),
            report.rungs_fired,
            report.notifications_queued,
            report.staff_emails,
            report.cases as f64 / elapsed.as_secs_f64()
        );
        assert_eq!(report.cases, n_due);
        assert_eq!(report.errors, 0);
    }

    // Outbox throughput: deliver every e-mail the sweeps queued one by one (the per-recipient
    // summaries are set aside and the notices they carry queued again), so the figure measures
    // the dispatcher on thousands of messages, comparable with earlier runs.
    let queued: i64 = {
        let mut c = state.pool.get().unwrap();
        diesel::delete(
            notifications::table.filter(notifications::template.eq("escalation_summary")),
        )
        .execute(&mut c)
        .unwrap();
        diesel::update(notifications::table.filter(notifications::status.eq("cancelled")))
            .set((
                notifications::status.eq("queued"),
                notifications::next_attempt_at.eq(Utc::now().naive_utc()),
            ))
            .execute(&mut c)
            .unwrap();
        notifications::table
            .filter(notifications::channel.eq("email"))
            .filter(notifications::status.eq("queued"))
            .count()
            .get_result(&mut c)
            .unwrap()
    };
    let t = Instant::now();
    let mut sent = 0;
    loop {
        let r = guthrie::jobs::dispatch::run(&state, Utc::now())
            .await
            .unwrap();
        sent += r.sent;
        if r.claimed == 0 {
            break;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(sent as i64, queued);
    assert_eq!(smtp.mails().len(), sent);
    println!(
        "{backend}: outbox to a local SMTP listener: {sent} e-mails in {secs:.2} s = {:.0} messages/s",
        sent as f64 / secs
    );
}
