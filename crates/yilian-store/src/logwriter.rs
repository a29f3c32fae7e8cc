//! The access log's writer: group commit. A record read runs on a read
//! connection and then hands its log entry here; entries arriving together
//! are appended in one short write transaction (three statements for the
//! whole batch, the hash chain intact), and each reader is answered only
//! once its entry is committed — no read is ever returned unlogged.
//!
//! Before this, every read was itself a write transaction: on SQLite half a
//! mixed workload queued on the one writer for the whole read (docs/
//! BENCHMARKS.md, "Whole-system HTTP load").

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

use crate::records::{NewAccess, append_access_batch};
use crate::{Store, StoreError};

/// The most entries one transaction appends (14 parameters each).
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<i64, String>>;
/// An entry on its way to the writer, with where to send its id.
type Queue = mpsc::UnboundedSender<(NewAccess, Reply)>;

/// The channel to the running writer task, started on first use (and again
/// if the runtime that ran it has shut down).
#[derive(Clone, Default)]
pub(crate) struct AccessWriter(Arc<Mutex<Option<Queue>>>);

impl Store {
    /// Appends `entry` to the access log in a write transaction shared with
    /// whatever other reads are logging at the same moment, and returns its
    /// id once committed. If a batch fails, its entries are retried one by
    /// one, so one bad entry fails only its own read.
    pub async fn log_access(&self, entry: NewAccess) -> Result<i64, StoreError> {
        let (reply, done) = oneshot::channel();
        {
            let mut sender = self
                .access_writer
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut item = (entry, reply);
            loop {
                if let Some(tx) = sender.as_ref() {
                    match tx.send(item) {
                        Ok(()) => break,
                        Err(mpsc::error::SendError(back)) => item = back,
                    }
                }
                let (tx, rx) = mpsc::unbounded_channel();
                // The task's store has no writer of its own: no cycle keeps it alive.
                let store = Store {
                    access_writer: AccessWriter::default(),
                    ..self.clone()
                };
                tokio::spawn(run(store, rx));
                *sender = Some(tx);
            }
        }
        match done.await {
            Ok(r) => r.map_err(StoreError::Tool),
            Err(_) => Err(StoreError::Tool("the access-log writer stopped".into())),
        }
    }
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<(NewAccess, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (entries, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        match append(&store, &entries).await {
            Ok(ids) => {
                for (reply, id) in replies.into_iter().zip(ids) {
                    let _ = reply.send(Ok(id));
                }
            }
            Err(_) if entries.len() > 1 => {
                for (entry, reply) in entries.iter().zip(replies) {
                    let one = append(&store, std::slice::from_ref(entry)).await;
                    let one = one.and_then(|ids| ids.first().copied().ok_or(StoreError::NotFound));
                    let _ = reply.send(one.map_err(|e| e.to_string()));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

async fn append(store: &Store, entries: &[NewAccess]) -> Result<Vec<i64>, StoreError> {
    let mut tx = store.write().await?;
    let ids = append_access_batch(&mut tx, entries).await?;
    tx.commit().await?;
    Ok(ids)
}
