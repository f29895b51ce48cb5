use chrono::{DateTime, Duration, TimeZone, Utc};

use super::plan::{Anchor, Anchors, PlanSet};
use super::*;

fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn shipped() -> PlanSet {
    PlanSet::from_toml(DEFAULT_PLANS_TOML).unwrap()
}

const SMALL: &str = r#"
version = "t1"
effective_from = "2026-01-01"
units = ["mIU/L"]
[escalation]
family_reminder_days_before = 3
staff_after_window_days = 0
district_after_window_days = 14
[[plans]]
code = "CH"
name = "CH"
conditions = ["CH"]
treatment_target = { anchor = "birth", days = 14 }
horizon_months = 12
source = "test"
[[plans.contacts]]
code = "TFT"
kind = "test"
anchor = "treatment"
offset_days = 14
tolerance_days = 3
repeat = { every_weeks = 10, until_age_months = 12 }
fields = [{ code = "TSH", unit = "mIU/L", low = 0.5, high = 5.0 }]
source = "test"
"#;

#[test]
fn the_shipped_plans_manage_every_screened_condition() {
    let s = shipped();
    let codes = [
        "CH", "CAH", "G6PD", "PKU", "BH4D", "MSUD", "CIT1", "NICCD", "ASA", "ARG", "TYR1", "HCY",
        "MMA", "PA", "IVA", "GA1", "MCC", "HMG", "BKT", "MCD", "PCD", "MCAD", "VLCAD", "SCAD",
        "CPT1", "CPT2", "CACT", "GA2", "LCHAD", "HL", "CCHD",
    ];
    assert_eq!(codes.len(), 31, "29 DBS conditions, hearing loss and CCHD");
    for c in codes {
        let p = s
            .plan_for(c, None)
            .unwrap_or_else(|| panic!("{c} has no plan"));
        assert!(p.conditions.iter().any(|x| x == c), "{c}");
    }
    // A confirmed condition the plans do not name falls back to its programme's plan.
    assert_eq!(
        s.plan_for("NEW", Some(crate::domain::catalogue::Programme::Dbs))
            .unwrap()
            .code,
        "DBS-OTHER"
    );
    assert!(s.plan_for("NEW", None).is_none());
}

#[test]
fn a_bad_plan_stops_loading_naming_the_entry() {
    for (from, to, expect) in [
        (
            "offset_days = 14",
            "offset_days = -1",
            "plan CH contact TFT: offset_days -1",
        ),
        (
            "offset_days = 14",
            "offset_days = 9999",
            "plan CH contact TFT: offset_days 9999",
        ),
        (
            "tolerance_days = 3",
            "tolerance_days = 3\ncolour = 1",
            "unknown field `colour`",
        ),
        (
            r#"unit = "mIU/L", low"#,
            r#"unit = "mU/dL", low"#,
            "plan CH contact TFT: field TSH has unknown unit \"mU/dL\"",
        ),
        (
            "until_age_months = 12",
            "until_age_months = 13",
            "plan CH contact TFT: repeat",
        ),
        (
            "every_weeks = 10",
            "every_weeks = 0",
            "plan CH contact TFT: repeat",
        ),
        (
            "low = 0.5, high = 5.0",
            "low = 6.0, high = 5.0",
            "low above high",
        ),
        (
            r#"kind = "test""#,
            r#"kind = "call""#,
            "unknown variant `call`",
        ),
    ] {
        let text = SMALL.replacen(from, to, 1);
        assert_ne!(text, SMALL, "{from}");
        let e = PlanSet::from_toml(&text).unwrap_err().0;
        assert!(e.contains(expect), "{to}: {e}");
    }
    let twice = format!(
        "{SMALL}\n{}",
        &SMALL[SMALL.find("[[plans]]").unwrap()..].replace("code = \"CH\"", "code = \"CH2\"")
    );
    let e = PlanSet::from_toml(&twice).unwrap_err().0;
    assert!(
        e.contains("condition CH is already managed by plan CH"),
        "{e}"
    );
    let no_treatment = SMALL.replace("treatment_target = { anchor = \"birth\", days = 14 }\n", "");
    let e = PlanSet::from_toml(&no_treatment).unwrap_err().0;
    assert!(
        e.contains("anchored on treatment in a plan without treatment"),
        "{e}"
    );
}

#[test]
fn a_schedule_follows_each_anchor_across_the_first_year() {
    let s = shipped();
    let ch = s.plan("CH").unwrap();
    let birth = t(2026, 1, 1);
    let a = Anchors {
        birth,
        diagnosis: t(2026, 1, 10),
        treatment: None,
    };
    // Before treatment: only the birth-anchored contacts (development at 1, 2, 3 years; the
    // thyroid tests of years 2 and 3).
    let before = ch.schedule(&a, &[Anchor::Birth, Anchor::Diagnosis], birth);
    assert!(before.iter().all(|o| o.code == "DEV" || o.code == "TFT-Y2"));
    let dev: Vec<_> = before.iter().filter(|o| o.code == "DEV").collect();
    assert_eq!(dev.len(), 3);
    assert_eq!(dev[0].due_at, birth + Duration::days(365));
    assert_eq!(dev[0].window_start, birth + Duration::days(335));
    assert_eq!(dev[0].window_end, birth + Duration::days(395));
    assert_eq!((dev[0].seq, dev[2].seq), (1, 3));
    // Treatment on day 12: first check 2 weeks later, then every 10 weeks to 12 months.
    let start = birth + Duration::days(12);
    let a = Anchors {
        treatment: Some(start),
        ..a
    };
    let after = ch.schedule(&a, &[Anchor::Treatment], start);
    assert_eq!(after[0].code, "TFT-1");
    assert_eq!(after[0].due_at, start + Duration::days(14));
    let tft: Vec<_> = after
        .iter()
        .filter(|o| o.code == "TFT")
        .map(|o| o.due_at)
        .collect();
    assert_eq!(tft[0], start + Duration::days(70));
    assert!(tft.windows(2).all(|w| w[1] - w[0] == Duration::weeks(10)));
    assert!(*tft.last().unwrap() <= t(2027, 1, 1));
    assert_eq!(tft.len(), 5, "days 82, 152, 222, 292, 362");
    // Diagnosis-anchored (CHD): the cardiology review 14 days after diagnosis.
    let chd = s.plan("CHD").unwrap();
    let rev = chd.schedule(&a, &[Anchor::Birth, Anchor::Diagnosis], birth);
    assert_eq!(rev[0].code, "CARDIO");
    assert_eq!(rev[0].due_at, t(2026, 1, 24));
    // An episode registered late leaves out contacts whose window already closed.
    let late = ch.schedule(&a, &[Anchor::Birth], t(2027, 2, 1));
    assert!(late.iter().all(|o| o.window_end >= t(2027, 2, 1)));
    assert_eq!(late.iter().filter(|o| o.code == "DEV").count(), 2);
    assert!(late.iter().all(|o| o.due_at <= ch.horizon(birth)));
}

#[test]
fn measurements_are_checked_against_the_plan() {
    let s = shipped();
    let tft = s.plan("CH").unwrap().contact("TFT").unwrap();
    let v = |pairs: &[(&str, f64)]| pairs.iter().map(|(k, x)| (k.to_string(), *x)).collect();
    assert!(
        tft.check(&v(&[("TSH", 2.0), ("FT4", 15.0)]))
            .unwrap()
            .is_empty()
    );
    let off = tft.check(&v(&[("TSH", 12.0)])).unwrap();
    assert_eq!(off.len(), 1);
    assert_eq!((off[0].field.as_str(), off[0].high), ("TSH", Some(5.0)));
    let (field, _) = tft.check(&v(&[("Phe", 2.0)])).unwrap_err();
    assert_eq!(field, "measurements.Phe");
    assert!(tft.check(&v(&[("TSH", f64::NAN)])).is_err());
}

#[test]
fn a_missed_contact_climbs_the_ladder_once_per_rung() {
    let l = shipped().escalation;
    let due = t(2026, 3, 10);
    let end = due + Duration::days(3);
    assert!(l.due(&[], due, end, due - Duration::days(4)).is_empty());
    assert_eq!(
        l.due(&[], due, end, due - Duration::days(3)),
        vec![ContactRung::M0]
    );
    assert_eq!(
        l.next(&[ContactRung::M0], due, end, due).unwrap(),
        (ContactRung::M1, end)
    );
    assert_eq!(
        l.due(&[ContactRung::M0], due, end, end),
        vec![ContactRung::M1]
    );
    let later = end + Duration::days(14);
    assert_eq!(
        l.due(&[ContactRung::M0, ContactRung::M1], due, end, later),
        vec![ContactRung::M2]
    );
    assert!(l.next(ContactRung::ALL, due, end, later).is_none());
    // A sweep that first sees the contact after its window: no late reminder to the family.
    assert_eq!(
        l.due(&[], due, end, later),
        vec![ContactRung::M1, ContactRung::M2]
    );
}

#[test]
fn closures_need_their_text() {
    assert_eq!(
        Closure::Declined {
            refusal_reference: " ".into()
        }
        .missing_text(),
        Some("closure.refusal_reference")
    );
    assert_eq!(Closure::Deceased.missing_text(), None);
    let c: Closure = serde_json::from_value(
        serde_json::json!({"reason": "transferred_out", "receiving_centre": "温州"}),
    )
    .unwrap();
    assert_eq!(c.name(), "transferred_out");
}
