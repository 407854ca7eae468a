//! WorkOS list parameters: `limit`, `before`, `after`, `order` (the envelope is `wire::List`).

use serde::Deserialize;

use crate::domain::listing::ListOrder;
use crate::service::Error;
use crate::web::wire::Page;

#[derive(Deserialize, Default)]
pub(super) struct ListParams {
    pub limit: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub order: Option<String>,
    pub email: Option<String>,
    pub organization_id: Option<String>,
    /// The older name of `organization_id` on the users list.
    pub organization: Option<String>,
}

impl ListParams {
    pub fn limit(&self) -> Result<u32, Error> {
        match self.limit.as_deref().filter(|l| !l.is_empty()) {
            None => Ok(10),
            Some(l) => l.parse::<u32>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
                Error::validation("limit", "invalid_limit", "limit must be a whole number from 1 to 100.")
            }),
        }
    }

    pub fn order(&self) -> Result<ListOrder, Error> {
        match self.order.as_deref().filter(|o| !o.is_empty()) {
            None | Some("desc" | "normal") => Ok(ListOrder::Desc),
            Some("asc") => Ok(ListOrder::Asc),
            Some(other) => {
                Err(Error::validation("order", "invalid_order", format!("order must be asc or desc, not '{other}'.")))
            }
        }
    }

    pub fn before(&self) -> Option<String> {
        self.before.clone().filter(|s| !s.is_empty())
    }

    pub fn after(&self) -> Option<String> {
        self.after.clone().filter(|s| !s.is_empty())
    }

    /// The cursor of any list.
    pub fn cursor(&self) -> Result<crate::domain::listing::Cursor, Error> {
        Ok(crate::domain::listing::Cursor {
            limit: self.limit()?,
            before: self.before(),
            after: self.after(),
            order: self.order()?,
        })
    }

    /// Where the page asked for sits, for the envelope's cursors.
    pub fn page(&self, has_more: bool) -> Page<'_> {
        Page {
            before: self.before.as_deref().filter(|s| !s.is_empty()),
            after: self.after.as_deref().filter(|s| !s.is_empty()),
            has_more,
        }
    }
}
