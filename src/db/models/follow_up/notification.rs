//! `notifications` (the outbox), `case_escalations` (fired rungs) and `job_runs`.
//!
//! A notification is written in the transaction of the change that causes it, with a unique
//! `dedup_key`, so a retried or concurrent sweep can never queue the same message twice.
//! Dispatchers claim due rows (row locks with `SKIP LOCKED` on PostgreSQL; the single writer of
//! SQLite's `BEGIN IMMEDIATE` there) and hold them for a lease; a crashed dispatcher's rows are
//! taken over when the lease ends.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{case_escalations, job_runs, notifications};
use crate::db::types::{Json, UtcMicros};
use crate::domain::escalation::Rung;
use crate::domain::ids::{CaseId, HospitalId, NotificationId};
use crate::domain::job::Job;
use crate::domain::notification::{Audience, Channel, Event, Status};
use crate::domain::principal::Scope;
use crate::with_conn;

/// An outbox row. `recipient` is personal data: never log it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: NotificationId,
    pub dedup_key: String,
    pub case_id: Option<CaseId>,
    pub hospital_id: Option<HospitalId>,
    pub template: String,
    pub channel: Channel,
    pub recipient_role: Audience,
    pub recipient: String,
    pub locale: String,
    pub subject: Option<String>,
    pub body: String,
    pub status: Status,
    pub attempts: i32,
    pub next_attempt_at: UtcMicros,
    pub claimed_until: Option<UtcMicros>,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: UtcMicros,
    pub updated_at: UtcMicros,
    pub sent_at: Option<UtcMicros>,
    pub delivered_at: Option<UtcMicros>,
}

/// Changes after a delivery attempt or a receipt.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = notifications)]
pub struct NotificationUpdate {
    pub next_attempt_at: Option<UtcMicros>,
    pub claimed_until: Option<Option<UtcMicros>>,
    pub provider_message_id: Option<Option<String>>,
    pub last_error: Option<Option<String>>,
    pub updated_at: Option<UtcMicros>,
    pub sent_at: Option<Option<UtcMicros>>,
    pub delivered_at: Option<Option<UtcMicros>>,
}

/// A fired rung.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = case_escalations)]
pub struct Escalation {
    pub case_id: CaseId,
    pub rung: Rung,
    pub fired_at: UtcMicros,
    /// `{role, channel, count}` per recipient group; no addresses.
    pub recipients: Json<Vec<serde_json::Value>>,
}

/// Queues `rows`, skipping any whose `dedup_key` exists; returns the ids queued.
pub fn enqueue_all(
    conn: &mut AnyConnection,
    rows: &[Notification],
) -> QueryResult<Vec<NotificationId>> {
    let mut queued = Vec::with_capacity(rows.len());
    for part in rows.chunks(super::sweep::ROWS_PER_INSERT) {
        let ids: Vec<NotificationId> =
            with_conn!(conn, |c| diesel::insert_into(notifications::table)
                .values(part)
                .on_conflict(notifications::dedup_key)
                .do_nothing()
                .returning(notifications::id)
                .get_results(c))?;
        queued.extend(ids);
    }
    Ok(queued)
}

/// What combining needs of a held staff e-mail (not its body).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct HeldEmail {
    pub id: NotificationId,
    pub case_id: Option<CaseId>,
    pub hospital_id: Option<HospitalId>,
    pub template: String,
    pub recipient_role: Audience,
    pub recipient: String,
    pub locale: String,
    pub subject: Option<String>,
}

/// Staff e-mails a sweep queued at `created_at` and held until `held_until` for combining
/// (locked on PostgreSQL; another server's sweep skips them), in one query. Call inside a write
/// transaction.
pub fn held_staff_emails(
    conn: &mut AnyConnection,
    created_at: UtcMicros,
    held_until: UtcMicros,
) -> QueryResult<Vec<HeldEmail>> {
    use notifications::dsl as n;
    let q = n::notifications
        .filter(n::status.eq(Status::Queued))
        .filter(n::channel.eq(Channel::Email))
        .filter(n::recipient_role.ne(Audience::Family))
        .filter(n::created_at.eq(created_at))
        .filter(n::next_attempt_at.eq(held_until))
        .order(n::id.asc());
    match conn {
        AnyConnection::Postgresql(c) => q
            .select(HeldEmail::as_select())
            .for_update()
            .skip_locked()
            .load(c),
        AnyConnection::Sqlite(c) => q.select(HeldEmail::as_select()).load(c),
    }
}

/// Makes held notifications due at `at`.
pub fn release(
    conn: &mut AnyConnection,
    ids: &[NotificationId],
    at: UtcMicros,
) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::id.eq_any(ids))
            .filter(notifications::status.eq(Status::Queued)),
    )
    .set(notifications::next_attempt_at.eq(at))
    .execute(conn)
}

/// Cancels queued notifications that one combined message (`combined_id`) now carries.
pub fn combine_into(
    conn: &mut AnyConnection,
    ids: &[NotificationId],
    combined_id: NotificationId,
    now: UtcMicros,
) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::id.eq_any(ids))
            .filter(notifications::status.eq_any(Event::Combine.from())),
    )
    .set((
        notifications::status.eq(Event::Combine.to()),
        notifications::last_error.eq(Some(format!("combined into {combined_id}"))),
        notifications::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Claims up to `limit` notifications of `channels` that are due (queued and due, or held by a
/// dispatcher whose lease ran out), marks them `sending` until `lease_until` and counts the
/// attempt. Call inside a write transaction.
pub fn claim(
    conn: &mut AnyConnection,
    channels: &[Channel],
    now: UtcMicros,
    lease_until: UtcMicros,
    limit: i64,
) -> QueryResult<Vec<Notification>> {
    use notifications::dsl as n;
    let (queued, sending) = (Status::Queued, Status::Sending);
    let due = n::notifications
        .filter(n::channel.eq_any(channels))
        .filter(
            n::status
                .eq(queued)
                .and(n::next_attempt_at.le(now))
                .or(n::status.eq(sending).and(n::claimed_until.lt(now))),
        )
        .order(n::next_attempt_at.asc())
        .limit(limit)
        .select(n::id);
    let ids: Vec<NotificationId> = match conn {
        AnyConnection::Postgresql(c) => due.for_update().skip_locked().load(c)?,
        AnyConnection::Sqlite(c) => due.load(c)?,
    };
    if ids.is_empty() {
        return Ok(vec![]);
    }
    diesel::update(n::notifications.filter(n::id.eq_any(&ids)))
        .set((
            n::status.eq(Event::Claim.to()),
            n::claimed_until.eq(Some(lease_until)),
            n::attempts.eq(n::attempts + 1),
            n::updated_at.eq(now),
        ))
        .execute(conn)?;
    n::notifications
        .filter(n::id.eq_any(&ids))
        .order(n::next_attempt_at.asc())
        .select(Notification::as_select())
        .load(conn)
}

/// Extends the lease of a notification this dispatcher still holds: `sending` under the claim
/// that counted attempt `attempts` (a later claim by another dispatcher counted another).
/// `false` means another dispatcher took it over: do not send.
pub fn hold(
    conn: &mut AnyConnection,
    id: NotificationId,
    attempts: i32,
    lease_until: UtcMicros,
) -> QueryResult<bool> {
    diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::status.eq(Status::Sending))
            .filter(notifications::attempts.eq(attempts)),
    )
    .set(notifications::claimed_until.eq(Some(lease_until)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Records the result of attempt `attempts` (`event`: sent, requeued or given up) on a row this
/// dispatcher still holds (`sending` under its own claim).
pub fn finish(
    conn: &mut AnyConnection,
    id: NotificationId,
    attempts: i32,
    event: Event,
    form: &NotificationUpdate,
) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::status.eq_any(event.from()))
            .filter(notifications::attempts.eq(attempts)),
    )
    .set((notifications::status.eq(event.to()), form))
    .execute(conn)
}

/// Applies `event` (and `form`) to a notification in one of the event's `from` statuses;
/// returns rows changed (0: another actor moved it first, or the event does not apply).
pub fn apply(
    conn: &mut AnyConnection,
    id: NotificationId,
    event: Event,
    form: &NotificationUpdate,
) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::status.eq_any(event.from())),
    )
    .set((notifications::status.eq(event.to()), form))
    .execute(conn)
}

/// One notification within scope.
pub fn get(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: NotificationId,
) -> QueryResult<Option<Notification>> {
    let mut q = notifications::table
        .filter(notifications::id.eq(id))
        .into_boxed();
    q = crate::scoped!(q, scope, notifications::hospital_id);
    q.select(Notification::as_select()).first(conn).optional()
}

/// The notification a gateway knows by `provider_id`.
pub fn by_provider_id(
    conn: &mut AnyConnection,
    channel: &str,
    provider_id: &str,
) -> QueryResult<Option<Notification>> {
    notifications::table
        .filter(notifications::channel.eq(channel))
        .filter(notifications::provider_message_id.eq(provider_id))
        .select(Notification::as_select())
        .first(conn)
        .optional()
}

/// List filters.
#[derive(Debug, Default, Clone)]
pub struct NotificationFilter {
    pub status: Option<Status>,
    pub channel: Option<Channel>,
    pub case_id: Option<String>,
    pub template: Option<String>,
    /// Rows with ids below this one (newest first).
    pub before_id: Option<String>,
}

/// Notifications within scope, newest first.
pub fn list(
    conn: &mut AnyConnection,
    scope: &Scope,
    f: &NotificationFilter,
    limit: i64,
) -> QueryResult<Vec<Notification>> {
    let mut q = notifications::table.into_boxed();
    q = crate::scoped!(q, scope, notifications::hospital_id);
    if let Some(s) = &f.status {
        q = q.filter(notifications::status.eq(*s));
    }
    if let Some(c) = &f.channel {
        q = q.filter(notifications::channel.eq(*c));
    }
    if let Some(c) = &f.case_id {
        q = q.filter(notifications::case_id.eq(c.clone()));
    }
    if let Some(t) = &f.template {
        q = q.filter(notifications::template.eq(t.clone()));
    }
    if let Some(b) = &f.before_id {
        q = q.filter(notifications::id.lt(b.clone()));
    }
    q.order(notifications::id.desc())
        .limit(limit)
        .select(Notification::as_select())
        .load(conn)
}

/// The deduplication keys and queue times of a case's notifications from `template`.
pub fn keys_of_case(
    conn: &mut AnyConnection,
    case_id: CaseId,
    template: &str,
) -> QueryResult<Vec<(String, UtcMicros)>> {
    notifications::table
        .filter(notifications::case_id.eq(case_id))
        .filter(notifications::template.eq(template))
        .select((notifications::dedup_key, notifications::created_at))
        .load(conn)
}

/// How many notifications within scope have `status`.
pub fn count_status(conn: &mut AnyConnection, scope: &Scope, status: &str) -> QueryResult<i64> {
    let mut q = notifications::table
        .filter(notifications::status.eq(status.to_string()))
        .into_boxed();
    q = crate::scoped!(q, scope, notifications::hospital_id);
    q.count().get_result(conn)
}

/// The rungs a case has fired.
pub fn escalations_of(conn: &mut AnyConnection, case_id: CaseId) -> QueryResult<Vec<Escalation>> {
    case_escalations::table
        .filter(case_escalations::case_id.eq(case_id))
        .order(case_escalations::rung.asc())
        .select(Escalation::as_select())
        .load(conn)
}

/// A job's last run.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = job_runs)]
#[diesel(treat_none_as_null = true)]
pub struct JobRun {
    pub name: Job,
    pub last_started_at: Option<UtcMicros>,
    pub last_finished_at: Option<UtcMicros>,
    pub last_ok: Option<bool>,
    pub last_report: Option<Json<serde_json::Value>>,
    /// The server (`host/pid/id`) that ran it.
    pub last_server: Option<String>,
}

/// Stores a job's last run.
pub fn save_run(conn: &mut AnyConnection, row: &JobRun) -> QueryResult<()> {
    with_conn!(conn, |c| diesel::insert_into(job_runs::table)
        .values(row)
        .on_conflict(job_runs::name)
        .do_update()
        .set(row)
        .execute(c))
    .map(|_| ())
}

/// Every job's last run.
pub fn runs(conn: &mut AnyConnection) -> QueryResult<Vec<JobRun>> {
    job_runs::table
        .order(job_runs::name.asc())
        .select(JobRun::as_select())
        .load(conn)
}

/// Claims the tick of `job` scheduled at `tick_at` for `server`: `true` if this server is the
/// first (it runs the tick), `false` if another server took it. Ticks older than `forget_before`
/// are forgotten on the way.
pub fn claim_tick(
    conn: &mut AnyConnection,
    job: Job,
    tick_at: UtcMicros,
    server: &str,
    now: UtcMicros,
    forget_before: UtcMicros,
) -> QueryResult<bool> {
    use crate::db::schema::job_ticks as t;
    diesel::delete(
        t::table
            .filter(t::job.eq(job))
            .filter(t::tick_at.lt(forget_before)),
    )
    .execute(conn)?;
    let n = with_conn!(conn, |c| diesel::insert_into(t::table)
        .values((
            t::job.eq(job),
            t::tick_at.eq(tick_at),
            t::server.eq(server),
            t::claimed_at.eq(now),
        ))
        .on_conflict((t::job, t::tick_at))
        .do_nothing()
        .execute(c))?;
    Ok(n == 1)
}
