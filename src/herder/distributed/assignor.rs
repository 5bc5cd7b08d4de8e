//! The leader's incremental cooperative assignment (KIP-415, Kafka Connect's
//! `IncrementalCooperativeAssignor`), as a pure function of the members' current work and the
//! configured work, so it is tested without a broker.
//!
//! Work a member keeps is never revoked unless it is deleted, duplicated, or moved to balance
//! the load; moved work is revoked in one round and assigned in the next, after its old owner
//! has stopped it. Work of a departed member is held for `scheduled.rebalance.max.delay.ms`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::protocol::Work;
use crate::plugin::TaskId;

/// What the leader remembers between rounds.
#[derive(Debug, Default)]
pub struct AssignorState {
    /// Each member's work after the previous round.
    previous: BTreeMap<String, Work>,
    /// Work of departed members, held until the deadline.
    lost: Option<(Instant, Work)>,
}

impl AssignorState {
    /// What this leader gave `member` in the previous round.
    pub fn previous(&self, member: &str) -> Option<&Work> {
        self.previous.get(member)
    }
}

/// The result for one member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberAssignment {
    pub assigned: Work,
    pub revoked: Work,
}

/// The result of one round.
#[derive(Debug, Default)]
pub struct RoundResult {
    pub members: BTreeMap<String, MemberAssignment>,
    /// Non-zero while lost work is held back: members rejoin after this long.
    pub delay: Duration,
}

/// Computes one round. `reported` holds every present member's own account of its current
/// work (from its JoinGroup metadata), keyed by member id; `inferred` what else the leader
/// believes a member runs (what it gave the member last round, when the member's metadata
/// may predate it); `configured` is every connector and task that should run.
///
/// Reported work is kept first; inferred work only where no member reports it, and it is
/// never revoked (the member may not run it).
pub fn assign(
    state: &mut AssignorState,
    reported: &BTreeMap<String, Work>,
    inferred: &BTreeMap<String, Work>,
    configured: &Work,
    max_delay: Duration,
    now: Instant,
) -> RoundResult {
    let owned = reported;
    let mut result = RoundResult::default();
    let mut taken = Work::default();
    // Keep what is configured and not already kept by a member earlier in id order.
    for (member, work) in owned {
        let keep = work.intersect(configured).minus(&taken);
        taken = taken.union(&keep);
        result.members.insert(
            member.clone(),
            MemberAssignment {
                revoked: work.minus(&keep),
                assigned: keep,
            },
        );
    }
    for (member, work) in inferred {
        if let Some(a) = result.members.get_mut(member) {
            let keep = work.intersect(configured).minus(&taken);
            taken = taken.union(&keep);
            a.assigned = a.assigned.union(&keep);
        }
    }
    let mut unassigned = configured.minus(&taken);

    // Work that a departed member ran: hold it for a while, it may come back.
    let departed: Work = state
        .previous
        .iter()
        .filter(|(m, _)| !owned.contains_key(*m))
        .fold(Work::default(), |acc, (_, w)| acc.union(w));
    let held_before = state
        .lost
        .as_ref()
        .map(|(_, w)| w.clone())
        .unwrap_or_default();
    let lost = departed.union(&held_before).intersect(&unassigned);
    if !lost.is_empty() && !max_delay.is_zero() {
        let deadline = match &state.lost {
            Some((deadline, _)) => *deadline,
            None => now + max_delay,
        };
        if now < deadline {
            state.lost = Some((deadline, lost.clone()));
            unassigned = unassigned.minus(&lost);
            result.delay = deadline - now;
        } else {
            state.lost = None;
        }
    } else {
        state.lost = None;
    }

    place_new_work(&mut result.members, &unassigned);
    if result.delay.is_zero() {
        balance(&mut result.members);
    }
    state.previous = result
        .members
        .iter()
        .map(|(m, a)| (m.clone(), a.assigned.clone()))
        .collect();
    result
}

/// Gives each unassigned connector and task to the member with the fewest of that kind.
fn place_new_work(members: &mut BTreeMap<String, MemberAssignment>, unassigned: &Work) {
    if members.is_empty() {
        return;
    }
    for connector in &unassigned.connectors {
        let target = least_loaded(members, |w| w.connectors.len());
        members
            .get_mut(&target)
            .expect("member exists")
            .assigned
            .connectors
            .insert(connector.clone());
    }
    for task in &unassigned.tasks {
        let target = least_loaded(members, |w| w.tasks.len());
        members
            .get_mut(&target)
            .expect("member exists")
            .assigned
            .tasks
            .insert(task.clone());
    }
}

fn least_loaded(
    members: &BTreeMap<String, MemberAssignment>,
    load: impl Fn(&Work) -> usize,
) -> String {
    members
        .iter()
        .min_by_key(|(id, a)| (load(&a.assigned), (*id).clone()))
        .map(|(id, _)| id.clone())
        .expect("at least one member")
}

/// Revokes work from the most loaded members until every member could reach
/// `floor(total / members)` in the next round.
fn balance(members: &mut BTreeMap<String, MemberAssignment>) {
    balance_kind(
        members,
        |w| w.connectors.len(),
        |a| {
            let last = a.assigned.connectors.iter().next_back().cloned();
            if let Some(c) = last {
                a.assigned.connectors.remove(&c);
                a.revoked.connectors.insert(c);
            }
        },
    );
    balance_kind(
        members,
        |w| w.tasks.len(),
        |a| {
            let last: Option<TaskId> = a.assigned.tasks.iter().next_back().cloned();
            if let Some(t) = last {
                a.assigned.tasks.remove(&t);
                a.revoked.tasks.insert(t);
            }
        },
    );
}

fn balance_kind(
    members: &mut BTreeMap<String, MemberAssignment>,
    load: impl Fn(&Work) -> usize,
    revoke_one: impl Fn(&mut MemberAssignment),
) {
    let n = members.len();
    if n < 2 {
        return;
    }
    let total: usize = members.values().map(|a| load(&a.assigned)).sum();
    let floor = total / n;
    let ceil = total.div_ceil(n);
    let mut deficit: usize = members
        .values()
        .map(|a| floor.saturating_sub(load(&a.assigned)))
        .sum();
    // First from members above the ceiling, then from those above the floor.
    for limit in [ceil, floor] {
        let ids: Vec<String> = members.keys().cloned().collect();
        for id in ids {
            while deficit > 0 {
                let a = members.get_mut(&id).expect("member exists");
                if load(&a.assigned) <= limit {
                    break;
                }
                revoke_one(a);
                deficit -= 1;
            }
        }
    }
}

/// Every connector and task in `task_counts` (connector name to its committed task count).
pub fn configured_work(task_counts: &BTreeMap<String, usize>) -> Work {
    Work {
        connectors: task_counts.keys().cloned().collect::<BTreeSet<_>>(),
        tasks: task_counts
            .iter()
            .flat_map(|(c, n)| (0..*n as i32).map(move |t| TaskId::new(c.clone(), t)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(tasks: usize) -> Work {
        configured_work(&BTreeMap::from([("c".to_string(), tasks)]))
    }

    /// Runs rounds the way members behave (drop revoked work, rejoin) until nothing moves.
    fn settle(
        state: &mut AssignorState,
        owned: &mut BTreeMap<String, Work>,
        configured: &Work,
    ) -> usize {
        let mut rounds = 0;
        loop {
            rounds += 1;
            let r = assign(
                state,
                owned,
                &BTreeMap::new(),
                configured,
                Duration::ZERO,
                Instant::now(),
            );
            let revoked_any = r.members.values().any(|a| !a.revoked.is_empty());
            for (m, a) in r.members {
                owned.insert(m, a.assigned);
            }
            if !revoked_any || rounds > 5 {
                return rounds;
            }
        }
    }

    fn task_counts(owned: &BTreeMap<String, Work>) -> Vec<usize> {
        owned.values().map(|w| w.tasks.len()).collect()
    }

    #[test]
    fn spreads_tasks_and_moves_only_what_balance_needs() {
        let cfg = configured(6);
        let mut state = AssignorState::default();
        let mut owned: BTreeMap<String, Work> = ["a", "b", "c"]
            .iter()
            .map(|m| (m.to_string(), Work::default()))
            .collect();
        settle(&mut state, &mut owned, &cfg);
        assert_eq!(task_counts(&owned), vec![2, 2, 2]);
        let all: Work = owned.values().fold(Work::default(), |a, w| a.union(w));
        assert_eq!(all, cfg);

        let before = owned.clone();
        owned.insert("d".into(), Work::default());
        let rounds = settle(&mut state, &mut owned, &cfg);
        assert_eq!(rounds, 2, "revoke in one round, assign in the next");
        let mut counts = task_counts(&owned);
        counts.sort();
        assert_eq!(counts, vec![1, 1, 2, 2]);
        // Tasks that stayed never left their worker.
        let moved: usize = ["a", "b", "c"]
            .iter()
            .map(|m| before[*m].tasks.difference(&owned[*m].tasks).count())
            .sum();
        assert_eq!(moved, 1, "only the task the new worker needs moves");
        for m in ["a", "b", "c"] {
            assert!(owned[m].tasks.is_subset(&before[m].tasks));
        }
    }

    #[test]
    fn lost_work_moves_at_once_without_delay() {
        let cfg = configured(6);
        let mut state = AssignorState::default();
        let mut owned: BTreeMap<String, Work> = ["a", "b", "c"]
            .iter()
            .map(|m| (m.to_string(), Work::default()))
            .collect();
        settle(&mut state, &mut owned, &cfg);
        let kept_a = owned["a"].clone();
        owned.remove("c");
        let r = assign(
            &mut state,
            &owned,
            &BTreeMap::new(),
            &cfg,
            Duration::ZERO,
            Instant::now(),
        );
        assert!(r.members.values().all(|a| a.revoked.is_empty()));
        assert!(r.members["a"].assigned.contains_all(&kept_a));
        let all = r
            .members
            .values()
            .fold(Work::default(), |acc, a| acc.union(&a.assigned));
        assert_eq!(all, cfg);
    }

    #[test]
    fn lost_work_waits_for_the_delay() {
        let cfg = configured(4);
        let mut state = AssignorState::default();
        let mut owned: BTreeMap<String, Work> = ["a", "b"]
            .iter()
            .map(|m| (m.to_string(), Work::default()))
            .collect();
        settle(&mut state, &mut owned, &cfg);
        let b_work = owned.remove("b").unwrap();
        let t0 = Instant::now();
        let delay = Duration::from_secs(10);
        let r = assign(&mut state, &owned, &BTreeMap::new(), &cfg, delay, t0);
        assert_eq!(r.delay, delay);
        assert!(r.members["a"].assigned.intersect(&b_work).is_empty());
        let r = assign(
            &mut state,
            &owned,
            &BTreeMap::new(),
            &cfg,
            delay,
            t0 + Duration::from_secs(4),
        );
        assert_eq!(r.delay, Duration::from_secs(6));
        let r = assign(
            &mut state,
            &owned,
            &BTreeMap::new(),
            &cfg,
            delay,
            t0 + Duration::from_secs(11),
        );
        assert_eq!(r.delay, Duration::ZERO);
        assert!(r.members["a"].assigned.contains_all(&b_work));
    }

    #[test]
    fn inferred_work_fills_gaps_but_never_overrides_reports() {
        let mut state = AssignorState::default();
        let (t0, t1) = (TaskId::new("c", 0), TaskId::new("c", 1));
        let reported = BTreeMap::from([
            (
                "a".to_string(),
                Work {
                    connectors: ["c".to_string()].into(),
                    tasks: [t0.clone()].into(),
                },
            ),
            ("b".to_string(), Work::default()),
        ]);
        // The leader believes b got both tasks last round; a says it runs t0.
        let inferred = BTreeMap::from([(
            "b".to_string(),
            Work {
                connectors: BTreeSet::new(),
                tasks: [t0.clone(), t1.clone()].into(),
            },
        )]);
        let r = assign(
            &mut state,
            &reported,
            &inferred,
            &configured(2),
            Duration::ZERO,
            Instant::now(),
        );
        assert_eq!(r.members["a"].assigned.tasks, [t0].into());
        assert_eq!(r.members["b"].assigned.tasks, [t1].into());
        assert!(r.members.values().all(|m| m.revoked.is_empty()));
    }

    #[test]
    fn deleted_and_duplicated_work_is_revoked() {
        let mut state = AssignorState::default();
        let t0 = TaskId::new("c", 0);
        let gone = TaskId::new("gone", 0);
        let owned = BTreeMap::from([
            (
                "a".to_string(),
                Work {
                    connectors: ["c".to_string()].into(),
                    tasks: [t0.clone(), gone.clone()].into(),
                },
            ),
            (
                "b".to_string(),
                Work {
                    connectors: BTreeSet::new(),
                    tasks: [t0.clone()].into(),
                },
            ),
        ]);
        let r = assign(
            &mut state,
            &owned,
            &BTreeMap::new(),
            &configured(1),
            Duration::ZERO,
            Instant::now(),
        );
        assert_eq!(r.members["a"].revoked.tasks, [gone].into());
        assert_eq!(r.members["b"].revoked.tasks, [t0.clone()].into());
        assert!(r.members["a"].assigned.tasks.contains(&t0));
    }
}
