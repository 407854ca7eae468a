//! Lists in pages: IDs are ULIDs, so ordering by ID is ordering by creation.

use crate::domain::user::User;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOrder {
    Asc,
    Desc,
}

/// A page request for users.
#[derive(Clone, Debug)]
pub struct UserQuery {
    pub email: Option<String>,
    /// Only members of this organization (any status).
    pub organization_id: Option<String>,
    pub limit: u32,
    pub before: Option<String>,
    pub after: Option<String>,
    pub order: ListOrder,
}

pub struct UserPage {
    pub users: Vec<User>,
    /// Whether more items exist beyond this page in the direction of travel.
    pub has_more: bool,
}

/// Where a page of any list starts and how it runs.
#[derive(Clone, Debug)]
pub struct Cursor {
    pub limit: u32,
    pub before: Option<String>,
    pub after: Option<String>,
    pub order: ListOrder,
}

/// One page of a list, always in list order.
pub struct Page<T> {
    pub items: Vec<T>,
    /// Whether more items exist beyond this page in the direction of travel.
    pub has_more: bool,
}

/// A page request for organizations.
#[derive(Clone, Debug)]
pub struct OrganizationQuery {
    /// A case-insensitive part of the name.
    pub search: Option<String>,
    pub cursor: Cursor,
}

/// A page request for memberships: by user, by organization, or both.
#[derive(Clone, Debug)]
pub struct MembershipQuery {
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
    /// Empty: every status.
    pub statuses: Vec<crate::domain::organization::MembershipStatus>,
    pub cursor: Cursor,
}
