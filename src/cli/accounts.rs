//! Account administration that works before any administrator can log in: users, hospitals
//! and REST clients. Secrets (passwords, client secrets) are printed once to stdout, never to
//! the log.

use std::io::Read;

use chrono::{DateTime, Utc};

use super::UserAdd;
use crate::config::Settings;
use crate::db::AnyConnection;
use crate::db::models::admin::{api_client, hospital};
use crate::domain::ids::HospitalId;
use crate::domain::principal::Scope;
use crate::domain::role::Role;
use crate::error::AppError;
use crate::services::admin::accounts::{self, HospitalInput, UserInput};
use crate::startup::open_database;

fn resolve_hospital(conn: &mut AnyConnection, code_or_id: &str) -> anyhow::Result<HospitalId> {
    let found = match code_or_id.parse::<HospitalId>() {
        Ok(id) => hospital::get(conn, &Scope::unrestricted(), id)?,
        Err(_) => hospital::find_by_code(conn, code_or_id)?,
    };
    let h = found.ok_or_else(|| anyhow::anyhow!("no hospital with code or id {code_or_id}"))?;
    Ok(h.id)
}

fn app_err(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(f) => {
            let lines: Vec<String> =
                f.0.iter()
                    .map(|(k, v)| format!("{k}: {}", v.join("; ")))
                    .collect();
            anyhow::anyhow!("invalid input: {}", lines.join(", "))
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// `user add`: a staff user; a password is generated (and shown once) unless read from stdin.
pub fn add_user(settings: Settings, a: UserAdd, now: DateTime<Utc>) -> anyhow::Result<()> {
    let pool = open_database(&settings)?;
    let mut conn = pool.get()?;
    let hospital_id = a
        .hospital
        .as_deref()
        .map(|h| resolve_hospital(&mut conn, h))
        .transpose()?;
    let (password, generated) = if a.password_stdin {
        let mut p = String::new();
        std::io::stdin().read_to_string(&mut p)?;
        (p.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (crate::auth::secrets::random_token(18)?, true)
    };
    let input = UserInput {
        display_name: a.display_name.unwrap_or_else(|| a.username.clone()),
        username: a.username,
        password: password.clone(),
        role: a.role,
        hospital_id,
        email: a.email,
    };
    let u = accounts::create_user(&mut conn, input, now).map_err(app_err)?;
    println!("created user {} ({}) id {}", u.username, u.role, u.id);
    if generated {
        println!("password (shown once): {password}");
    }
    Ok(())
}

/// `hospital add`.
pub fn add_hospital(
    settings: Settings,
    code: String,
    name: String,
    district: Option<String>,
    emails: Vec<String>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let pool = open_database(&settings)?;
    let mut conn = pool.get()?;
    let input = HospitalInput {
        code,
        name,
        district,
        contact_emails: emails,
    };
    let h = accounts::create_hospital(&mut conn, input, now).map_err(app_err)?;
    println!("created hospital {} id {}", h.code, h.id);
    Ok(())
}

/// `hospital list`: id, code, state and name, one per line.
pub fn list_hospitals(settings: Settings) -> anyhow::Result<()> {
    let pool = open_database(&settings)?;
    let mut conn = pool.get()?;
    for h in hospital::list(&mut conn, &Scope::unrestricted(), None)? {
        let state = if h.active { "active" } else { "inactive" };
        println!("{}\t{}\t{}\t{}", h.id, h.code, state, h.name);
    }
    Ok(())
}

fn print_secret(issued: &accounts::IssuedClient) {
    println!("client_id:     {}", issued.client.client_id);
    println!(
        "client_secret: {}  (shown once; store it now)",
        issued.secret
    );
}

/// `client add`: a hospital's or the laboratory's REST client.
pub fn add_client(
    settings: Settings,
    hospital: Option<String>,
    lab: bool,
    name: String,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let pool = open_database(&settings)?;
    let mut conn = pool.get()?;
    let hospital_id = hospital
        .as_deref()
        .map(|h| resolve_hospital(&mut conn, h))
        .transpose()?;
    let role = if lab {
        Role::LabClient
    } else {
        Role::HospitalClient
    };
    let issued =
        accounts::create_client(&mut conn, &name, role, hospital_id, now).map_err(app_err)?;
    print_secret(&issued);
    Ok(())
}

/// `client rotate`: a new secret for a client (the old one stops working).
pub fn rotate_client(
    settings: Settings,
    client_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let pool = open_database(&settings)?;
    let mut conn = pool.get()?;
    let c = api_client::find_by_client_id(&mut conn, client_id)?
        .ok_or_else(|| anyhow::anyhow!("no client {client_id}"))?;
    let issued = accounts::rotate_client_secret(&mut conn, &c.id, now).map_err(app_err)?;
    print_secret(&issued);
    Ok(())
}
