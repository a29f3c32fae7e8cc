//! The audit trail of writes and of reads of personal detail: who, what, when.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use crate::sql::Sql;
use crate::{Conn, StoreError, now_text};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub user_id: Option<i64>,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub detail: String,
}

/// Appends one audit entry in the caller's transaction.
pub async fn record(
    conn: &mut Conn,
    user_id: Option<i64>,
    action: &str,
    entity: &str,
    entity_id: &str,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    let mut q =
        Sql::new("INSERT INTO audit_log (at, user_id, action, entity, entity_id, detail) VALUES (");
    q.bind_list([
        now_text().into(),
        user_id.into(),
        action.into(),
        entity.into(),
        entity_id.into(),
        detail.to_string().into(),
    ]);
    q.push(")");
    q.execute(conn).await.map(|_| ())
}

/// Entries about one entity, oldest first.
pub async fn for_entity(
    conn: &mut Conn,
    entity: &str,
    entity_id: &str,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut q = Sql::new(
        "SELECT id, at, user_id, action, entity, entity_id, detail FROM audit_log WHERE entity = ",
    );
    q.bind(entity)
        .push(" AND entity_id = ")
        .bind(entity_id)
        .push(" ORDER BY id");
    q.fetch_all(conn).await
}
