//! Who is calling, and which data they may see.

use serde::{Deserialize, Serialize};

use super::ids::HospitalId;
use super::role::Role;

/// What kind of account a token was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A person who logged in with a password.
    User,
    /// A hospital's REST client.
    Client,
    /// A timed job of the server itself (never issued a token).
    Job,
}

/// The authenticated caller, built from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User id or API-client row id.
    pub subject: String,
    /// Person or machine.
    pub kind: PrincipalKind,
    /// Role granted.
    pub role: Role,
    /// The hospital a hospital-bound role belongs to.
    pub hospital_id: Option<HospitalId>,
    /// The request this principal acts in (for the audit trail); `None` outside HTTP.
    pub request_id: Option<String>,
    /// The caller's own id for the request (its `X-Request-Id`), kept beside the server's.
    pub correlation_id: Option<String>,
}

impl Principal {
    /// The principal a timed job acts as: unrestricted, named in the audit trail as `job:<name>`.
    pub fn job(name: &str) -> Self {
        Self {
            subject: name.to_string(),
            kind: PrincipalKind::Job,
            role: Role::Admin,
            hospital_id: None,
            request_id: None,
            correlation_id: None,
        }
    }

    /// The data this principal may see.
    pub fn scope(&self) -> Scope {
        match (self.role.is_hospital_bound(), self.hospital_id) {
            (false, _) => Scope(ScopeInner::All),
            (true, Some(h)) => Scope(ScopeInner::Hospital(h)),
            // A hospital role without a hospital sees nothing rather than everything.
            (true, None) => Scope(ScopeInner::Nothing),
        }
    }

    /// A stable key for per-principal records (idempotency keys), and the actor that audit
    /// entries, case events and published versions name.
    pub fn key(&self) -> String {
        actor_key(self.kind, &self.subject)
    }
}

/// The key of principal `subject` of `kind`: `user:<id>`, `client:<id>`, `job:<name>`.
pub fn actor_key(kind: PrincipalKind, subject: impl std::fmt::Display) -> String {
    let kind = match kind {
        PrincipalKind::User => "user",
        PrincipalKind::Client => "client",
        PrincipalKind::Job => "job",
    };
    format!("{kind}:{subject}")
}

/// The rows a caller may touch. Query functions for hospital-owned data take a `Scope` and
/// apply it themselves, so no handler can forget the filter. It can only be made from a
/// [`Principal`] or, for trusted in-process callers (CLI, jobs), by [`Scope::unrestricted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope(ScopeInner);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeInner {
    All,
    Hospital(HospitalId),
    Nothing,
}

impl Scope {
    /// Every hospital: only for the command line and background jobs, never for a request.
    pub fn unrestricted() -> Self {
        Scope(ScopeInner::All)
    }

    /// This scope narrowed to hospital `h`: `h` alone when this scope sees it, else nothing.
    pub fn narrowed_to(&self, h: HospitalId) -> Scope {
        match self.0 {
            ScopeInner::All => Scope(ScopeInner::Hospital(h)),
            ScopeInner::Hospital(own) if own == h => Scope(ScopeInner::Hospital(h)),
            _ => Scope(ScopeInner::Nothing),
        }
    }

    /// `None` means all hospitals; `Some(h)` restricts to `h`. A scope that may see nothing
    /// yields a hospital id that cannot exist.
    pub fn hospital_filter(&self) -> Option<HospitalId> {
        match self.0 {
            ScopeInner::All => None,
            ScopeInner::Hospital(h) => Some(h),
            ScopeInner::Nothing => Some(HospitalId(uuid::Uuid::nil())),
        }
    }

    /// Whether this scope may see hospital `h`'s data.
    pub fn allows(&self, h: HospitalId) -> bool {
        self.hospital_filter().is_none_or(|only| only == h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(role: Role, h: Option<HospitalId>) -> Principal {
        Principal {
            subject: "s".into(),
            kind: PrincipalKind::User,
            role,
            hospital_id: h,
            request_id: None,
            correlation_id: None,
        }
    }

    #[test]
    fn keys_name_the_kind_and_subject() {
        assert_eq!(p(Role::Coordinator, None).key(), "user:s");
        let id = crate::domain::ids::UserId::new();
        assert_eq!(actor_key(PrincipalKind::User, id), format!("user:{id}"));
        assert_eq!(
            actor_key(PrincipalKind::Job, "escalation"),
            "job:escalation"
        );
    }

    #[test]
    fn hospital_roles_are_scoped_to_their_hospital() {
        let a = HospitalId::new();
        let b = HospitalId::new();
        let s = p(Role::HospitalStaff, Some(a)).scope();
        assert!(s.allows(a));
        assert!(!s.allows(b));
        assert!(p(Role::Coordinator, None).scope().allows(b));
        assert!(!p(Role::HospitalClient, None).scope().allows(a));
    }

    #[test]
    fn narrowing_never_widens_a_scope() {
        let a = HospitalId::new();
        let b = HospitalId::new();
        let all = p(Role::Coordinator, None).scope();
        assert_eq!(all.narrowed_to(a).hospital_filter(), Some(a));
        let own = p(Role::HospitalStaff, Some(a)).scope();
        assert_eq!(own.narrowed_to(a).hospital_filter(), Some(a));
        assert!(!own.narrowed_to(b).allows(a) && !own.narrowed_to(b).allows(b));
    }
}
