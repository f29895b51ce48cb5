//! Follow-up fidelity: one case per missing specimen, opt-out at once, reminders counted by
//! reminders sent, deadlines on the summary and the worklists.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{register_card, register_infant};
use crate::jobs::{Env, next_local};

async fn cases_of(env: &Env, infant: &str) -> Vec<Value> {
    let v: Value = env
        .app
        .get(&format!("/api/v1/cases?infant_id={infant}"), &env.lab)
        .await
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().clone()
}

async fn worklist(env: &Env, name: &str) -> Vec<String> {
    let v: Value = env
        .app
        .get(&format!("/api/v1/worklists/{name}"), &env.lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["count"].as_u64().unwrap() as usize,
        v["items"].as_array().unwrap().len()
    );
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_open_case_of_the_programme_covers_its_missing_screen() {
    let env = Env::start().await;
    let (infant, birth) = register_infant(&env.app, &env.hospital, "M4", 24 * 25).await;
    let status = register_card(
        &env.app,
        &env.hospital,
        &infant,
        "BCM4",
        birth + Duration::hours(72),
        None,
    )
    .await;
    assert_eq!(status, 201);
    let r = env
        .app
        .post(
            "/api/v1/cards/BCM4/receipt",
            &env.lab,
            &json!({"received_at": (birth + Duration::hours(96)).to_rfc3339(), "quality": "insufficient"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let report = env.app.run_job("missed_screens").await;
    assert_eq!(report["opened"], json!({"DBS": 0, "HEAR": 1, "CCHD": 1}));
    let dbs: Vec<Value> = cases_of(&env, &infant)
        .await
        .into_iter()
        .filter(|c| c["programme"] == "DBS")
        .collect();
    assert_eq!(dbs.len(), 1, "{dbs:?}");
    assert_eq!(dbs[0]["reason"], "recollect");
}

#[tokio::test]
async fn opting_out_of_sms_flags_every_open_case_at_once() {
    let env = Env::start().await;
    let (infant, case) = env.case_with("O5", &[("C16-OH", 0.5)]).await;
    assert_eq!(env.case(&case).await["contact_problem"], false);
    assert!(!worklist(&env, "contact_problems").await.contains(&case));
    let r = env
        .app
        .patch(
            &format!("/api/v1/infants/{infant}"),
            &env.hospital,
            &json!({"sms_opt_out": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let c = env.case(&case).await;
    assert_eq!(c["contact_problem"], true);
    assert!(
        c["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "contact_problem" && e["detail"]["reason"] == "sms_opt_out"),
        "{c}"
    );
    assert_eq!(worklist(&env, "contact_problems").await, vec![case]);
}

#[tokio::test]
async fn a_long_overdue_recall_still_gets_its_reminders() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let (_, case) = env.case_with("R6", &[("Tyr", 400.0)]).await;
    let due = time(&env.case(&case).await["recall_due_at"]);
    // Twenty days overdue before the first run (e.g. an age-capped late recollection).
    let mut days = vec![];
    for day in 20..35 {
        env.app
            .clock
            .set(due + Duration::hours(1) + Duration::days(day));
        if env.app.run_job("family_reminders").await["overdue_reminders"] == 1 {
            days.push(day);
        }
    }
    assert_eq!(days, vec![20, 23, 26]);
}

#[tokio::test]
async fn deadlines_reach_the_summary_and_the_worklists() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let (infant, case) = env.case_with("D7", &[("C16-OH", 0.5)]).await;
    let c = env.case(&case).await;
    let (first, recall) = (time(&c["first_contact_due_at"]), time(&c["recall_due_at"]));
    assert!(first < recall, "{c}");
    assert_eq!(time(&c["next_due_at"]), first);

    // The summary shows the recall deadline of a positive card.
    let s: Value = env
        .app
        .get(&format!("/api/v1/infants/{infant}/screening"), &env.lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["dbs"]["next_action"]["action"], "recall");
    assert_eq!(time(&s["dbs"]["next_action"]["due_by"]), recall);

    // Past first contact but before the recall: overdue, not on the recall-based lists.
    env.app.clock.set(first + Duration::minutes(1));
    assert_eq!(worklist(&env, "overdue").await, vec![case.clone()]);
    assert_eq!(env.case(&case).await["overdue"], true);
    let v: Value = env
        .app
        .get("/api/v1/cases?overdue=true", &env.lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    // Before the first-contact deadline, it is due within 48 h.
    env.app.clock.set(first - Duration::minutes(1));
    assert_eq!(worklist(&env, "due_48h").await, vec![case.clone()]);

    // Once the family is reached only the recall counts.
    env.app.clock.set(first + Duration::minutes(1));
    env.app
        .act_on_case(
            &env.lab,
            &case,
            &json!({"transition": {"event": "contact_family"}}),
        )
        .await;
    assert!(worklist(&env, "overdue").await.is_empty());
    let c = env.case(&case).await;
    assert_eq!(time(&c["next_due_at"]), recall);
    assert_eq!(c["overdue"], false);
}
