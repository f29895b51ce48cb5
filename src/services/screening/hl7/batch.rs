//! A batch (`FHS`/`BHS`) of messages: applied in groups of [`MESSAGES_PER_COMMIT`], each group
//! one transaction that reads what it needs in a few set-wise queries up front and writes its
//! messages' rows and card marks together at its end.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{CardFailure, Outcome, Received, apply_message, ingest, receive, retry};
use crate::config::Hl7Settings;
use crate::db::AnyConnection;
use crate::db::models::quality::facts;
use crate::db::models::screening::dbs::{self, Card};
use crate::db::models::screening::hl7::{self as stored, AppliedCard, Hl7Message};
use crate::db::models::screening::infant::Infant;
use crate::domain::hl7::Oru;
use crate::domain::ids::CardId;
use crate::error::AppError;
use crate::services::screening::cards::Rules;

/// Messages of a batch committed together in one transaction. A card refused part-way rolls
/// the group back, and its messages are then applied one by one (each card in its own
/// transaction), so a refused card costs only itself.
const MESSAGES_PER_COMMIT: usize = 50;

/// Applies a body: one message, or a batch (`FHS`/`BHS`) whose messages are applied in order
/// and answered with a batch of ACKs. A batch is spread over `workers` pooled connections (on
/// PostgreSQL this overlaps the messages' round trips; SQLite has one writer: use 1). Returns
/// the answer and each message's outcome, in the body's order.
pub fn ingest_body(
    pool: &crate::db::DbPool,
    settings: &Hl7Settings,
    rules: Rules<'_>,
    raw: &str,
    now: DateTime<Utc>,
    workers: usize,
) -> Result<(String, Vec<Outcome>), AppError> {
    let mut conn = pool
        .get()
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let Some(messages) = crate::domain::hl7::split_batch(raw) else {
        let o = ingest(&mut conn, settings, rules, raw, now)?;
        return Ok((o.ack.clone(), vec![o]));
    };
    let items: Vec<Item<'_, '_>> = messages
        .iter()
        .map(|raw| (*raw, receive(settings, raw, now)))
        .collect();
    let outcomes = if workers <= 1 || items.len() <= 1 {
        ingest_messages(&mut conn, settings, rules, &items, now)
    } else {
        drop(conn);
        spread(pool, settings, rules, items, now, workers)
    };
    let acks: Vec<String> = outcomes.iter().map(|o| o.ack.clone()).collect();
    Ok((crate::domain::hl7::batch_ack(&acks, now), outcomes))
}

/// A batch's messages, [`MESSAGES_PER_COMMIT`] per transaction. A group that fails is done
/// again message by message, so one failure costs only its own message (answered [`retry`]).
fn ingest_messages(
    conn: &mut AnyConnection,
    settings: &Hl7Settings,
    rules: Rules<'_>,
    items: &[Item<'_, '_>],
    now: DateTime<Utc>,
) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(MESSAGES_PER_COMMIT) {
        // The quality facts of the group's infants are recomputed once, at its end.
        let together = crate::db::write_transaction(conn, |c| {
            facts::deferred(c, |c| {
                let orus = chunk.iter().filter_map(|(_, r)| match r {
                    Received::Oru(m, _) => Some(m.as_ref()),
                    Received::Answered(_) => None,
                });
                let mut group = crate::db::sql::index_probes(c, |c| Group::read(c, orus))?;
                let mut done = Vec::with_capacity(chunk.len());
                for (raw, r) in chunk {
                    done.push(match r {
                        Received::Answered(o) => o.clone(),
                        Received::Oru(m, lab) => {
                            apply_message(c, rules, raw, m, lab, now, Some(&mut group))?
                        }
                    });
                }
                group.write(c)?;
                Ok::<_, CardFailure>(done)
            })
        });
        match together {
            Ok(o) => out.extend(o),
            Err(stop) => {
                match stop {
                    CardFailure::Refused(_) => tracing::info!(
                        "an hl7 card was refused part-way; applying its group message by message"
                    ),
                    CardFailure::Db(e) => tracing::warn!(
                        error = %e,
                        "a group of an hl7 batch failed; applying its messages one by one"
                    ),
                }
                out.extend(chunk.iter().map(|(m, _)| {
                    ingest(conn, settings, rules, m, now).unwrap_or_else(|e| {
                        tracing::error!(error = %e, "an hl7 message of a batch failed");
                        retry(now)
                    })
                }));
            }
        }
    }
    out
}

/// A message of a batch: its text and what reading it gave.
type Item<'m, 's> = (&'m str, Received<'s>);

/// The barcodes of a message's cards.
fn barcodes_of(m: &Oru) -> impl Iterator<Item = &str> {
    m.cards.iter().filter_map(|c| c.barcode.as_deref())
}

/// The barcodes of a read message's cards (none for one answered without reading).
fn barcodes<'a>(r: &'a Received<'_>) -> impl Iterator<Item = &'a str> {
    let m = match r {
        Received::Oru(m, _) => Some(m.as_ref()),
        Received::Answered(_) => None,
    };
    m.into_iter().flat_map(barcodes_of)
}

/// Which share each message goes to: a message whose card an earlier message named goes where
/// that one went, so the messages of one card are applied in the batch's order (a later result
/// of a card must not be overwritten by an earlier one applied concurrently); the others to the
/// share with the fewest messages.
fn assign(items: &[Item<'_, '_>], workers: usize) -> Vec<usize> {
    let mut share_of: HashMap<&str, usize> = HashMap::new();
    let mut sizes = vec![0usize; workers];
    let mut out = Vec::with_capacity(items.len());
    for (_, r) in items {
        let share = barcodes(r)
            .find_map(|b| share_of.get(b).copied())
            .unwrap_or_else(|| (0..workers).min_by_key(|w| sizes[*w]).unwrap_or_default());
        for b in barcodes(r) {
            share_of.entry(b).or_insert(share);
        }
        sizes[share] += 1;
        out.push(share);
    }
    out
}

/// The messages in `workers` shares (see [`assign`]), each applied on its own pooled
/// connection; the outcomes in the batch's order.
fn spread(
    pool: &crate::db::DbPool,
    settings: &Hl7Settings,
    rules: Rules<'_>,
    items: Vec<Item<'_, '_>>,
    now: DateTime<Utc>,
    workers: usize,
) -> Vec<Outcome> {
    let n = items.len();
    let assigned = assign(&items, workers);
    let mut shares: Vec<(Vec<usize>, Vec<Item<'_, '_>>)> =
        (0..workers).map(|_| (vec![], vec![])).collect();
    for (k, (item, w)) in items.into_iter().zip(assigned).enumerate() {
        shares[w].0.push(k);
        shares[w].1.push(item);
    }
    let mut out: Vec<Option<Outcome>> = vec![None; n];
    std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .iter()
            .filter(|(at, _)| !at.is_empty())
            .map(|(at, share)| {
                let h = scope.spawn(move || match pool.get() {
                    Ok(mut conn) => ingest_messages(&mut conn, settings, rules, share, now),
                    Err(_) => share.iter().map(|_| retry(now)).collect(),
                });
                (at, h)
            })
            .collect();
        for (at, h) in handles {
            let done = h.join().unwrap_or_default();
            for (k, o) in at.iter().zip(done) {
                out[*k] = Some(o);
            }
        }
    });
    // A share whose thread failed is answered "send again".
    out.into_iter()
        .map(|o| o.unwrap_or_else(|| retry(now)))
        .collect()
}

/// The cards a barcode names (with their infants) and, when it names one, its stored values.
pub(super) type Found = (Vec<(Card, Infant)>, Option<BTreeMap<String, f64>>);

/// A group of messages in one transaction: what the database held before it (messages
/// received, cards applied, the cards its barcodes name with their stored values), read in a
/// few queries, and what it writes at its end.
#[derive(Default)]
pub(super) struct Group {
    /// Messages received before, or earlier in the group, by (sending facility, control id).
    pub(super) seen: HashMap<(String, String), Hl7Message>,
    /// Cards applied before, by (sending facility, control id, barcode).
    pub(super) done: HashSet<(String, String, String)>,
    /// The cards each barcode names, as read before the group wrote anything.
    cards: HashMap<String, Vec<(Card, Infant)>>,
    /// Stored values of those cards.
    values: HashMap<CardId, BTreeMap<String, f64>>,
    /// Barcodes taken already.
    used: HashSet<String>,
    /// Birth hospitals' codes, read once per group.
    pub(super) hospital_codes: super::HospitalCodes,
    /// Messages to record at the end.
    messages: Vec<Hl7Message>,
    /// Cards applied, to mark at the end.
    pub(super) marks: Vec<AppliedCard>,
}

impl Group {
    fn read<'m>(
        conn: &mut AnyConnection,
        orus: impl Iterator<Item = &'m Oru>,
    ) -> Result<Self, AppError> {
        let mut by_facility: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut barcodes: Vec<&str> = vec![];
        for m in orus {
            by_facility
                .entry(&m.sending_facility)
                .or_default()
                .push(&m.control_id);
            barcodes.extend(barcodes_of(m));
        }
        let mut g = Group::default();
        for (facility, ids) in by_facility {
            for seen in stored::find_among(conn, facility, &ids)? {
                g.seen
                    .insert((facility.to_string(), seen.control_id.clone()), seen);
            }
            for (control, barcode) in stored::cards_done_among(conn, facility, &ids)? {
                g.done.insert((facility.to_string(), control, barcode));
            }
        }
        barcodes.sort_unstable();
        barcodes.dedup();
        for (card, infant) in dbs::cards_with_infants(conn, &barcodes)? {
            g.cards
                .entry(card.barcode.clone())
                .or_default()
                .push((card, infant));
        }
        let ids: Vec<CardId> = g.cards.values().flatten().map(|(c, _)| c.id).collect();
        for r in crate::db::models::screening::values::of_cards(conn, &ids)? {
            g.values
                .entry(r.card_id)
                .or_default()
                .insert(r.analyte, r.value);
        }
        Ok(g)
    }

    /// The cards a barcode names and, for the one card it names, its stored values, as read
    /// before the group: once per barcode. A barcode met again in the group may have been
    /// written by it, so it is read afresh (`None`).
    pub(super) fn take(&mut self, barcode: &str) -> Option<Found> {
        if !self.used.insert(barcode.to_string()) {
            return None;
        }
        // Every barcode of the group was looked up: one not read names no card.
        let found = self.cards.remove(barcode).unwrap_or_default();
        let before = match found.as_slice() {
            [(card, _)] => Some(self.values.remove(&card.id).unwrap_or_default()),
            _ => None,
        };
        Some((found, before))
    }

    /// Records a message, to be written at the end.
    pub(super) fn add_message(&mut self, key: (String, String), row: Hl7Message) {
        self.messages.push(row.clone());
        self.seen.insert(key, row);
    }

    /// Writes the group's messages and card marks.
    fn write(&self, conn: &mut AnyConnection) -> Result<(), AppError> {
        stored::mark_cards(conn, &self.marks)?;
        stored::insert_all(conn, &self.messages)?;
        Ok(())
    }
}
