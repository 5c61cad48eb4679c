//! The values a statement binds and the cells it returns: what the SQL path
//! of [`crate::SqlStore`] speaks, on both backends.

/// A value bound to a `$N` placeholder.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// `TEXT`.
    Text(&'a str),
    /// `TEXT` or `NULL`.
    OptText(Option<&'a str>),
    /// `INTEGER` (`BIGINT`).
    Int(i64),
}

/// How to read a result column.
#[derive(Debug, Clone, Copy)]
pub enum Col {
    /// `TEXT`, possibly `NULL`.
    Text,
    /// `INTEGER` (`BIGINT`), never `NULL`.
    Int,
}

/// One column of a result row, as [`Col`] asked.
#[derive(Debug, Clone)]
pub enum Cell {
    /// A `TEXT` column (`None` for `NULL`).
    Text(Option<String>),
    /// An `INTEGER` column.
    Int(i64),
}

impl Cell {
    /// The text, or `None` for `NULL` or an integer column.
    #[must_use]
    pub fn text(self) -> Option<String> {
        match self {
            Self::Text(t) => t,
            Self::Int(_) => None,
        }
    }

    /// The integer, or 0 for a text column.
    #[must_use]
    pub fn int(&self) -> i64 {
        match self {
            Self::Int(i) => *i,
            Self::Text(_) => 0,
        }
    }
}
