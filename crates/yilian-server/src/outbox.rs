//! Delivery of the notification outbox. Every referral change queues a
//! message in the same transaction as the change; this worker posts each
//! message to the county's webhook (`YILIAN_WEBHOOK_URL`), retries failures
//! with exponential backoff, and after [`MAX_ATTEMPTS`] keeps the message as a
//! visible dead letter that an administrator can requeue. A message is marked
//! delivered only after a 2xx answer, and carries its id (`X-Yilian-Message-Id`)
//! so a receiver that saw it before (a lost acknowledgement) can ignore it.

use std::time::Duration;

use chrono::Utc;
use yilian_store::referrals as store;
use yilian_store::{Store, StoreError};

/// Attempts before a message becomes a dead letter.
pub const MAX_ATTEMPTS: i64 = 8;

/// Backoff before attempt `n + 1` after `n` failures: 5 s, 10 s, 20 s … capped at 1 h.
pub fn backoff(failures: i64) -> chrono::Duration {
    let secs = 5_i64.saturating_mul(1_i64 << failures.clamp(0, 20));
    chrono::Duration::seconds(secs.min(3_600))
}

/// What one delivery round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub delivered: usize,
    pub failed: usize,
    pub dead: usize,
}

/// Posts every due message once.
pub async fn deliver_once(
    store: &Store,
    client: &reqwest::Client,
    url: &str,
) -> Result<Round, StoreError> {
    let due = {
        let mut c = store.read().await?;
        store::due_messages(&mut c, &yilian_store::now_text(), 100).await?
    };
    let mut round = Round::default();
    for m in due {
        let result = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-yilian-topic", &m.topic)
            .header("x-yilian-message-id", m.id.to_string())
            .body(m.payload.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let mut c = store.read().await?;
        match result {
            Ok(r) if r.status().is_success() => {
                store::mark_delivered(&mut c, m.id).await?;
                round.delivered += 1;
            }
            other => {
                let error = match other {
                    Ok(r) => format!("HTTP {}", r.status()),
                    Err(e) => e.to_string(),
                };
                let dead = m.attempts + 1 >= MAX_ATTEMPTS;
                let next = (Utc::now() + backoff(m.attempts))
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string();
                store::mark_failed(
                    &mut c,
                    m.id,
                    &error.chars().take(300).collect::<String>(),
                    &next,
                    dead,
                )
                .await?;
                if dead {
                    round.dead += 1;
                } else {
                    round.failed += 1;
                }
            }
        }
    }
    Ok(round)
}

/// Runs delivery rounds every `every` until the process ends.
pub fn spawn_worker(store: Store, url: String, every: Duration) {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match deliver_once(&store, &client, &url).await {
                Ok(r) if r.failed + r.dead > 0 => {
                    tracing::warn!(?r, "webhook delivery round had failures")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox delivery failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(0).num_seconds(), 5);
        assert_eq!(backoff(1).num_seconds(), 10);
        assert_eq!(backoff(3).num_seconds(), 40);
        assert_eq!(backoff(20).num_seconds(), 3_600);
        assert_eq!(backoff(-4).num_seconds(), 5);
    }
}
