-- Organizations (issue 12): organizations, environment and organization roles, permissions,
-- memberships, and the organization a session (and the code that starts it) is in.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    name TEXT NOT NULL,
    external_id TEXT,
    metadata TEXT NOT NULL,
    allow_profiles_outside_organization BIGINT NOT NULL,
    require_mfa BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (environment_id, external_id)
);

CREATE TABLE permissions (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (environment_id, slug)
);

-- An environment role has organization_id '' (so one uniqueness rule covers both kinds); an
-- organization's own roles go with it. `permissions` is a JSON array of permission slugs.
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    organization_id TEXT NOT NULL,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    permissions TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (environment_id, organization_id, slug)
);

-- `role_slugs` is a JSON array; the first is the primary role (`role` on the wire).
CREATE TABLE organization_memberships (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    role_slugs TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX organization_memberships_by_user ON organization_memberships (user_id);

-- The organization a session is in (NULL: none), and the one a code or a pending sign-in
-- will start it in. A pending sign-in's `purpose` is `organization_selection` when all it
-- still owes is the choice of an organization (the organization-selection grant takes only
-- those).
ALTER TABLE sessions ADD COLUMN organization_id TEXT;
CREATE INDEX sessions_by_organization ON sessions (organization_id);
ALTER TABLE authorization_codes ADD COLUMN organization_id TEXT;
ALTER TABLE pending_authentications ADD COLUMN organization_id TEXT;
ALTER TABLE pending_authentications ADD COLUMN purpose TEXT;

-- Invitations: the token is kept as a hash (to redeem it) and sealed (the API shows it, as
-- WorkOS's does). The state is derived: revoked, accepted, expired, else pending.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    email TEXT NOT NULL,
    organization_id TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    role_slug TEXT,
    inviter_user_id TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    sealed_token TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    accepted_user_id TEXT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX invitations_by_email ON invitations (environment_id, email);
