//! The leader's part of a rebalance: which member runs which connectors and tasks (the
//! incremental cooperative assignor is in `assignor`; this gathers what it decides from).

use std::collections::BTreeMap;
use std::time::Instant;

use super::DistributedHerder;
use crate::herder::distributed::assignor::{self, AssignorState};
use crate::herder::distributed::forward;
use crate::herder::distributed::protocol::{
    self, Assignment, InternalTopicNames, MemberMetadata, Work,
};
use crate::kafka::group::JoinedGroup;
use crate::runtime::State;

impl DistributedHerder {
    /// The leader's part of a rebalance: one assignment per member.
    pub(super) async fn lead(
        &self,
        joined: &JoinedGroup,
        state: &mut AssignorState,
    ) -> Vec<(String, bytes::Bytes)> {
        let mut members: Vec<(String, MemberMetadata)> = Vec::new();
        for (id, bytes) in &joined.members {
            match protocol::decode::<MemberMetadata>(bytes, "metadata") {
                Ok(m) => members.push((id.clone(), m)),
                Err(e) => {
                    tracing::error!(member = %id, error = %e, "ignoring a member with unreadable metadata")
                }
            }
        }
        let (accepted, refused) = split_by_topics(&members);
        *self.members.lock() = accepted.iter().map(|(_, m)| m.url.clone()).collect();
        let max_offset = accepted
            .iter()
            .map(|(_, m)| m.config_offset)
            .max()
            .unwrap_or(0);
        if !self
            .configs
            .wait_for_offset(max_offset, self.settings.worker_sync_timeout)
            .await
        {
            tracing::warn!(
                offset = max_offset,
                "leader is behind the config topic; assigning with what it has read"
            );
        }
        let snapshot = self.configs.snapshot();
        let configured = assignor::configured_work(&snapshot.task_counts());
        let reported: BTreeMap<String, Work> = accepted
            .iter()
            .map(|(id, m)| (id.clone(), m.owned.clone()))
            .collect();
        // A member's metadata can be older than what this leader last gave it (tansu hands
        // the leader the members' previous JoinGroup metadata before they rejoin).
        // And the status topic says where tasks run.
        let mut inferred: BTreeMap<String, Work> = accepted
            .iter()
            .filter_map(|(id, _)| state.previous(id).map(|w| (id.clone(), w.clone())))
            .collect();
        let members_by_worker: BTreeMap<&str, &String> = accepted
            .iter()
            .map(|(id, m)| (forward::worker_id_of(&m.url), id))
            .collect();
        for task in &configured.tasks {
            let Some(status) = self.statuses.memory().task(task) else {
                continue;
            };
            let active = matches!(
                status.state,
                State::Running | State::Paused | State::Failed | State::Restarting
            );
            if let (true, Some(member)) = (active, members_by_worker.get(status.worker_id.as_str()))
            {
                inferred
                    .entry((*member).clone())
                    .or_default()
                    .tasks
                    .insert(task.clone());
            }
        }
        let round = assignor::assign(
            state,
            &reported,
            &inferred,
            &configured,
            self.settings.scheduled_rebalance_max_delay,
            Instant::now(),
        );
        tracing::debug!(
            generation = joined.generation,
            members = reported.len(),
            configured = %configured,
            delay_ms = round.delay.as_millis() as u64,
            "leader computed the assignment"
        );
        let mut out = Vec::new();
        for (id, a) in round.members {
            out.push((
                id,
                protocol::encode(&Assignment {
                    error: None,
                    leader: joined.member_id.clone(),
                    leader_url: self.url.clone(),
                    config_offset: snapshot.offset,
                    assigned: a.assigned,
                    revoked: a.revoked,
                    delay_ms: round.delay.as_millis() as u64,
                }),
            ));
        }
        for (id, m, expected) in refused {
            out.push((
                id,
                protocol::encode(&Assignment {
                    error: Some(format!(
                        "this worker's internal topics ({}) differ from the rest of group {} ({expected}); \
                         every worker of a Connect cluster must use the same config, offset and status topics",
                        m.topics, self.settings.group_id
                    )),
                    leader: joined.member_id.clone(),
                    leader_url: self.url.clone(),
                    ..Default::default()
                }),
            ));
        }
        out
    }
}

/// Splits members into those using the group's internal topics and those that do not. The
/// topics most members use win; on a tie, those of the members running the most work, then
/// those of the oldest worker (a newcomer with other topics does not evict the cluster).
#[allow(clippy::type_complexity)]
fn split_by_topics(
    members: &[(String, MemberMetadata)],
) -> (
    Vec<(String, MemberMetadata)>,
    Vec<(String, MemberMetadata, InternalTopicNames)>,
) {
    let mut votes: BTreeMap<&InternalTopicNames, (usize, usize, i64)> = BTreeMap::new();
    for (_, m) in members {
        let v = votes.entry(&m.topics).or_insert((0, 0, i64::MIN));
        v.0 += 1;
        v.1 += m.owned.len();
        // Negated, so that the earliest start is the largest.
        v.2 = v.2.max(-m.started_ms);
    }
    let Some(winner) = votes
        .iter()
        .max_by_key(|(_, v)| **v)
        .map(|(t, _)| (*t).clone())
    else {
        return (Vec::new(), Vec::new());
    };
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for (id, m) in members {
        if m.topics == winner {
            accepted.push((id.clone(), m.clone()));
        } else {
            refused.push((id.clone(), m.clone(), winner.clone()));
        }
    }
    (accepted, refused)
}
