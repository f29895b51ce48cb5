//! What every notice about a case needs: the case with its infant and hospital, template
//! variables for families (no diagnosis) and for staff, the family's phones and the quiet-hours
//! rule. Used by the escalation sweep and the family reminders.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

use crate::config::NotifySettings;
use crate::db::AnyConnection;
use crate::db::models::admin::hospital::Hospital;
use crate::db::models::follow_up::case::Case;
use crate::db::models::follow_up::sweep;
use crate::db::models::screening::infant::Infant;
use crate::db::types::UtcMicros;
use crate::domain::catalogue::Tier;
use crate::domain::due::DuePolicy;
use crate::domain::ids::CaseId;
use crate::domain::infant::InfantStatus;
use crate::domain::notification::{Audience, Channel};
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::notify::outbox::{Outgoing, after_quiet_hours};
use crate::services::admin::catalogue::SharedCatalogues;
use crate::services::admin::policy::SharedPolicies;
use crate::services::follow_up::contacts::flag_contact_problem;

/// Everything a notice job needs besides the connection.
#[derive(Debug, Clone)]
pub struct NoticeContext {
    /// `[notify]` settings.
    pub notify: NotifySettings,
    /// The loaded message templates (zh-CN and English).
    pub templates: Arc<crate::notify::templates::Templates>,
    /// Catalogue versions (condition names).
    pub catalogues: SharedCatalogues,
    /// Policy versions (ladder, time zone).
    pub policies: SharedPolicies,
    /// Management plan versions (the contact ladder).
    pub plans: crate::services::management::plans::SharedPlans,
}

impl NoticeContext {
    /// The policy a case was opened under, else the one in force.
    pub fn policy_of(&self, c: &Case, now: DateTime<Utc>) -> Result<Arc<DuePolicy>, AppError> {
        let stored = self
            .policies
            .read()
            .ok()
            .and_then(|s| s.get(&c.policy_version));
        match stored {
            Some(p) => Ok(p),
            None => crate::services::admin::policy::current(&self.policies, now),
        }
    }
}

/// A case with the records its notices quote.
#[derive(Debug, Clone)]
pub struct CaseFacts {
    /// The case.
    pub case: Case,
    /// Its infant.
    pub infant: Infant,
    /// The birth hospital.
    pub hospital: Hospital,
    /// The due policy the case was opened under (ladder, time zone).
    pub policy: Arc<DuePolicy>,
    /// The policy's time zone.
    pub tz: Tz,
    /// The case's urgency tier.
    pub tier: Tier,
}

/// Loads a case and its infant and hospital.
pub fn load(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    case_id: CaseId,
    now: DateTime<Utc>,
) -> Result<Option<CaseFacts>, AppError> {
    Ok(load_many(conn, ctx, &[case_id], now)?.pop())
}

/// Loads the cases `ids` (those that exist) with their infants and hospitals, in one query.
pub fn load_many(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    ids: &[CaseId],
    now: DateTime<Utc>,
) -> Result<Vec<CaseFacts>, AppError> {
    sweep::case_records(conn, ids)?
        .into_iter()
        .map(|(c, infant, hospital)| {
            let policy = ctx.policy_of(&c, now)?;
            let tz = policy
                .tz()
                .map_err(|m| AppError::Unexpected(anyhow::anyhow!(m)))?;
            Ok(CaseFacts {
                policy,
                tier: c.tier,
                case: c,
                infant,
                hospital,
                tz,
            })
        })
        .collect()
}

impl CaseFacts {
    /// `HOSPITALCODE-MRN`: what families and hospitals quote; never a name.
    pub fn infant_ref(&self) -> String {
        crate::domain::infant::infant_ref(&self.hospital.code, &self.infant.mrn)
    }

    fn local(&self, t: UtcMicros, fmt: &str) -> String {
        t.utc().with_timezone(&self.tz).format(fmt).to_string()
    }

    /// Variables of family messages: no diagnosis, no name.
    pub fn family_vars(&self, ctx: &NoticeContext, locale: &str) -> BTreeMap<&'static str, String> {
        let c = &self.case;
        let dash = || "—".to_string();
        BTreeMap::from([
            ("infant_ref", self.infant_ref()),
            ("hospital", self.hospital.name.clone()),
            ("due_date", self.local(c.recall_due_at, "%Y-%m-%d")),
            (
                "appointment",
                c.appointment_at
                    .map_or_else(dash, |a| self.local(a, "%Y-%m-%d %H:%M")),
            ),
            (
                "place",
                c.appointment_place
                    .clone()
                    .unwrap_or_else(|| self.hospital.name.clone()),
            ),
            ("bring", ctx.templates.bring(locale, c.programme.as_str())),
            ("centre_phone", ctx.notify.centre_phone.clone()),
        ])
    }

    /// Variables of staff messages about the case.
    pub fn staff_vars(
        &self,
        ctx: &NoticeContext,
        locale: &str,
        rung: &str,
    ) -> BTreeMap<&'static str, String> {
        let c = &self.case;
        let codes = &c.suspected.0;
        let names: Vec<String> = {
            let cat = ctx
                .catalogues
                .read()
                .ok()
                .and_then(|s| s.get(&c.catalogue_version));
            codes
                .iter()
                .map(|code| {
                    cat.as_ref()
                        .and_then(|i| i.catalogue().conditions.iter().find(|x| &x.code == code))
                        .map_or_else(
                            || code.clone(),
                            |x| {
                                let n = if locale == "en" {
                                    &x.name_en
                                } else {
                                    &x.name_zh
                                };
                                format!("{n} ({code})")
                            },
                        )
                })
                .collect()
        };
        let fmt = "%Y-%m-%d %H:%M";
        BTreeMap::from([
            ("case_ref", c.id.to_string()),
            ("infant_ref", self.infant_ref()),
            ("hospital", self.hospital.name.clone()),
            (
                "district",
                self.hospital.district.clone().unwrap_or_else(|| "—".into()),
            ),
            ("programme", c.programme.to_string()),
            ("reason", c.reason.to_string()),
            ("tier", c.tier.to_string()),
            ("state", c.state.to_string()),
            (
                "conditions",
                if names.is_empty() {
                    "—".into()
                } else {
                    names.join(if locale == "en" { ", " } else { "、" })
                },
            ),
            ("opened_at", self.local(c.opened_at, fmt)),
            ("first_contact_due", self.local(c.first_contact_due_at, fmt)),
            ("recall_due", self.local(c.recall_due_at, fmt)),
            ("rung", rung.to_string()),
        ])
    }

    /// When a family SMS may go: T0 cases at once, others after the quiet hours.
    pub fn family_send_at(&self, ctx: &NoticeContext, now: DateTime<Utc>) -> DateTime<Utc> {
        if self.tier == Tier::T0 {
            return now;
        }
        let p = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").ok();
        match (
            p(&ctx.notify.quiet_hours_start),
            p(&ctx.notify.quiet_hours_end),
        ) {
            (Some(s), Some(e)) => after_quiet_hours(now, self.tz, s, e),
            _ => now,
        }
    }

    /// Hospital follow-up contacts.
    pub fn hospital_emails(&self) -> Vec<String> {
        self.hospital.emails()
    }
}

/// Queues a family SMS about a case (see [`family_sms`]); returns the number of messages queued.
pub fn queue_family_sms(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    f: &CaseFacts,
    template: &'static str,
    dedup_base: String,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    match family_sms(conn, ctx, f, template, dedup_base, who, now)? {
        Some(o) => crate::notify::outbox::queue(conn, &ctx.templates, &o, now),
        None => Ok(0),
    }
}

/// A family SMS about a case, unless the family cannot receive one: an infant who is no longer
/// in follow-up (deceased, transferred, merged) gets nothing; a family that opted out of SMS or
/// has no phone puts the case on the contact-problem worklist instead (once per cause).
pub fn family_sms(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    f: &CaseFacts,
    template: &'static str,
    dedup_base: String,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Option<Outgoing>, AppError> {
    if f.infant.status != InfantStatus::Active || f.infant.merged_into.is_some() {
        return Ok(None);
    }
    let phones = f.infant.phones();
    let blocked = if f.infant.sms_opt_out {
        Some("sms_opt_out")
    } else if phones.is_empty() {
        Some("no_phone")
    } else {
        None
    };
    if let Some(why) = blocked {
        if !f.case.contact_problem {
            flag_contact_problem(
                conn,
                f.case.id,
                json!({"source": "family_sms", "reason": why, "needs": "another channel (phone call, home visit, via hospital)"}),
                who,
                now,
            )?;
        }
        return Ok(None);
    }
    let locale = ctx.notify.family_locale.clone();
    Ok(Some(Outgoing {
        dedup_base,
        case_id: Some(f.case.id),
        hospital_id: Some(f.case.hospital_id),
        template,
        channel: Channel::Sms,
        role: Audience::Family,
        recipients: phones,
        vars: f.family_vars(ctx, &locale),
        locale,
        not_before: f.family_send_at(ctx, now),
    }))
}
