//! A small dynamic-SQL builder that numbers placeholders `$1, $2, …` (valid on
//! both backends; sqlx's `QueryBuilder<Any>` would emit `?`, which PostgreSQL
//! refuses). Only placeholders carry values: no user text is ever spliced.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Arguments, AssertSqlSafe, FromRow};

use crate::{Conn, Page, Paging, StoreError};

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub enum Val {
    Text(String),
    Int(i64),
    Real(f64),
    /// Binary (SQLite BLOB, PostgreSQL BYTEA).
    Bytes(Vec<u8>),
    NullText,
    NullInt,
    NullReal,
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Text(s.to_string())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Text(s)
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Val::Int(i)
    }
}
impl From<Vec<u8>> for Val {
    fn from(b: Vec<u8>) -> Self {
        Val::Bytes(b)
    }
}
/// Booleans are stored as integers 0/1 on both backends (the `Any` driver
/// cannot decode SQLite booleans).
impl From<bool> for Val {
    fn from(b: bool) -> Self {
        Val::Int(i64::from(b))
    }
}
impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Self {
        s.map_or(Val::NullText, Val::Text)
    }
}
impl From<Option<&str>> for Val {
    fn from(s: Option<&str>) -> Self {
        s.map_or(Val::NullText, |s| Val::Text(s.to_string()))
    }
}
impl From<Option<i64>> for Val {
    fn from(i: Option<i64>) -> Self {
        i.map_or(Val::NullInt, Val::Int)
    }
}
impl From<Option<f64>> for Val {
    fn from(f: Option<f64>) -> Self {
        f.map_or(Val::NullReal, Val::Real)
    }
}

/// SQL text with its numbered arguments.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    args: Vec<Val>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }
    /// Appends literal SQL (never user input).
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    /// Appends a placeholder bound to `v`.
    pub fn bind(&mut self, v: impl Into<Val>) -> &mut Self {
        self.args.push(v.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }
    /// Appends `, `-separated placeholders for each value (for `VALUES` rows).
    pub fn bind_list(&mut self, vals: impl IntoIterator<Item = Val>) -> &mut Self {
        for (i, v) in vals.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self
    }
    /// The text as the connection's backend wants it. SQLite gets anonymous
    /// `?` placeholders: with numbered ones SQLite looks each parameter's name
    /// up in a list (`sqlite3_bind_parameter_name`), which made a 500-row
    /// insert quadratic in its parameter count (75 % of generator time).
    /// Placeholders are numbered in order of appearance, so `?` is equivalent.
    pub fn text_for(&self, conn: &Conn) -> String {
        if conn.backend_name() != "SQLite" {
            return self.text.clone();
        }
        let mut out = String::with_capacity(self.text.len());
        let mut chars = self.text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('?');
            } else {
                out.push(c);
            }
        }
        out
    }

    pub fn arguments(&self) -> AnyArguments {
        let mut a = AnyArguments::default();
        for v in &self.args {
            // Adding an owned scalar to the Any buffer cannot fail.
            let _ = match v {
                Val::Text(s) => a.add(s.clone()),
                Val::Int(i) => a.add(*i),
                Val::Real(f) => a.add(*f),
                Val::Bytes(b) => a.add(b.clone()),
                Val::NullText => a.add(None::<String>),
                Val::NullInt => a.add(None::<i64>),
                // sqlx 0.9's Any driver converts a null f64 into a FLOAT4
                // null and a null f32 into a FLOAT8 one (the two arms are
                // swapped); PostgreSQL then prepares the statement for
                // FLOAT4 and refuses the next real value. Bind the null that
                // comes out as FLOAT8.
                Val::NullReal => a.add(None::<f32>),
            };
        }
        a
    }

    pub async fn fetch_all<T>(&self, conn: &mut Conn) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        Ok(
            sqlx::query_as_with(AssertSqlSafe(self.text_for(conn)), self.arguments())
                .fetch_all(conn)
                .await?,
        )
    }

    pub async fn fetch_optional<T>(&self, conn: &mut Conn) -> Result<Option<T>, StoreError>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        Ok(
            sqlx::query_as_with(AssertSqlSafe(self.text_for(conn)), self.arguments())
                .fetch_optional(conn)
                .await?,
        )
    }

    pub async fn fetch_one<T>(&self, conn: &mut Conn) -> Result<T, StoreError>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        self.fetch_optional(conn).await?.ok_or(StoreError::NotFound)
    }

    pub async fn scalar_i64(&self, conn: &mut Conn) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar_with(AssertSqlSafe(self.text_for(conn)), self.arguments())
                .fetch_one(conn)
                .await?,
        )
    }

    /// Runs a statement; returns rows affected.
    pub async fn execute(&self, conn: &mut Conn) -> Result<u64, StoreError> {
        Ok(
            sqlx::query_with(AssertSqlSafe(self.text_for(conn)), self.arguments())
                .execute(conn)
                .await?
                .rows_affected(),
        )
    }
}

/// A `WHERE` clause assembled from optional filters. Placeholders are kept
/// as `?` until the clause is appended to a [`Sql`], which numbers them.
#[derive(Debug, Default, Clone)]
pub struct Where {
    text: String,
    args: Vec<Val>,
}

impl Where {
    pub fn new() -> Where {
        Where::default()
    }
    /// Adds `AND (<clause>)` where each `?` in `clause` is bound in order.
    pub fn and(&mut self, clause: &str, vals: impl IntoIterator<Item = Val>) -> &mut Self {
        self.text.push_str(if self.text.is_empty() {
            " WHERE ("
        } else {
            " AND ("
        });
        self.text.push_str(clause);
        self.text.push(')');
        self.args.extend(vals);
        self
    }
    /// Adds a prefix match on an indexed column as a byte-order range.
    pub fn prefix(&mut self, column: &str, prefix: &str) -> &mut Self {
        let clause = format!("{column} >= ? AND {column} < ?");
        self.and(
            &clause,
            [Val::from(prefix), Val::from(crate::prefix_end(prefix))],
        )
    }

    /// Appends this clause to `q`, numbering its placeholders after q's own.
    pub fn append_to(&self, q: &mut Sql) {
        let mut args = self.args.iter().cloned();
        let mut parts = self.text.split('?').peekable();
        while let Some(part) = parts.next() {
            q.push(part);
            if parts.peek().is_some() {
                q.bind(args.next().unwrap_or(Val::NullText));
            }
        }
    }

    /// `SELECT <select> FROM <from> WHERE … ORDER BY <order>` as one page,
    /// with the total count of matching rows.
    pub async fn page<T>(
        self,
        conn: &mut Conn,
        select: &str,
        from: &str,
        order: &str,
        paging: Paging,
    ) -> Result<Page<T>, StoreError>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let mut count = Sql::new(&format!("SELECT COUNT(*) FROM {from}"));
        self.append_to(&mut count);
        let total = count.scalar_i64(conn).await?;
        let mut q = Sql::new(&format!("SELECT {select} FROM {from}"));
        self.append_to(&mut q);
        q.push(&format!(" ORDER BY {order} LIMIT "))
            .bind(paging.limit)
            .push(" OFFSET ")
            .bind(paging.offset);
        let items = q.fetch_all(conn).await?;
        Ok(Page {
            items,
            total,
            limit: paging.limit,
            offset: paging.offset,
        })
    }
}
