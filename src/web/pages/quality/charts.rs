//! The dashboard's charts, each an SVG ([`crate::web::charts`]) with the same numbers as a table:
//! coverage by hospital against its target, coverage and recall rate by month of birth, time to
//! recall by tier, the positive rate by condition group, PPV by suspected condition, and the
//! first cards' ages at collection.

use std::collections::HashMap;

use super::{pct, rate};
use crate::domain::ids::HospitalId;
use crate::domain::quality::Indicator;
use crate::services::quality::dashboard::Dashboard;
use crate::services::quality::report::IndicatorValue;
use crate::state::AppState;
use crate::web::charts::{self, Bar, Series};
use crate::web::i18n::Tr;
use crate::web::pages::condition_label;

/// A chart with its data table.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Element id.
    pub id: String,
    /// Title (also the table's caption).
    pub title: String,
    /// The SVG.
    pub svg: String,
    /// Table header.
    pub head: Vec<String>,
    /// Table rows.
    pub rows: Vec<Vec<String>>,
}

fn find(values: &[IndicatorValue], id: Indicator) -> Option<&IndicatorValue> {
    values.iter().find(|v| v.id == id)
}

fn ind_name(tr: Tr, v: &IndicatorValue) -> String {
    if tr.locale == "en" {
        v.name.clone()
    } else {
        v.name_zh.clone()
    }
}

pub(super) fn chart_list(
    tr: Tr,
    state: &AppState,
    d: &Dashboard,
    names: &HashMap<HospitalId, String>,
) -> Vec<Chart> {
    let mut out = Vec::new();
    let coverage = find(&d.indicators, d.coverage);
    let cov_name = coverage.map(|v| ind_name(tr, v)).unwrap_or_default();
    let target = coverage.and_then(|v| v.target);
    if !d.coverage_by_hospital.is_empty() {
        let bars: Vec<Bar> = d
            .coverage_by_hospital
            .iter()
            .map(|(h, (n, den))| Bar {
                label: names.get(h).cloned().unwrap_or_else(|| h.to_string()),
                value: rate(*n, *den).unwrap_or(0.0),
                second: None,
            })
            .collect();
        let title = tr.f("chart_coverage_by_hospital", &[("indicator", &cov_name)]);
        out.push(Chart {
            id: "chart-coverage".into(),
            svg: charts::bars("chart-coverage", &title, &bars, 1.0, target, pct, None),
            title,
            head: vec![
                tr.t("col_hospital"),
                tr.t("numerator"),
                tr.t("denominator"),
                tr.t("value"),
            ],
            rows: d
                .coverage_by_hospital
                .iter()
                .zip(&bars)
                .map(|((_, (n, den)), b)| {
                    vec![
                        b.label.clone(),
                        n.to_string(),
                        den.to_string(),
                        pct(b.value),
                    ]
                })
                .collect(),
        });
    }
    if !d.months.is_empty() {
        let xs: Vec<String> = d.months.iter().map(|(m, _)| m.clone()).collect();
        let series_of = |ind: Indicator| -> Vec<Option<f64>> {
            d.months
                .iter()
                .map(|(_, c)| c.get(&ind).and_then(|(n, den)| rate(*n, *den)))
                .collect()
        };
        let recall_name = find(&d.indicators, Indicator::RecallRate)
            .map(|v| ind_name(tr, v))
            .unwrap_or_default();
        let series = vec![
            Series {
                name: cov_name.clone(),
                values: series_of(d.coverage),
            },
            Series {
                name: recall_name.clone(),
                values: series_of(Indicator::RecallRate),
            },
        ];
        let title = tr.t("chart_trend");
        let cell = |ind: Indicator, c: &std::collections::BTreeMap<Indicator, (i64, i64)>| {
            c.get(&ind).map_or_else(
                || "—".into(),
                |(n, den)| {
                    format!(
                        "{} ({n}/{den})",
                        rate(*n, *den).map_or_else(|| "—".into(), pct)
                    )
                },
            )
        };
        out.push(Chart {
            id: "chart-trend".into(),
            svg: charts::lines("chart-trend", &title, &xs, &series, 1.0, target, pct),
            title,
            head: vec![tr.t("month"), cov_name, recall_name],
            rows: d
                .months
                .iter()
                .map(|(m, c)| {
                    vec![
                        m.clone(),
                        cell(d.coverage, c),
                        cell(Indicator::RecallRate, c),
                    ]
                })
                .collect(),
        });
    }
    if let Some(v) = find(&d.indicators, Indicator::RecallTimeliness)
        && let Some(iv) = &v.intervals
        && !iv.is_empty()
    {
        let bars: Vec<Bar> = iv
            .iter()
            .map(|(k, s)| Bar {
                label: if k == "all" {
                    tr.t("all_tiers")
                } else {
                    tr.t(&format!("tier_{k}"))
                },
                value: s.median_hours,
                second: Some(s.p90_hours),
            })
            .collect();
        let max = bars.iter().filter_map(|b| b.second).fold(1.0_f64, f64::max);
        let title = tr.t("chart_recall_timeliness");
        let (m, p) = (tr.t("median_hours"), tr.t("p90_hours"));
        out.push(Chart {
            id: "chart-recall".into(),
            svg: charts::bars(
                "chart-recall",
                &title,
                &bars,
                max,
                None,
                |h| format!("{h:.0} h"),
                Some((&m, &p)),
            ),
            title,
            head: vec![tr.t("tier"), tr.t("cases"), m.clone(), p.clone()],
            rows: iv
                .iter()
                .zip(&bars)
                .map(|((_, s), b)| {
                    vec![
                        b.label.clone(),
                        s.n.to_string(),
                        format!("{:.1}", s.median_hours),
                        format!("{:.1}", s.p90_hours),
                    ]
                })
                .collect(),
        });
    }
    if let Some(v) = find(&d.indicators, Indicator::PositiveRate)
        && let Some(g) = &v.by_group
        && !g.is_empty()
    {
        let max = g
            .values()
            .filter_map(|[n, den]| rate(*n, *den))
            .fold(0.0_f64, f64::max)
            * 1.25;
        out.push(rate_chart(
            "chart-positive",
            tr.t("chart_positive_by_group"),
            [
                tr.t("group"),
                tr.t("positives"),
                tr.t("screened"),
                tr.t("value"),
            ],
            g.iter().map(|(k, c)| (k.clone(), *c)).collect(),
            max,
        ));
    }
    if let Some(v) = find(&d.indicators, Indicator::ConfirmedPpv)
        && let Some(g) = &v.by_condition
        && !g.is_empty()
    {
        let head = [
            tr.t("condition"),
            tr.t("confirmed"),
            tr.t("positives"),
            tr.t("value"),
        ];
        out.push(rate_chart(
            "chart-ppv",
            tr.t("chart_ppv_by_condition"),
            head.clone(),
            g.iter()
                .map(|(k, c)| (condition_label(tr, state, k), *c))
                .collect(),
            1.0,
        ));
        // The same confirmed / screen-positive counts summed per condition group.
        let mut by_group: std::collections::BTreeMap<String, [i64; 2]> =
            std::collections::BTreeMap::new();
        for (k, [n, den]) in g {
            let e = by_group
                .entry(d.groups.get(k).cloned().unwrap_or_else(|| "—".into()))
                .or_default();
            e[0] += n;
            e[1] += den;
        }
        let [_, confirmed, positives, value] = head;
        out.push(rate_chart(
            "chart-ppv-group",
            tr.t("chart_ppv_by_group"),
            [tr.t("group"), confirmed, positives, value],
            by_group.into_iter().collect(),
            1.0,
        ));
    }
    if let Some(v) = find(&d.indicators, Indicator::EarlyCollection)
        && let Some(dist) = &v.distribution
        && !dist.is_empty()
    {
        let bars: Vec<Bar> = dist
            .iter()
            .map(|(k, n)| Bar {
                label: k.clone(),
                value: *n as f64,
                second: None,
            })
            .collect();
        let max = bars.iter().map(|b| b.value).fold(1.0_f64, f64::max);
        let title = tr.t("chart_collection_ages");
        out.push(Chart {
            id: "chart-ages".into(),
            svg: charts::bars(
                "chart-ages",
                &title,
                &bars,
                max,
                None,
                |n| format!("{n:.0}"),
                None,
            ),
            title,
            head: vec![tr.t("band"), tr.t("cards")],
            rows: dist
                .iter()
                .map(|(k, n)| vec![k.clone(), n.to_string()])
                .collect(),
        });
    }
    if !d.rungs.is_empty() {
        let mut totals: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
        for (r, _, n) in &d.rungs {
            *totals.entry(r.as_str()).or_default() += n;
        }
        let bars: Vec<Bar> = totals
            .iter()
            .map(|(r, n)| Bar {
                label: tr.f("rung_label", &[("rung", r)]),
                value: *n as f64,
                second: None,
            })
            .collect();
        let max = bars.iter().map(|b| b.value).fold(1.0_f64, f64::max);
        let title = tr.t("chart_rungs");
        out.push(Chart {
            id: "chart-rungs".into(),
            svg: charts::bars(
                "chart-rungs",
                &title,
                &bars,
                max,
                None,
                |n| format!("{n:.0}"),
                None,
            ),
            title,
            head: vec![tr.t("rung"), tr.t("col_hospital"), tr.t("fired")],
            rows: d
                .rungs
                .iter()
                .map(|(r, h, n)| {
                    vec![
                        tr.f("rung_label", &[("rung", r)]),
                        names.get(h).cloned().unwrap_or_else(|| h.to_string()),
                        n.to_string(),
                    ]
                })
                .collect(),
        });
    }
    out
}

/// A bar chart of rates (`[numerator, denominator]` per row, labelled), with its table: the
/// label, numerator, denominator and rate columns named by `head`.
fn rate_chart(
    id: &str,
    title: String,
    head: [String; 4],
    rows: Vec<(String, [i64; 2])>,
    max: f64,
) -> Chart {
    let bars: Vec<Bar> = rows
        .iter()
        .map(|(k, [n, den])| Bar {
            label: k.clone(),
            value: rate(*n, *den).unwrap_or(0.0),
            second: None,
        })
        .collect();
    Chart {
        id: id.into(),
        svg: charts::bars(id, &title, &bars, max, None, pct, None),
        title,
        head: head.to_vec(),
        rows: rows
            .iter()
            .zip(&bars)
            .map(|((k, [n, den]), bar)| {
                vec![k.clone(), n.to_string(), den.to_string(), pct(bar.value)]
            })
            .collect(),
    }
}
