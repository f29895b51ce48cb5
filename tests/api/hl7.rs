//! HL7 v2 `ORU^R01` over HTTP: synthetic messages from a laboratory whose profile maps its codes
//! and units; ACKs for stored, partly refused and rejected messages; a resent message.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, TestDb, count};
use crate::screening::infant_with_card;

/// The laboratory's profile: the 40 analytes under their own codes and units, TSH also under
/// its LOINC code in UCUM, Phe also in mg/dL.
pub fn profile() -> String {
    let mut codes = vec![r#""29575-8" = "TSH""#.to_string()];
    let mut units = vec![
        r#""m[IU]/L" = { to = "mIU/L" }"#.to_string(),
        r#""mg/dL" = { to = "umol/L", factor = 60.54 }"#.to_string(),
    ];
    for (a, _, u) in guthrie::cli::demo::NORMAL_PANEL {
        codes.push(format!("\"{a}\" = \"{a}\""));
        if !units.iter().any(|x| x.starts_with(&format!("\"{u}\""))) {
            units.push(format!("\"{u}\" = {{ to = \"{u}\" }}"));
        }
    }
    format!(
        "[hl7.labs.ZJNBSC]\nbarcode = \"obx57723\"\nutc_offset_minutes = 480\n\
         quality = {{ \"LA12432-3\" = \"acceptable\", \"LA12434-9\" = \"insufficient\" }}\n\
         codes = {{ {} }}\nunits = {{ {} }}\n",
        codes.join(", "),
        units.join(", ")
    )
}

fn hl7_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y%m%d%H%M%S%z")
        .to_string()
}

/// One card's message: the normal panel with `overrides` (the analyte replaced, or none; the
/// code sent, value, unit) in place.
pub fn oru(
    control: &str,
    barcode: &str,
    mrn: &str,
    overrides: &[(&str, &str, &str, &str)],
) -> String {
    let epoch = crate::helpers::epoch();
    let mut s = vec![
        format!(
            "MSH|^~\\&|NBSLIS|ZJNBSC|GUTHRIE|ZJNBSC|{}||ORU^R01^ORU_R01|{control}|P|2.5.1",
            hl7_time(epoch)
        ),
        format!("PID|1||{mrn}^^^HA^MR||王芳之女^^^^^^L"),
        format!(
            "OBR|1|{barcode}|L1|57128-1^Newborn Screening Report summary panel^LN|||{}|||||||||||||||{}|||F",
            hl7_time(epoch),
            hl7_time(epoch + Duration::minutes(50))
        ),
        format!(
            "OBX|1|ST|57723-9^Unique bar code number of Current sample^LN||{barcode}||||||F||||||||||||||||||QST"
        ),
        "OBX|2|CWE|57718-9^Sample quality^LN||LA12432-3^Acceptable^LN||||||F".to_string(),
        "OBX|3|NM|8339-4^Birth weight^LN||3300|g|||||F||||||||||||||||||QST".to_string(),
    ];
    // Tested (OBX-14) between receipt and report.
    let tested = hl7_time(epoch + Duration::minutes(40));
    let mut n = 3;
    for (a, v, u) in guthrie::cli::demo::NORMAL_PANEL {
        if overrides.iter().any(|(replaced, _, _, _)| *replaced == a) {
            continue;
        }
        n += 1;
        s.push(format!("OBX|{n}|NM|{a}^{a}^L||{v}|{u}||N|||F|||{tested}"));
    }
    for (_, code, v, u) in overrides {
        n += 1;
        s.push(format!(
            "OBX|{n}|NM|{code}^{code}^LN||{v}|{u}||H|||F|||{tested}"
        ));
    }
    s.push(format!(
        "SPM|1|{barcode}||440500007^Blood spot specimen^SCT|||||||||||||{}|{}",
        hl7_time(epoch),
        hl7_time(epoch + Duration::minutes(30))
    ));
    s.join("\r")
}

async fn send(app: &TestApp, token: &str, body: &str) -> String {
    let r = app
        .req(Method::POST, "/api/v1/hl7v2", Some(token))
        .header("content-type", "application/hl7-v2")
        .body(body.as_bytes().to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/hl7-v2");
    r.text().await.unwrap()
}

/// The MSA segments of an ACK (one per message of a batch), in order.
pub fn msas(ack: &str) -> Vec<&str> {
    ack.split('\r').filter(|s| s.starts_with("MSA|")).collect()
}

pub fn msa(ack: &str) -> &str {
    ack.split('\r')
        .find(|s| s.starts_with("MSA|"))
        .map_or("", |s| &s[4..6])
}

async fn start() -> (TestApp, String, String) {
    let app = TestApp::spawn_full(&[], &profile(), TestDb::new()).await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (_, token) = app.hospital_with_token("HA").await;
    app.clock.set(crate::helpers::epoch() + Duration::hours(1));
    (app, lab, token)
}

/// The interpretation of the infant's first card (null when none).
async fn interpretation(app: &TestApp, token: &str, infant: &str) -> Value {
    let s: Value = app
        .get(&format!("/api/v1/infants/{infant}/screening"), token)
        .await
        .json()
        .await
        .unwrap();
    s["cards"][0]["interpretation"].clone()
}

#[tokio::test]
async fn a_normal_card_is_stored_once_and_acknowledged() {
    let (app, lab, token) = start().await;
    let (infant, barcode) = infant_with_card(&app, &token, "N1").await;
    let message = oru("LIS0001", &barcode, "N1", &[]);
    let ack = send(&app, &lab, &message).await;
    assert_eq!(msa(&ack), "AA", "{ack}");
    assert!(ack.contains("|ACK^R01^ACK|") && ack.contains("MSA|AA|LIS0001"));
    let i = interpretation(&app, &lab, &infant).await;
    assert_eq!(i["outcome"], "normal", "{i}");
    // The laboratory's test time (OBX-14) is kept with each value.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM dbs_results WHERE tested_at IS NOT NULL"
        ),
        40
    );
    // Resent: the same ACK, nothing written twice.
    let again = send(&app, &lab, &message).await;
    assert_eq!(again, ack);
    let cases: Value = app.get("/api/v1/cases", &lab).await.json().await.unwrap();
    assert_eq!(cases["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_critical_tsh_in_ucum_opens_a_t1_case() {
    let (app, lab, token) = start().await;
    let (infant, barcode) = infant_with_card(&app, &token, "T1").await;
    let ack = send(
        &app,
        &lab,
        &oru(
            "LIS0002",
            &barcode,
            "T1",
            &[("TSH", "29575-8", "25", "m[IU]/L")],
        ),
    )
    .await;
    assert_eq!(msa(&ack), "AA", "{ack}");
    let cases: Value = app
        .get(&format!("/api/v1/cases?infant_id={infant}"), &lab)
        .await
        .json()
        .await
        .unwrap();
    let case = &cases["items"][0];
    assert_eq!(
        (case["tier"].as_str(), case["programme"].as_str()),
        (Some("T1"), Some("DBS"))
    );
}

#[tokio::test]
async fn cards_that_cannot_be_stored_are_named_in_an_ae() {
    let (app, lab, token) = start().await;
    let (_, good) = infant_with_card(&app, &token, "G1").await;
    let (_, other) = infant_with_card(&app, &token, "G2").await;
    let (third_infant, third) = infant_with_card(&app, &token, "G3").await;
    // Unknown barcode.
    let ack = send(&app, &lab, &oru("LIS0003", "NO-SUCH-CARD", "G1", &[])).await;
    assert_eq!(msa(&ack), "AE");
    assert!(
        ack.contains(
            "ERR||PID^1|204^Unknown key identifier^HL70357|E||||unknown card barcode NO-SUCH-CARD"
        ),
        "{ack}"
    );
    // Unknown analyte code, unknown unit, MRN mismatch: each named, nothing stored for the card.
    let ack = send(
        &app,
        &lab,
        &oru("LIS0004", &good, "G1", &[("", "XYZ1", "3", "umol/L")]),
    )
    .await;
    assert!(
        msa(&ack) == "AE" && ack.contains("unknown analyte code XYZ1"),
        "{ack}"
    );
    let ack = send(
        &app,
        &lab,
        &oru(
            "LIS0005",
            &other,
            "G2",
            &[("TSH", "29575-8", "3", "furlongs")],
        ),
    )
    .await;
    assert!(
        msa(&ack) == "AE" && ack.contains("unknown unit furlongs"),
        "{ack}"
    );
    let ack = send(&app, &lab, &oru("LIS0006", &third, "WRONG", &[])).await;
    assert!(
        msa(&ack) == "AE" && ack.contains("MRN WRONG does not match"),
        "{ack}"
    );
    assert!(interpretation(&app, &lab, &third_infant).await.is_null());
    // Tested (OBX-14) after the report (OBR-22): refused by the results rules, named, and
    // the card's receipt rolls back with it.
    let epoch = crate::helpers::epoch();
    let late = oru("LIS0008", &third, "G3", &[]).replace(
        &hl7_time(epoch + Duration::minutes(40)),
        &hl7_time(epoch + Duration::minutes(55)),
    );
    let ack = send(&app, &lab, &late).await;
    assert!(
        msa(&ack) == "AE" && ack.contains("reported_at: must not be before tested_at"),
        "{ack}"
    );
    assert!(interpretation(&app, &lab, &third_infant).await.is_null());
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM dbs_cards WHERE received_at IS NOT NULL"
        ),
        0
    );
}

#[tokio::test]
async fn messages_we_do_not_take_are_rejected_whole() {
    let (app, lab, token) = start().await;
    let (infant, barcode) = infant_with_card(&app, &token, "R1").await;
    let base = oru("LIS0007", &barcode, "R1", &[]);
    // Each with the HL7 table 0357 code of its reason.
    for (code, message) in [
        (
            "203^Unsupported version id",
            base.replace("|P|2.5.1", "|P|2.7"),
        ),
        (
            "202^Unsupported processing id",
            base.replace("|P|2.5.1", "|D|2.5.1"),
        ),
        (
            "200^Unsupported message type",
            base.replace("ORU^R01^ORU_R01", "ADT^A01"),
        ),
        (
            "204^Unknown key identifier",
            base.replace("|NBSLIS|ZJNBSC|", "|NBSLIS|OTHERLAB|"),
        ),
        (
            "100^Segment sequence error",
            "not an HL7 message".to_string(),
        ),
        // A segment without a valid name inside an otherwise good message.
        (
            "100^Segment sequence error",
            base.replacen("\rPID|", "\rP-D|", 1),
        ),
    ] {
        let ack = send(&app, &lab, &message).await;
        assert_eq!(msa(&ack), "AR", "{code}: {ack}");
        assert!(
            ack.contains(&format!("|{code}^HL70357|E|")),
            "{code}: {ack}"
        );
    }
    assert!(interpretation(&app, &lab, &infant).await.is_null());
    // Not a message at all: HTTP says so.
    let r = app
        .req(Method::POST, "/api/v1/hl7v2", Some(&lab))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = app
        .req(Method::POST, "/api/v1/hl7v2", None)
        .header("content-type", "application/hl7-v2")
        .body(base)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_batch_is_acknowledged_message_by_message() {
    let (app, lab, token) = start().await;
    let (a_infant, a) = infant_with_card(&app, &token, "B1").await;
    let (_, b) = infant_with_card(&app, &token, "B2").await;
    let batch = format!(
        "FHS|^~\\&|NBSLIS|ZJNBSC\rBHS|^~\\&|NBSLIS|ZJNBSC\r{}\r{}\r{}\rBTS|3\rFTS|1\r",
        oru("LIS0101", &a, "B1", &[]),
        oru("LIS0102", &b, "B2", &[("TSH", "29575-8", "25", "m[IU]/L")]),
        oru("LIS0103", "NO-SUCH", "B3", &[]),
    );
    let ack = send(&app, &lab, &batch).await;
    assert!(ack.starts_with("BHS|") && ack.ends_with("BTS|3\r"), "{ack}");
    assert_eq!(
        msas(&ack),
        ["MSA|AA|LIS0101", "MSA|AA|LIS0102", "MSA|AE|LIS0103"],
        "{ack}"
    );
    assert_eq!(
        interpretation(&app, &lab, &a_infant).await["outcome"],
        "normal"
    );
    // The whole batch again: the same answers, nothing written twice.
    let again = send(&app, &lab, &batch).await;
    assert_eq!(msas(&again), msas(&ack));
    let cases: Value = app.get("/api/v1/cases", &lab).await.json().await.unwrap();
    assert_eq!(cases["items"].as_array().unwrap().len(), 1);
}

/// Updates audited for receipts and results (not the cards' registrations).
fn card_updates_audited(app: &TestApp) -> i64 {
    count(
        app,
        "SELECT COUNT(*) AS n FROM audit_log \
         WHERE entity IN ('card', 'card_results') AND action = 'update'",
    )
}

#[tokio::test]
async fn a_batch_group_sees_its_own_writes_and_a_card_refused_part_way_costs_only_itself() {
    let (app, lab, token) = start().await;
    let (a_infant, a) = infant_with_card(&app, &token, "P1").await;
    let (_, b) = infant_with_card(&app, &token, "P2").await;
    // The same card twice in one group (a second message with a critical TSH): the second
    // sees the first's receipt and values, as if sent apart.
    let batch = format!(
        "BHS|^~\\&|NBSLIS|ZJNBSC\r{}\r{}\r{}\rBTS|3\r",
        oru("LIS0201", &a, "P1", &[]),
        oru("LIS0202", &a, "P1", &[("TSH", "29575-8", "95", "m[IU]/L")]),
        oru("LIS0203", &b, "P2", &[]),
    );
    let ack = send(&app, &lab, &batch).await;
    assert_eq!(
        msas(&ack),
        ["MSA|AA|LIS0201", "MSA|AA|LIS0202", "MSA|AA|LIS0203"],
        "{ack}"
    );
    // In the batch's order, also on PostgreSQL where a batch is spread over connections (a
    // card's messages share one): the later value stands.
    let i = interpretation(&app, &lab, &a_infant).await;
    assert_eq!(i["outcome"], "critical", "{i}");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM dbs_results r JOIN dbs_cards c ON c.id = r.card_id \
                 WHERE c.barcode = '{a}' AND r.analyte = 'TSH' AND r.value = 95"
            )
        ),
        1
    );
    // Receipt + results of A, results again of A, receipt + results of B.
    assert_eq!(card_updates_audited(&app), 5);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM dbs_interpretations"),
        3
    );
    // A card refused after its receipt was written (tested after the report): its message
    // is answered AE, the others of its group land, and nothing of it stays (no receipt, no
    // audit entry of a write that rolled back).
    let (c_infant, c) = infant_with_card(&app, &token, "P3").await;
    let (d_infant, d) = infant_with_card(&app, &token, "P4").await;
    let (e_infant, e) = infant_with_card(&app, &token, "P5").await;
    let epoch = crate::helpers::epoch();
    let late = oru("LIS0205", &d, "P4", &[]).replace(
        &hl7_time(epoch + Duration::minutes(40)),
        &hl7_time(epoch + Duration::minutes(55)),
    );
    let batch = format!(
        "BHS|^~\\&|NBSLIS|ZJNBSC\r{}\r{late}\r{}\rBTS|3\r",
        oru("LIS0204", &c, "P3", &[]),
        oru("LIS0206", &e, "P5", &[]),
    );
    let ack = send(&app, &lab, &batch).await;
    assert_eq!(
        msas(&ack),
        ["MSA|AA|LIS0204", "MSA|AE|LIS0205", "MSA|AA|LIS0206"],
        "{ack}"
    );
    assert!(
        ack.contains("reported_at: must not be before tested_at"),
        "{ack}"
    );
    assert_eq!(
        interpretation(&app, &lab, &c_infant).await["outcome"],
        "normal"
    );
    assert!(interpretation(&app, &lab, &d_infant).await.is_null());
    assert_eq!(
        interpretation(&app, &lab, &e_infant).await["outcome"],
        "normal"
    );
    assert_eq!(card_updates_audited(&app), 9);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM dbs_cards WHERE barcode = '{d}' AND received_at IS NOT NULL"
            )
        ),
        0
    );
    // Every message once, audited once.
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM hl7_messages"), 6);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM audit_log WHERE entity = 'hl7_message'"
        ),
        6
    );
}

#[tokio::test]
async fn a_gb18030_message_is_read_in_its_character_set() {
    let (app, lab, token) = start().await;
    let (infant, barcode) = infant_with_card(&app, &token, "C1").await;
    let text = oru("LIS0201", &barcode, "C1", &[]).replacen(
        "|P|2.5.1",
        "|P|2.5.1|||AL|NE|CHN|GB 18030-2000",
        1,
    );
    assert!(text.contains("王芳之女"));
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(&text);
    assert!(!unmappable && std::str::from_utf8(&bytes).is_err());
    let post = |body: Vec<u8>| {
        app.req(Method::POST, "/api/v1/hl7v2", Some(&lab))
            .header("content-type", "application/hl7-v2")
            .body(body)
            .send()
    };
    let r = post(bytes.to_vec()).await.unwrap();
    assert_eq!(r.status(), 200);
    let ack = r.text().await.unwrap();
    assert_eq!(msa(&ack), "AA", "{ack}");
    assert_eq!(
        interpretation(&app, &lab, &infant).await["outcome"],
        "normal"
    );
    // The same bytes claiming UTF-8: not valid in their character set, refused by HTTP.
    let lying = text.replacen("GB 18030-2000", "UNICODE UTF-8", 1);
    let (bytes, _, _) = encoding_rs::GB18030.encode(&lying);
    let r = post(bytes.to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn cards_applied_before_a_crash_are_not_applied_again() {
    use diesel::RunQueryDsl;
    let (app, lab, token) = start().await;
    let interpretations =
        |app: &TestApp| count(app, "SELECT COUNT(*) AS n FROM dbs_interpretations");
    let (_, a) = infant_with_card(&app, &token, "K1").await;
    let (_, b) = infant_with_card(&app, &token, "K2").await;
    let batch = format!(
        "BHS|^~\\&|NBSLIS|ZJNBSC\r{}\r{}\rBTS|2\r",
        oru("LIS0301", &a, "K1", &[("TSH", "29575-8", "25", "m[IU]/L")]),
        oru("LIS0302", &b, "K2", &[]),
    );
    let first = send(&app, &lab, &batch).await;
    let before = interpretations(&app);
    // A crash after the cards' transactions but before the messages were recorded.
    {
        let mut c = app.state.pool.get().unwrap();
        diesel::sql_query("DELETE FROM hl7_messages")
            .execute(&mut c)
            .unwrap();
    }
    let again = send(&app, &lab, &batch).await;
    assert_eq!(msas(&again), msas(&first));
    assert_eq!(msas(&again), ["MSA|AA|LIS0301", "MSA|AA|LIS0302"]);
    assert_eq!(interpretations(&app), before, "no card applied twice");
    let cases: Value = app.get("/api/v1/cases", &lab).await.json().await.unwrap();
    assert_eq!(cases["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn disagreements_between_the_laboratory_and_the_catalogue_are_listed() {
    let (app, lab, token) = start().await;
    let (_, agree) = infant_with_card(&app, &token, "D1").await;
    let (_, lab_high) = infant_with_card(&app, &token, "D2").await;
    let (_, we_high) = infant_with_card(&app, &token, "D3").await;
    // Both say abnormal: a critical TSH the laboratory flagged H.
    send(
        &app,
        &lab,
        &oru(
            "LIS0401",
            &agree,
            "D1",
            &[("TSH", "29575-8", "25", "m[IU]/L")],
        ),
    )
    .await;
    // The laboratory flags a phenylalanine the catalogue calls normal.
    send(
        &app,
        &lab,
        &oru(
            "LIS0402",
            &lab_high,
            "D2",
            &[("Phe", "Phe", "60", "umol/L")],
        ),
    )
    .await;
    // The catalogue finds a critical TSH the laboratory called normal.
    let message = oru(
        "LIS0403",
        &we_high,
        "D3",
        &[("TSH", "29575-8", "25", "m[IU]/L")],
    )
    .replace("||25|m[IU]/L||H|||F", "||25|m[IU]/L||N|||F");
    send(&app, &lab, &message).await;
    let list: Value = app
        .get("/api/v1/results/disagreements", &lab)
        .await
        .json()
        .await
        .unwrap();
    let mut barcodes: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["barcode"].as_str().unwrap())
        .collect();
    barcodes.sort_unstable();
    let mut want = [lab_high.as_str(), we_high.as_str()];
    want.sort_unstable();
    assert_eq!(barcodes, want, "{list}");
    let d2 = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["barcode"] == lab_high)
        .unwrap();
    assert_eq!(
        (d2["outcome"].as_str(), d2["lab_abnormal"].as_bool()),
        (Some("normal"), Some(true))
    );
    assert!(
        d2["lab_flags"]
            .as_array()
            .unwrap()
            .contains(&Value::from("Phe=H"))
    );

    // Administrators see the messages with their ACKs and raw text; others may not.
    let page: Value = app
        .get("/api/v1/hl7v2/messages?limit=2", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["control_id"], "LIS0403");
    assert!(items[0]["raw"].as_str().unwrap().contains(&we_high));
    assert!(items[0]["ack"].as_str().unwrap().contains("MSA|AA|LIS0403"));
    let next: Value = app
        .get(
            &format!(
                "/api/v1/hl7v2/messages?cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            &app.admin_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["items"][0]["control_id"], "LIS0401");
    assert_eq!(app.get("/api/v1/hl7v2/messages", &lab).await.status(), 403);
    // Past the retention, the daily job forgets the raw text; the ACK stays and still answers
    // a resend.
    app.clock.set(crate::helpers::epoch() + Duration::days(91));
    send(&app, &lab, &oru("LIS0404", "NO-SUCH", "D4", &[])).await;
    assert_eq!(app.run_job("hl7_retention").await["raw_texts_forgotten"], 3);
    let page: Value = app
        .get("/api/v1/hl7v2/messages", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let old = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["control_id"] == "LIS0401")
        .unwrap();
    assert_eq!(old["raw"], "");
    let again = send(
        &app,
        &lab,
        &oru(
            "LIS0401",
            &agree,
            "D1",
            &[("TSH", "29575-8", "25", "m[IU]/L")],
        ),
    )
    .await;
    assert_eq!(msa(&again), "AA");
}

mod mllp {
    use std::time::Duration as StdDuration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    fn framed(m: &str) -> Vec<u8> {
        let mut v = vec![0x0B];
        v.extend_from_slice(m.as_bytes());
        v.extend_from_slice(&[0x1C, 0x0D]);
        v
    }

    /// Reads `n` framed answers.
    async fn answers<S: tokio::io::AsyncRead + Unpin>(s: &mut S, n: usize) -> Vec<String> {
        let mut got = vec![];
        let mut buf = vec![];
        let mut chunk = [0u8; 4096];
        while got.len() < n {
            let k = tokio::time::timeout(StdDuration::from_secs(10), s.read(&mut chunk))
                .await
                .expect("an answer in time")
                .unwrap();
            assert!(k > 0, "the connection closed");
            buf.extend_from_slice(&chunk[..k]);
            while let Some(end) = buf.windows(2).position(|w| w == [0x1C, 0x0D]) {
                let start = buf.iter().position(|b| *b == 0x0B).unwrap();
                got.push(String::from_utf8(buf[start + 1..end].to_vec()).unwrap());
                buf.drain(..end + 2);
            }
        }
        got
    }

    async fn start_mllp(allow: &str) -> (TestApp, String, String, u16) {
        start_mllp_with(allow, "").await
    }

    async fn start_mllp_with(allow: &str, more: &str) -> (TestApp, String, String, u16) {
        let toml = format!(
            "{}\n[hl7.mllp]\nbind = \"127.0.0.1:0\"\nallow = [{allow}]\nmax_frame_bytes = 65536\n{more}",
            profile()
        );
        let app = TestApp::spawn_full(&[], &toml, TestDb::new()).await;
        let lab = app.staff_token("lab", "clinician", None).await;
        let (_, token) = app.hospital_with_token("HA").await;
        app.clock.set(crate::helpers::epoch() + Duration::hours(1));
        let port = app.mllp_port.expect("the listener is on");
        (app, lab, token, port)
    }

    #[tokio::test]
    async fn split_and_merged_frames_are_answered_in_order() {
        let (app, _lab, token, port) = start_mllp("\"127.0.0.1/32\"").await;
        let (_, a) = infant_with_card(&app, &token, "M1").await;
        let (_, b) = infant_with_card(&app, &token, "M2").await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        // One message over two writes.
        let first = framed(&oru("MLLP01", &a, "M1", &[]));
        s.write_all(&first[..50]).await.unwrap();
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        s.write_all(&first[50..]).await.unwrap();
        let got = answers(&mut s, 1).await;
        assert_eq!(msa(&got[0]), "AA", "{got:?}");
        // Two messages, the second unknown, in one write.
        let mut two = framed(&oru(
            "MLLP02",
            &b,
            "M2",
            &[("TSH", "29575-8", "25", "m[IU]/L")],
        ));
        two.extend(framed(&oru("MLLP03", "NO-SUCH", "M3", &[])));
        s.write_all(&two).await.unwrap();
        let got = answers(&mut s, 2).await;
        assert_eq!((msa(&got[0]), msa(&got[1])), ("AA", "AE"), "{got:?}");
        // An oversize frame is refused and the connection goes on.
        let mut big = framed(&"X".repeat(70_000));
        big.extend(framed(&oru("MLLP01", &a, "M1", &[])));
        s.write_all(&big).await.unwrap();
        let got = answers(&mut s, 2).await;
        assert_eq!(msa(&got[0]), "AR");
        assert!(got[0].contains("frame larger than 65536 bytes"));
        assert_eq!(msa(&got[1]), "AA", "a resend is answered as before");
        let cases: Value = app
            .get("/api/v1/cases", &app.admin_token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(cases["items"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_peer_outside_the_allowed_networks_is_disconnected() {
        let (_app, _lab, _token, port) = start_mllp("\"10.0.0.0/8\"").await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _ = s.write_all(&framed("MSH|^~\\&|x")).await;
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(StdDuration::from_secs(10), s.read(&mut buf))
            .await
            .expect("closed in time")
            .unwrap_or(0);
        assert_eq!(n, 0, "no answer, the connection is closed");
    }

    /// The test certificates: a CA, a server certificate for localhost and 127.0.0.1, and a
    /// client certificate, all signed by it (`tests/fixtures/mllp-tls`, made with openssl).
    fn fixture(name: &str) -> String {
        format!(
            "{}/tests/fixtures/mllp-tls/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    fn tls_client(with_certificate: bool) -> tokio_rustls::TlsConnector {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(fixture("ca.crt")).unwrap())
            .unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_certificate {
            builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_file(fixture("client.crt")).unwrap()],
                    PrivateKeyDer::from_pem_file(fixture("client.key")).unwrap(),
                )
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
    }

    #[tokio::test]
    async fn over_tls_a_laboratory_with_a_client_certificate_is_answered_and_others_are_not() {
        let tls = format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\ntls_client_ca = \"{}\"\n",
            fixture("server.crt"),
            fixture("server.key"),
            fixture("ca.crt")
        );
        let (app, _lab, token, port) = start_mllp_with("\"127.0.0.1/32\"", &tls).await;
        let (_, barcode) = infant_with_card(&app, &token, "T1").await;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        // With the laboratory's certificate: the message is stored and acknowledged.
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut s = tls_client(true).connect(name.clone(), tcp).await.unwrap();
        s.write_all(&framed(&oru("TLS01", &barcode, "T1", &[])))
            .await
            .unwrap();
        s.flush().await.unwrap();
        let got = answers(&mut s, 1).await;
        assert_eq!(msa(&got[0]), "AA", "{got:?}");
        // Without a client certificate the handshake is refused: nothing is answered.
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let refused = match tls_client(false).connect(name, tcp).await {
            Err(_) => true,
            Ok(mut s) => {
                // TLS 1.3 reports the refusal on the first read.
                let _ = s
                    .write_all(&framed(&oru("TLS02", &barcode, "T1", &[])))
                    .await;
                let mut buf = [0u8; 64];
                matches!(
                    tokio::time::timeout(StdDuration::from_secs(10), s.read(&mut buf)).await,
                    Ok(Err(_) | Ok(0))
                )
            }
        };
        assert!(refused, "a peer without a client certificate is refused");
        // Plain MLLP on the TLS port gets no answer.
        let mut plain = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _ = plain
            .write_all(&framed(&oru("TLS03", &barcode, "T1", &[])))
            .await;
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(StdDuration::from_secs(15), plain.read(&mut buf))
            .await
            .expect("closed in time");
        assert!(
            !matches!(read, Ok(n) if n > 0 && buf[0] == 0x0B),
            "no framed answer over plain TCP"
        );
        // Only the first message was stored.
        let msgs: Value = app
            .get("/api/v1/hl7v2/messages", &app.admin_token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(msgs["items"].as_array().unwrap().len(), 1, "{msgs}");
    }
}
