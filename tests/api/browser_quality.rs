//! The quality dashboard in a real browser: its numbers equal the JSON report for the same
//! cohort, a drill-down link lists exactly the members the JSON drill-down lists, every chart is
//! an SVG followed by its data table, and no page breaks the Content-Security-Policy.

use std::collections::BTreeMap;

use serde_json::Value;
use thirtyfour::prelude::*;

use crate::browser::{Browser, positive_infant, user};
use crate::helpers::{TestApp, epoch};

#[tokio::test]
async fn the_dashboard_shows_the_reports_numbers_its_drill_downs_and_charts() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (_, a) = app.hospital_with_token("ZJ08").await;
    let (_, c) = app.hospital_with_token("ZJ09").await;
    // A CH-positive and a normal infant at one hospital, a normal one and one unscreened at the
    // other.
    positive_infant(&app, &a, &lab, "Q1", &[("TSH", 25.0)]).await;
    positive_infant(&app, &a, &lab, "Q2", &[]).await;
    positive_infant(&app, &c, &lab, "Q3", &[]).await;
    crate::helpers::register_infant(&app, &c, "Q4", 72).await;
    // The positive case goes unanswered for three days: its escalation rungs fire.
    app.clock.set(epoch() + chrono::Duration::days(3));
    let r = app.run_job("escalation").await;
    assert!(r["rungs_fired"].as_u64().unwrap() > 0, "{r}");
    user(&app, "coord", "吴协调员", "coordinator").await;
    let day = (epoch() + chrono::Duration::hours(8)).date_naive();
    let period = format!("from={}&to={day}", day - chrono::Duration::days(10));

    let report: Value = app
        .get(&format!("/api/v1/reports/quality?{period}"), &lab)
        .await
        .json()
        .await
        .unwrap();
    let expected: BTreeMap<String, (i64, i64)> = report["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                (
                    i["numerator"].as_i64().unwrap(),
                    i["denominator"].as_i64().unwrap(),
                ),
            )
        })
        .collect();

    b.sign_in(&app.base, "coord").await;
    b.wait_for("/worklists/overdue").await;
    for lang in ["en", "zh-CN"] {
        b.d()
            .goto(format!(
                "{}/lang/{lang}?back={}",
                app.base,
                format!("/quality?{period}")
                    .replace('?', "%3F")
                    .replace('&', "%26")
                    .replace('=', "%3D")
            ))
            .await
            .unwrap();
        let mut shown = BTreeMap::new();
        for row in b.d().find_all(By::Css("tr[data-indicator]")).await.unwrap() {
            let id = row.attr("data-indicator").await.unwrap().unwrap();
            let num = row
                .find(By::Css("a.num"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let den = row
                .find(By::Css("a.den"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            shown.insert(id, (num.parse().unwrap(), den.parse().unwrap()));
        }
        assert_eq!(
            shown, expected,
            "{lang}: the dashboard equals the JSON report"
        );
        // Every chart is an SVG with a title, followed by its data table.
        let svgs = b.d().find_all(By::Css("svg.chart")).await.unwrap();
        let mut ids = Vec::new();
        for s in &svgs {
            let id = s.attr("id").await.unwrap().unwrap();
            assert!(s.find(By::Tag("title")).await.is_ok(), "{id} has a title");
            let table = b
                .d()
                .find(By::Id(format!("{id}-data")))
                .await
                .unwrap_or_else(|_| panic!("{id} has no data table"));
            assert!(
                !table
                    .find_all(By::Css("tbody tr"))
                    .await
                    .unwrap()
                    .is_empty()
            );
            ids.push(id);
        }
        for want in [
            "chart-coverage",
            "chart-trend",
            "chart-positive",
            "chart-ppv",
            "chart-ppv-group",
            "chart-ages",
        ] {
            assert!(ids.iter().any(|i| i == want), "{want} missing from {ids:?}");
        }
        let from = b.d().find(By::Id("from")).await.unwrap();
        assert_eq!(
            from.prop("value").await.unwrap().as_deref(),
            Some((day - chrono::Duration::days(10)).to_string().as_str())
        );
        b.assert_no_csp_violation("quality dashboard").await;
        b.assert_accessible("quality dashboard").await;
        b.assert_header_on_two_rows(&format!("quality dashboard, {lang}"))
            .await;
        // Each filter's label stays beside its control when the row wraps (the programme
        // label ended one line and its list began the next).
        let fields = b
            .d()
            .find_all(By::Css("form.filters .field"))
            .await
            .unwrap();
        assert!(fields.len() >= 6, "{lang}: filters are fields");
        for field in fields {
            let label = field.find(By::Css("label")).await.unwrap();
            let control = field.find(By::Css("input, select")).await.unwrap();
            let (l, c) = (label.rect().await.unwrap(), control.rect().await.unwrap());
            assert!(
                l.y + l.height > c.y && l.y < c.y + c.height,
                "{lang}: a filter's label left its control's row: {l:?} {c:?}"
            );
        }
        b.shot(&format!("quality-{lang}")).await;
        svgs[0].scroll_into_view().await.unwrap();
        b.shot(&format!("quality-charts-{lang}")).await;
    }

    // The coverage denominator's link lists exactly the infants the JSON drill-down lists.
    b.d()
        .find(By::Css("tr[data-indicator=dbs_coverage] a.den"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut listed = Vec::new();
    for _ in 0..50 {
        if let Ok(links) = b.d().find_all(By::Css("table#members tbody a")).await
            && !links.is_empty()
        {
            for l in links {
                let href = l.attr("href").await.unwrap().unwrap();
                listed.push(href.trim_start_matches("/infants/").to_string());
            }
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    listed.sort();
    let members: Value = app
        .get(
            &format!("/api/v1/reports/quality/dbs_coverage/cases?{period}&part=denominator"),
            &lab,
        )
        .await
        .json()
        .await
        .unwrap();
    let mut want: Vec<String> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["infant_id"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(listed.len() as i64, expected["dbs_coverage"].1);
    b.assert_no_csp_violation("quality drill-down").await;
    b.assert_accessible("quality drill-down").await;
    b.shot("quality-drill-down-zh-CN").await;

    // The CSV download carries the same numbers.
    let cookies = b.d().get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name == "guthrie_session")
        .map(|c| c.value.clone())
        .unwrap();
    let csv = app
        .http
        .get(format!("{}/quality/export.csv?{period}", app.base))
        .header("Cookie", format!("guthrie_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (n, d) = expected["dbs_coverage"];
    assert!(
        csv.lines()
            .any(|l| l.starts_with("dbs_coverage,") && l.contains(&format!(",{n},{d},"))),
        "{csv}"
    );
    b.quit().await;
}
