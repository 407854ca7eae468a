//! Organization domains: adding, reading, removing and verifying (a DNS TXT record), the
//! domains an organization is created or updated with, and the organization a user joins at
//! sign-in through a verified domain (Gatehouse's auto-join policy).

use super::{Core, Error, Result};
use crate::clock::Millis;
use crate::domain::environment::Environment;
use crate::domain::event::{DomainFailure, NewEvent};
use crate::domain::organization::{
    DomainState, OrganizationDomain, TxtLookup, VERIFICATION_PREFIX, VerificationStrategy, email_domain,
    normalize_domain, txt_check,
};
use crate::domain::user::User;
use crate::ids::new_id;
use crate::store::DomainChanges;

/// A domain an organization is created or updated with (`domain_data`, or the older
/// `domains`): its name and whether it is set verified (`manual`) or left to verify by DNS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainInput {
    pub domain: String,
    pub verified: bool,
}

fn not_found(id: &str) -> Error {
    Error::NotFound { kind: "Organization Domain", id: id.to_owned() }
}

fn invalid_domain(field: &str, domain: &str) -> Error {
    Error::validation(field, "invalid", format!("'{domain}' is not a valid domain name (like foo-corp.com)."))
}

/// Checks and normalises a list of domain inputs: each a valid name, each once (set verified
/// if any of its mentions says so).
pub fn normalize_inputs(field: &str, inputs: Vec<DomainInput>) -> Result<Vec<DomainInput>> {
    let mut out: Vec<DomainInput> = Vec::new();
    for input in inputs {
        let domain = normalize_domain(&input.domain).ok_or_else(|| invalid_domain(field, &input.domain))?;
        match out.iter_mut().find(|d| d.domain == domain) {
            Some(existing) => existing.verified |= input.verified,
            None => out.push(DomainInput { domain, verified: input.verified }),
        }
    }
    Ok(out)
}

impl Core {
    /// A new domain of an organization: pending with a fresh DNS token, or verified by the
    /// administrator's word (`manual`).
    pub(super) fn new_domain(
        &self,
        environment_id: &str,
        organization_id: &str,
        domain: &str,
        verified: bool,
        now: Millis,
    ) -> OrganizationDomain {
        let id = new_id("org_domain");
        // The ULID's random tail, lower-case: a DNS label of letters and digits.
        let suffix: String = id.chars().rev().take(10).collect::<String>().to_ascii_lowercase();
        OrganizationDomain {
            id,
            environment_id: environment_id.to_owned(),
            organization_id: organization_id.to_owned(),
            domain: domain.to_owned(),
            state: if verified { DomainState::Verified } else { DomainState::Pending },
            verification_strategy: if verified { VerificationStrategy::Manual } else { VerificationStrategy::Dns },
            verification_prefix: format!("{VERIFICATION_PREFIX}{suffix}"),
            verification_token: crate::crypto::secrets::random_token(18),
            failure_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Refuses domains to be set verified that another organization of the environment has
    /// verified (`organization_id`: the organization they are for, `None` for a new one).
    pub(super) async fn check_verified_elsewhere(
        &self,
        environment_id: &str,
        organization_id: Option<&str>,
        inputs: &[DomainInput],
    ) -> Result<()> {
        for input in inputs.iter().filter(|d| d.verified) {
            if let Some(owner) = self.store.verified_domain_owner(environment_id, &input.domain).await?
                && Some(owner.as_str()) != organization_id
            {
                return Err(Error::Conflict {
                    what: super::error::Duplicate::VerifiedDomain,
                    message: format!(
                        "The domain '{}' is verified by another organization of this environment.",
                        input.domain
                    ),
                });
            }
        }
        Ok(())
    }

    /// What setting an organization's domains to `inputs` changes: new ones added, ones set
    /// verified that were not, ones left out removed (a verified one listed as pending stays
    /// verified). Also the events for each change.
    pub(super) fn domain_changes(
        &self,
        current: &[OrganizationDomain],
        environment_id: &str,
        organization_id: &str,
        inputs: &[DomainInput],
        now: Millis,
    ) -> (Vec<OrganizationDomain>, DomainChanges, Vec<NewEvent>) {
        let mut changes = DomainChanges::default();
        let mut events = Vec::new();
        let mut kept = Vec::new();
        for d in current {
            match inputs.iter().find(|i| i.domain == d.domain) {
                None => {
                    changes.deleted.push(d.id.clone());
                    events.push(NewEvent::organization_domain("organization_domain.deleted", d));
                }
                Some(input) if input.verified && d.state != DomainState::Verified => {
                    let mut d = d.clone();
                    d.state = DomainState::Verified;
                    d.verification_strategy = VerificationStrategy::Manual;
                    d.failure_reason = None;
                    d.updated_at = now;
                    events.push(NewEvent::organization_domain("organization_domain.verified", &d));
                    changes.updated.push(d.clone());
                    kept.push(d);
                }
                Some(_) => kept.push(d.clone()),
            }
        }
        for input in inputs.iter().filter(|i| !current.iter().any(|d| d.domain == i.domain)) {
            let d = self.new_domain(environment_id, organization_id, &input.domain, input.verified, now);
            events.push(NewEvent::organization_domain("organization_domain.created", &d));
            if input.verified {
                events.push(NewEvent::organization_domain("organization_domain.verified", &d));
            }
            changes.inserted.push(d.clone());
            kept.push(d);
        }
        kept.sort_by(|a, b| a.domain.cmp(&b.domain));
        (kept, changes, events)
    }

    /// `POST /organization_domains`: a pending domain with its DNS token.
    pub async fn create_domain(
        &self,
        env: &Environment,
        organization_id: &str,
        domain: &str,
    ) -> Result<OrganizationDomain> {
        let name = normalize_domain(domain).ok_or_else(|| invalid_domain("domain", domain))?;
        let org = self.get_organization(env, organization_id).await?;
        if org.domains.iter().any(|d| d.domain == name) {
            return Err(Error::Conflict {
                what: super::error::Duplicate::OrganizationDomain,
                message: "Domain already exists for this organization.".into(),
            });
        }
        let d = self.new_domain(&env.id, &org.id, &name, false, self.now());
        self.store.insert_domain(&d, &[NewEvent::organization_domain("organization_domain.created", &d)]).await?;
        Ok(d)
    }

    pub async fn get_domain(&self, env: &Environment, id: &str) -> Result<OrganizationDomain> {
        self.store.find_domain(&env.id, id).await?.ok_or_else(|| not_found(id))
    }

    /// The domains of an organization (for the CLI).
    pub async fn list_domains(&self, env: &Environment, organization_id: &str) -> Result<Vec<OrganizationDomain>> {
        Ok(self.get_organization(env, organization_id).await?.domains)
    }

    pub async fn delete_domain(&self, env: &Environment, id: &str) -> Result<()> {
        let mut d = self.get_domain(env, id).await?;
        d.updated_at = self.now();
        if !self.store.delete_domain(&d, &[NewEvent::organization_domain("organization_domain.deleted", &d)]).await? {
            return Err(not_found(id));
        }
        Ok(())
    }

    /// `POST /organization_domains/{id}/verify`: checks the TXT record now. Found with the
    /// token: `verified`. Missing, without the token, or the domain verified by another
    /// organization of the environment: `failed`, with the reason in `failure_reason` (verify
    /// again once the record is there). A verified domain is refused (`domain_already_verified`).
    pub async fn verify_domain(&self, env: &Environment, id: &str) -> Result<OrganizationDomain> {
        let mut d = self.get_domain(env, id).await?;
        if d.state == DomainState::Verified {
            return Err(Error::Rejected {
                reason: super::error::Rejection::DomainAlreadyVerified,
                message: "Domain is already verified.".into(),
            });
        }
        let owner = self.store.verified_domain_owner(&env.id, &d.domain).await?;
        let failure = if owner.is_some_and(|o| o != d.organization_id) {
            Some((
                DomainFailure::VerifiedByOtherOrganization,
                format!("The domain {} is verified by another organization of this environment.", d.domain),
            ))
        } else {
            let found = super::dns::lookup_txt(self.config.dns_server, &d.txt_record_name()).await;
            if let TxtLookup::Failed(message) = &found {
                tracing::info!(domain = %d.domain, error = %message, "domain verification: DNS look-up failed");
            }
            txt_check(&d, &found).map(|reason| (DomainFailure::PeriodExpired, reason))
        };
        d.updated_at = self.now();
        d.verification_strategy = VerificationStrategy::Dns;
        let event = match failure {
            None => {
                d.state = DomainState::Verified;
                d.failure_reason = None;
                NewEvent::organization_domain("organization_domain.verified", &d)
            }
            Some((why, reason)) => {
                d.state = DomainState::Failed;
                d.failure_reason = Some(reason);
                NewEvent::domain_verification_failed(&d, why)
            }
        };
        self.store.update_domain(&d, &[event]).await?;
        Ok(d)
    }

    /// The organization `user` joins at sign-in through a verified domain: one with the
    /// auto-join policy on that has the domain of the user's email verified, if the email is
    /// verified and the user has no membership there.
    pub(super) async fn auto_join_target(&self, environment_id: &str, user: &User) -> Result<Option<String>> {
        if !user.email_verified {
            return Ok(None);
        }
        let Some(domain) = email_domain(&user.email) else { return Ok(None) };
        Ok(self.store.auto_join_organization(environment_id, &domain, &user.id).await?)
    }
}
