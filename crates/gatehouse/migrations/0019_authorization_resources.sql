-- WorkOS's resource-based authorization (issue 12): resource types (configured with
-- `gatehouse resource-types`, as WorkOS configures them in its dashboard), resources of an
-- organization in a hierarchy (`parent_resource_id`), and role assignments that give an
-- organization membership a role on one resource (and, by inheritance, its descendants);
-- they go with the membership (a deleted user's included) and with the resource.
CREATE TABLE resource_types (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (environment_id, slug)
);

CREATE TABLE authorization_resources (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    resource_type_slug TEXT NOT NULL,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    parent_resource_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (organization_id, resource_type_slug, external_id)
);
CREATE INDEX authorization_resources_by_parent ON authorization_resources (parent_resource_id);
CREATE INDEX authorization_resources_by_environment ON authorization_resources (environment_id, id);

CREATE TABLE role_assignments (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    organization_membership_id TEXT NOT NULL REFERENCES organization_memberships(id) ON DELETE CASCADE,
    role_slug TEXT NOT NULL,
    resource_id TEXT NOT NULL REFERENCES authorization_resources(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (organization_membership_id, role_slug, resource_id)
);
CREATE INDEX role_assignments_by_resource ON role_assignments (resource_id);
