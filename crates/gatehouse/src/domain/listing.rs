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
