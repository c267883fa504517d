//! Fleet messages and the subscriber task.
//!
//! Messages carry digests, never names: `i` (a secret was invalidated: its name digest in each
//! namespace of the sender's key ring), `s` (a new value of one variant was stored), `r` (a
//! fill lease was released after a store), `f` (a fill lease was released without one: the
//! waiters read for themselves), `c` (a scope or everything was cleared). Each starts with the
//! sender's origin id, so a process skips what it already did itself.
//!
//! One task per cache keeps one subscription *session*: connect (RESP3), subscribe every
//! channel, mark the subscription up, then handle pushes and ping every heartbeat. A
//! disconnection push, an unsolicited unsubscribe or a failed ping ends the session: the
//! subscription is marked down (every near entry dropped, none served) and a new session is
//! started with backoff. On a single Redis there is one channel (`PUBLISH` inside the scripts);
//! on a Cluster there are [`CLUSTER_CHANNELS`] sharded channels (`SSUBSCRIBE`/`SPUBLISH`),
//! spread over the shards.

use std::sync::Arc;
use std::time::Duration;

use redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use tokio::sync::{mpsc, watch};

use crate::conn::{ConnSettings, Target};
use crate::names::{NameTag, TAG_LEN, Tags};
use crate::state::{State, incr};

/// Sharded channels on a Redis Cluster.
pub(crate) const CLUSTER_CHANNELS: usize = 16;

/// The channels a cache with `prefix` uses.
pub(crate) fn channels(prefix: &str, cluster: bool) -> Vec<Vec<u8>> {
    if cluster {
        (0..CLUSTER_CHANNELS)
            .map(|i| format!("{prefix}ev{{{i}}}").into_bytes())
            .collect()
    } else {
        vec![format!("{prefix}ev").into_bytes()]
    }
}

/// The channel messages about `tag` go to.
pub(crate) fn channel_for<'a>(channels: &'a [Vec<u8>], tag: &NameTag) -> &'a [u8] {
    &channels[tag.0[0] as usize % channels.len()]
}

/// A message, encoded.
pub(crate) enum Message<'a> {
    Invalidated(&'a [NameTag]),
    Stored(&'a Tags),
    Released(&'a Tags),
    Failed(&'a Tags),
    Cleared,
}

impl Message<'_> {
    pub(crate) fn encode(&self, origin: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 8 + 1 + 4 * TAG_LEN);
        let (kind, tags): (u8, Option<&Tags>) = match self {
            Message::Invalidated(_) => (b'i', None),
            Message::Stored(t) => (b's', Some(t)),
            Message::Released(t) => (b'r', Some(t)),
            Message::Failed(t) => (b'f', Some(t)),
            Message::Cleared => (b'c', None),
        };
        out.push(kind);
        out.extend_from_slice(&origin.to_be_bytes());
        if let Message::Invalidated(names) = self {
            out.push(u8::try_from(names.len()).unwrap_or(u8::MAX));
            for n in names.iter().take(u8::MAX as usize) {
                out.extend_from_slice(&n.0);
            }
        }
        if let Some(t) = tags {
            out.extend_from_slice(&t.name.0);
            out.extend_from_slice(&t.variant);
        }
        out
    }
}

fn tag_at(bytes: &[u8], at: usize) -> Option<[u8; TAG_LEN]> {
    bytes.get(at..at + TAG_LEN)?.try_into().ok()
}

/// Handles one message payload (malformed ones are ignored).
pub(crate) async fn handle(state: &State, payload: &[u8]) {
    let (Some(&kind), Some(origin)) = (payload.first(), payload.get(1..9)) else {
        return;
    };
    let mine = u64::from_be_bytes(origin.try_into().expect("8 bytes")) == state.origin;
    let body = &payload[9..];
    incr(&state.counters.messages);
    match kind {
        b'i' => {
            let Some((&n, rest)) = body.split_first() else {
                return;
            };
            let tags: Vec<NameTag> = (0..n as usize)
                .filter_map(|i| tag_at(rest, i * TAG_LEN).map(NameTag))
                .collect();
            if !mine {
                state.invalidated(&tags).await;
            }
        }
        b's' | b'r' | b'f' => {
            let (Some(name), Some(variant)) = (tag_at(body, 0), tag_at(body, TAG_LEN)) else {
                return;
            };
            if kind == b's' && !mine {
                state.replaced(&NameTag(name), &variant).await;
            }
            let mut id = [0u8; 2 * TAG_LEN];
            id[..TAG_LEN].copy_from_slice(&name);
            id[TAG_LEN..].copy_from_slice(&variant);
            state.wake(&id);
        }
        b'c' if !mine => state.cleared().await,
        _ => {}
    }
}

/// How a session ended.
enum End {
    Stop,
    Lost,
}

/// Runs sessions until the cache is dropped (`stop`'s sender goes away).
pub(crate) async fn run(
    state: Arc<State>,
    target: Target,
    settings: Arc<ConnSettings>,
    channels: Vec<Vec<u8>>,
    heartbeat: Duration,
    mut stop: watch::Receiver<()>,
) {
    let mut backoff = Duration::from_millis(25);
    loop {
        let outcome = session(&state, &target, &settings, &channels, heartbeat, &mut stop).await;
        let was_live = state.is_live();
        state.set_down().await;
        if matches!(outcome, End::Stop) {
            return;
        }
        if was_live {
            backoff = Duration::from_millis(25);
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// One session: connect, subscribe, serve until the connection is lost.
async fn session(
    state: &State,
    target: &Target,
    settings: &ConnSettings,
    channels: &[Vec<u8>],
    heartbeat: Duration,
    stop: &mut watch::Receiver<()>,
) -> End {
    let timeout = settings.timeout;
    let (tx, mut rx) = mpsc::unbounded_channel::<PushInfo>();
    let bounded = |d: Duration| d.max(Duration::from_millis(1));
    let conn = match target {
        Target::Single(info) => {
            let Ok(client) = crate::conn::client(info, settings, true) else {
                return End::Lost;
            };
            let config = AsyncConnectionConfig::new()
                .set_push_sender(tx)
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout));
            let Ok(Ok(mut conn)) = tokio::time::timeout(
                bounded(timeout * 2),
                client.get_multiplexed_async_connection_with_config(&config),
            )
            .await
            else {
                return End::Lost;
            };
            for ch in channels {
                if !matches!(
                    tokio::time::timeout(bounded(timeout), conn.subscribe(ch)).await,
                    Ok(Ok(()))
                ) {
                    return End::Lost;
                }
            }
            Session::Single(conn)
        }
        Target::Cluster(infos) => {
            let Ok(client) = crate::conn::cluster_builder(infos, settings, true)
                .push_sender(tx)
                .build()
            else {
                return End::Lost;
            };
            let Ok(Ok(mut conn)) =
                tokio::time::timeout(bounded(timeout * 4), client.get_async_connection()).await
            else {
                return End::Lost;
            };
            for ch in channels {
                if !matches!(
                    tokio::time::timeout(bounded(timeout), conn.ssubscribe(ch)).await,
                    Ok(Ok(()))
                ) {
                    return End::Lost;
                }
            }
            Session::Cluster(conn)
        }
    };
    // Pushes that arrived while subscribing (confirmations) are not messages for us; real
    // messages published meanwhile are handled below.
    state.set_up();
    let mut ticker = tokio::time::interval(heartbeat);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = stop.changed() => return End::Stop,
            push = rx.recv() => {
                let Some(push) = push else { return End::Lost };
                match push.kind {
                    PushKind::Message | PushKind::SMessage => {
                        if let Some(Value::BulkString(payload)) = push.data.get(1) {
                            handle(state, payload).await;
                        }
                    }
                    PushKind::Disconnection | PushKind::Unsubscribe | PushKind::SUnsubscribe => {
                        return End::Lost;
                    }
                    _ => {}
                }
            }
            _ = ticker.tick() => {
                if !conn.ping(timeout).await {
                    return End::Lost;
                }
            }
        }
    }
}

enum Session {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Session {
    /// A `PING` over the subscribed connection(s), within `timeout`.
    async fn ping(&self, timeout: Duration) -> bool {
        let fut = async {
            match self {
                Session::Single(c) => redis::cmd("PING")
                    .query_async::<Value>(&mut c.clone())
                    .await
                    .is_ok(),
                Session::Cluster(c) => c
                    .clone()
                    .route_command(
                        redis::cmd("PING"),
                        RoutingInfo::MultiNode((
                            MultipleNodeRoutingInfo::AllMasters,
                            Some(ResponsePolicy::AllSucceeded),
                        )),
                    )
                    .await
                    .is_ok(),
            }
        };
        matches!(tokio::time::timeout(timeout, fut).await, Ok(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_round_trip_and_skip_their_sender() {
        let me = State::new(1, Some(10), true);
        let tag = NameTag([7; TAG_LEN]);
        let mut events = me.events();
        handle(&me, &Message::Invalidated(&[tag]).encode(1)).await;
        assert!(events.try_recv().is_err(), "own invalidation is not redone");
        let before = me.generation(&tag);
        handle(&me, &Message::Invalidated(&[tag]).encode(2)).await;
        assert!(me.generation(&tag) > before);
        assert!(matches!(
            events.try_recv().unwrap(),
            crate::FleetEvent::Invalidated { tag: t, .. } if t == tag
        ));
        // Garbage is ignored.
        handle(&me, b"").await;
        handle(&me, b"i").await;
        handle(&me, &[b's', 0, 0, 0, 0, 0, 0, 0, 2, 1]).await;
        assert_eq!(me.stats().messages, 3);
        assert_eq!(channels("p:", true).len(), CLUSTER_CHANNELS);
        assert_eq!(channels("p:", false), vec![b"p:ev".to_vec()]);
    }
}
