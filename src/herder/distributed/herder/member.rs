//! This worker as a member of the group (Kafka Connect's `WorkerGroupMember`): joining, the
//! watchdog that stops the work of a member that cannot rejoin in time, syncing (with the
//! leader's part when elected), the workarounds for brokers that keep naming a dead leader,
//! and heartbeats until the next rebalance. What the group assigns is handed to the event loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::{DistributedHerder, Event, GroupView};
use crate::herder::distributed::assignor::AssignorState;
use crate::herder::distributed::protocol::{self, Assignment, MemberMetadata, PROTOCOL_NAME};
use crate::kafka::group::{GroupMember, GroupSettings, HeartbeatOutcome, JoinedGroup};

/// Members are named after their client id, which names the worker.
pub(super) const CLIENT_ID_PREFIX: &str = "conveyor-";

/// What became of an assignment.
enum Accepted {
    Applied,
    Unreadable,
    Fatal,
}

/// How a stable generation ended.
enum Heartbeats {
    /// A rebalance is due: rejoin.
    Rejoin,
    /// The member must stop (leave requested, or a fatal assignment).
    Stop,
}

/// Counts the failed SyncGroup rounds under one leader, to notice a broker that keeps naming
/// a dead worker as the leader.
#[derive(Default)]
struct DeadLeaderWatch {
    leader: String,
    failed_syncs: u32,
}

impl DeadLeaderWatch {
    /// Called when SyncGroup asked a follower to rejoin. On the second failure in a row under
    /// the same leader, and when that leader's worker is gone, revives its session so that it
    /// expires and a new leader is elected.
    async fn sync_failed(&mut self, member: &mut GroupMember, joined: &JoinedGroup) {
        self.failed_syncs = if self.leader == joined.leader_id {
            self.failed_syncs + 1
        } else {
            1
        };
        self.leader = joined.leader_id.clone();
        if self.failed_syncs == 2 && leader_is_gone(&joined.leader_id).await {
            tracing::warn!(
                leader = %joined.leader_id,
                "the broker keeps naming a dead worker as the group's leader; reviving its session so that it expires and a new leader is elected"
            );
            if let Err(e) = member
                .revive_expired_member(&joined.leader_id, PROTOCOL_NAME)
                .await
            {
                tracing::warn!(error = %e, "could not revive the dead leader's session");
            }
        }
    }

    fn synced(&mut self) {
        self.failed_syncs = 0;
    }
}

impl DistributedHerder {
    fn metadata(&self) -> MemberMetadata {
        MemberMetadata {
            version: 1,
            url: self.url.clone(),
            config_offset: self.configs.with(|s| s.offset),
            owned: self.owned.lock().clone(),
            topics: self.topics.clone(),
            started_ms: self.started_ms,
        }
    }

    fn set_unstable(&self) {
        self.group.write().stable = false;
    }

    /// Joins the group, assigns when leader, and heartbeats until the next rebalance.
    pub(super) async fn membership(
        herder: Arc<DistributedHerder>,
        settings: GroupSettings,
        events: mpsc::UnboundedSender<Event>,
    ) {
        let mut member = GroupMember::new(settings);
        let mut assignor_state = AssignorState::default();
        let mut dead_leader = DeadLeaderWatch::default();
        // When the coordinator last showed it still knew this member.
        let alive = Arc::new(Mutex::new(Instant::now()));
        loop {
            if herder.leave.is_cancelled() {
                break;
            }
            herder.set_unstable();
            let keep_alive = member.keep_alive(herder.settings.heartbeat_interval, alive.clone());
            let Some(joined) = herder.join_watched(&mut member, &alive, &events).await else {
                break;
            };
            let joined = match joined {
                Ok(j) => j,
                Err(e) => {
                    let _ = events.send(Event::Fatal(format!(
                        "cannot join group {}: {e}",
                        herder.settings.group_id
                    )));
                    return;
                }
            };
            let assignments = if joined.is_leader() {
                herder.lead(&joined, &mut assignor_state).await
            } else {
                Vec::new()
            };
            let Ok(Some(bytes)) = member.sync(assignments).await else {
                tracing::debug!(generation = joined.generation, leader = %joined.leader_id, "SyncGroup asked for a rejoin");
                if !joined.is_leader() {
                    dead_leader.sync_failed(&mut member, &joined).await;
                }
                continue;
            };
            dead_leader.synced();
            match herder.accept(&bytes, &joined, &events) {
                Accepted::Applied => *alive.lock() = Instant::now(),
                Accepted::Unreadable => continue,
                Accepted::Fatal => {
                    member.leave().await;
                    return;
                }
            }
            drop(keep_alive);
            match herder
                .heartbeat_until_rebalance(&mut member, &joined, bytes, &alive, &events)
                .await
            {
                Heartbeats::Rejoin => {}
                Heartbeats::Stop => {
                    member.leave().await;
                    return;
                }
            }
        }
        member.leave().await;
    }

    /// JoinGroup, watched: a member that cannot rejoin within its session has been dropped
    /// from the group and its work given to others, so its work is stopped here (`Event::Lost`)
    /// rather than run twice. `None` when asked to leave meanwhile.
    async fn join_watched(
        &self,
        member: &mut GroupMember,
        alive: &Mutex<Instant>,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Option<crate::errors::Result<JoinedGroup>> {
        let metadata = protocol::encode(&self.metadata());
        let join = member.join(PROTOCOL_NAME, metadata);
        tokio::pin!(join);
        let mut lost_sent = false;
        loop {
            tokio::select! {
                j = &mut join => return Some(j),
                _ = tokio::time::sleep(Duration::from_millis(200)), if !lost_sent => {
                    if alive.lock().elapsed() < self.settings.session_timeout {
                        continue;
                    }
                    lost_sent = true;
                    tracing::warn!("could not rejoin the group within session.timeout.ms; stopping this worker's connectors and tasks");
                    let _ = events.send(Event::Lost);
                }
                _ = self.leave.cancelled() => return None,
            }
        }
    }

    /// Heartbeats through a stable generation whose assignment was `current`, picking up
    /// newer assignments of the same generation, until a rebalance or a stop.
    async fn heartbeat_until_rebalance(
        &self,
        member: &mut GroupMember,
        joined: &JoinedGroup,
        mut current: bytes::Bytes,
        alive: &Mutex<Instant>,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Heartbeats {
        // Heartbeat at once: tansu only counts heartbeats as signs of life, and a worker
        // that rebalances several times in a row would otherwise look dead.
        let mut last_ok = Instant::now();
        let mut wait = Duration::ZERO;
        loop {
            tokio::select! {
                biased;
                _ = tokio::time::sleep(wait) => {
                    wait = self.settings.heartbeat_interval;
                    let stable = member.still_stable().await;
                    match member.heartbeat().await {
                        Ok(HeartbeatOutcome::Stable) => {
                            last_ok = Instant::now();
                            *alive.lock() = last_ok;
                        }
                        Ok(HeartbeatOutcome::Rejoin) => {
                            tracing::debug!("the group is rebalancing");
                            return Heartbeats::Rejoin;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "heartbeat failed");
                            if last_ok.elapsed() > self.settings.session_timeout {
                                member.reset_member();
                                return Heartbeats::Rejoin;
                            }
                        }
                    }
                    if !stable {
                        tracing::debug!("the group is no longer stable");
                        return Heartbeats::Rejoin;
                    }
                    // The same generation can carry a newer assignment (tansu re-forms a
                    // group after a member expires without a new generation): fetch ours.
                    match member.sync(Vec::new()).await {
                        Ok(Some(bytes)) if bytes.is_empty() => return Heartbeats::Rejoin,
                        Ok(Some(bytes)) if bytes != current => {
                            match self.accept(&bytes, joined, events) {
                                Accepted::Applied => current = bytes,
                                Accepted::Unreadable => return Heartbeats::Rejoin,
                                Accepted::Fatal => return Heartbeats::Stop,
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => return Heartbeats::Rejoin,
                    }
                }
                _ = self.rejoin.notified() => {
                    tracing::debug!("rejoining the group on request");
                    return Heartbeats::Rejoin;
                }
                _ = self.leave.cancelled() => return Heartbeats::Stop,
            }
        }
    }

    /// Hands a SyncGroup assignment to the event loop.
    fn accept(
        &self,
        bytes: &[u8],
        joined: &JoinedGroup,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Accepted {
        let assignment: Assignment = match protocol::decode(bytes, "assignment") {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable assignment; rejoining");
                return Accepted::Unreadable;
            }
        };
        if let Some(error) = &assignment.error {
            let _ = events.send(Event::Fatal(error.clone()));
            return Accepted::Fatal;
        }
        {
            let mut owned = self.owned.lock();
            *owned = owned.union(&assignment.assigned);
        }
        *self.group.write() = GroupView {
            stable: true,
            member_id: joined.member_id.clone(),
            leader_id: assignment.leader.clone(),
            leader_url: assignment.leader_url.clone(),
        };
        self.group_changed.notify_waiters();
        let _ = events.send(Event::Assigned {
            assignment,
            generation: joined.generation,
        });
        Accepted::Applied
    }
}

/// Whether a leader that did not assign is dead: its REST port (from its member id, which
/// starts with its client id `conveyor-<host:port>`) refuses connections.
async fn leader_is_gone(leader_id: &str) -> bool {
    let Some(address) = worker_address_of(leader_id) else {
        return false;
    };
    matches!(
        tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(address.as_str())
        )
        .await,
        Ok(Err(_))
    )
}

/// `host:port` from a member id `conveyor-<host:port>-<uuid>`.
fn worker_address_of(member_id: &str) -> Option<String> {
    let rest = member_id.strip_prefix(CLIENT_ID_PREFIX)?;
    // `-` and a 36-character UUID.
    let cut = rest.len().checked_sub(37)?;
    let (address, uuid) = (rest.get(..cut)?, rest.get(cut..)?);
    (uuid.starts_with('-') && address.contains(':')).then(|| address.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_address_from_member_id() {
        assert_eq!(
            worker_address_of("conveyor-127.0.0.1:18081-eab13749-716a-46e2-9356-3b53542bf65d")
                .as_deref(),
            Some("127.0.0.1:18081")
        );
        assert_eq!(
            worker_address_of("conveyor-my-host:8083-eab13749-716a-46e2-9356-3b53542bf65d")
                .as_deref(),
            Some("my-host:8083")
        );
        assert_eq!(worker_address_of("consumer-1-abc"), None);
    }
}
