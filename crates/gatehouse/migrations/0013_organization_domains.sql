-- Organization domains (issue 12): a domain an organization claims, verified by a DNS TXT
-- record (`verification_prefix`.`domain` holding `verification_token`) or set verified by an
-- administrator (`verification_strategy` 'manual'). `state` is pending, verified or failed;
-- `failure_reason` says why the last check failed. One environment has each domain verified
-- in at most one organization (the partial unique index); any organization may claim it
-- pending.
CREATE TABLE organization_domains (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    state TEXT NOT NULL,
    verification_strategy TEXT NOT NULL,
    verification_prefix TEXT NOT NULL,
    verification_token TEXT NOT NULL,
    failure_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (organization_id, domain)
);
CREATE UNIQUE INDEX organization_domains_verified ON organization_domains (environment_id, domain)
    WHERE state = 'verified';
CREATE INDEX organization_domains_by_domain ON organization_domains (environment_id, domain);

-- Gatehouse's auto-join policy (WorkOS has no API field for it): users whose verified email is
-- at one of the organization's verified domains become members (default role) at sign-in.
ALTER TABLE organizations ADD COLUMN domain_auto_join BIGINT NOT NULL DEFAULT 0;
