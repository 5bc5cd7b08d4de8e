//! Membership of a Kafka group with a custom protocol type (Kafka Connect's `connect`):
//! FindCoordinator, JoinGroup, SyncGroup, Heartbeat and LeaveGroup. What the members' metadata
//! and assignments mean is up to the caller.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::describe_groups_request::DescribeGroupsRequest;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_protocol::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use kafka_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafka_protocol::messages::GroupId;
use kafka_protocol::protocol::StrBytes;

use super::connection::BrokerConnection;
use crate::errors::{ConnectError, Result};
use crate::kafka::security::KafkaSecurity;

// Kafka error codes this client acts on.
const NONE: i16 = 0;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const ILLEGAL_GENERATION: i16 = 22;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;

// Versions every Kafka since 0.10.1 (and tansu) speaks.
const DESCRIBE_GROUPS_VERSION: i16 = 0;
const FIND_COORDINATOR_VERSION: i16 = 1;
const JOIN_GROUP_VERSION: i16 = 1;
const SYNC_GROUP_VERSION: i16 = 1;
const HEARTBEAT_VERSION: i16 = 1;
const LEAVE_GROUP_VERSION: i16 = 1;
// The first version that names the members to remove (KIP-345).
const LEAVE_GROUP_MEMBERS_VERSION: i16 = 3;

/// How a member joins its group.
#[derive(Clone, Debug)]
pub struct GroupSettings {
    /// `host:port` of the bootstrap brokers.
    pub bootstrap: Vec<String>,
    pub group_id: String,
    pub protocol_type: String,
    pub client_id: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub request_timeout: Duration,
    /// TLS and SASL for the connections to the brokers.
    pub security: KafkaSecurity,
}

/// A completed JoinGroup.
#[derive(Clone, Debug)]
pub struct JoinedGroup {
    pub generation: i32,
    pub member_id: String,
    pub leader_id: String,
    pub protocol: String,
    /// Every member and its metadata; only the leader gets these.
    pub members: Vec<(String, Bytes)>,
}

impl JoinedGroup {
    pub fn is_leader(&self) -> bool {
        self.leader_id == self.member_id
    }
}

/// What a heartbeat found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    Stable,
    /// The group is rebalancing (or forgot us): join again.
    Rejoin,
}

/// Whether an error code means "find the coordinator again".
fn coordinator_moved(code: i16) -> bool {
    matches!(
        code,
        COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR
    )
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// One member of a group.
pub struct GroupMember {
    settings: GroupSettings,
    connection: Option<BrokerConnection>,
    /// The last coordinator found, kept when the connection is dropped.
    coordinator_address: Option<String>,
    member_id: String,
    generation: i32,
}

impl GroupMember {
    pub fn new(settings: GroupSettings) -> Self {
        GroupMember {
            settings,
            connection: None,
            coordinator_address: None,
            member_id: String::new(),
            generation: -1,
        }
    }

    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// A connection to the group coordinator, found through any bootstrap broker.
    async fn coordinator(&mut self) -> Result<&mut BrokerConnection> {
        if self.connection.is_none() {
            let mut last_error = None;
            for address in &self.settings.bootstrap {
                match self.find_coordinator(address).await {
                    Ok(conn) => {
                        self.coordinator_address = Some(conn.address().to_string());
                        self.connection = Some(conn);
                        break;
                    }
                    Err(e) => last_error = Some(e),
                }
            }
            if self.connection.is_none() {
                return Err(last_error
                    .unwrap_or_else(|| ConnectError::Config("bootstrap.servers is empty".into())));
            }
        }
        Ok(self.connection.as_mut().expect("connection set above"))
    }

    async fn find_coordinator(&self, bootstrap: &str) -> Result<BrokerConnection> {
        let s = &self.settings;
        let mut conn =
            BrokerConnection::connect(bootstrap, &s.client_id, s.request_timeout, &s.security)
                .await?;
        let request = FindCoordinatorRequest::default()
            .with_key(str_bytes(&s.group_id))
            .with_key_type(0);
        let response = conn
            .send(&request, FIND_COORDINATOR_VERSION, s.request_timeout)
            .await?;
        if response.error_code != NONE {
            return Err(ConnectError::Retriable(format!(
                "broker {bootstrap} has no coordinator for group {} yet (error {})",
                s.group_id, response.error_code
            )));
        }
        let address = format!("{}:{}", response.host.as_str(), response.port);
        if address == bootstrap {
            return Ok(conn);
        }
        tracing::debug!(coordinator = %address, group = %s.group_id, "found the group coordinator");
        BrokerConnection::connect(&address, &s.client_id, s.request_timeout, &s.security).await
    }

    fn reset_connection(&mut self) {
        self.connection = None;
    }

    /// Drops the member id, so the next join is as a new member.
    pub fn reset_member(&mut self) {
        self.member_id.clear();
        self.generation = -1;
    }

    /// Joins (or rejoins) with `metadata` under `protocol`; returns once the coordinator has
    /// formed the new generation. Retries what is worth retrying.
    pub async fn join(&mut self, protocol: &str, metadata: Bytes) -> Result<JoinedGroup> {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let s = self.settings.clone();
            let request = JoinGroupRequest::default()
                .with_group_id(GroupId(str_bytes(&s.group_id)))
                .with_session_timeout_ms(s.session_timeout.as_millis() as i32)
                .with_rebalance_timeout_ms(s.rebalance_timeout.as_millis() as i32)
                .with_member_id(str_bytes(&self.member_id))
                .with_protocol_type(str_bytes(&s.protocol_type))
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name(str_bytes(protocol))
                    .with_metadata(metadata.clone())]);
            let timeout = s.rebalance_timeout + s.request_timeout;
            let result = match self.coordinator().await {
                Ok(conn) => conn.send(&request, JOIN_GROUP_VERSION, timeout).await,
                Err(e) => Err(e),
            };
            let response = match result {
                Ok(r) => r,
                Err(e) => {
                    self.reset_connection();
                    if attempts % 10 == 1 {
                        tracing::warn!(group = %s.group_id, error = %e, "cannot join the group yet; retrying");
                    }
                    tokio::time::sleep(backoff(attempts)).await;
                    continue;
                }
            };
            match response.error_code {
                NONE => {
                    tracing::debug!(
                        group = %s.group_id,
                        generation = response.generation_id,
                        member = %response.member_id.as_str(),
                        leader = %response.leader.as_str(),
                        members = response.members.len(),
                        "joined the group"
                    );
                    self.member_id = response.member_id.to_string();
                    self.generation = response.generation_id;
                    return Ok(JoinedGroup {
                        generation: response.generation_id,
                        member_id: response.member_id.to_string(),
                        leader_id: response.leader.to_string(),
                        protocol: response
                            .protocol_name
                            .map(|p| p.to_string())
                            .unwrap_or_default(),
                        members: response
                            .members
                            .into_iter()
                            .map(|m| (m.member_id.to_string(), m.metadata))
                            .collect(),
                    });
                }
                MEMBER_ID_REQUIRED => {
                    self.member_id = response.member_id.to_string();
                }
                UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION => self.reset_member(),
                INCONSISTENT_GROUP_PROTOCOL => {
                    return Err(ConnectError::Config(format!(
                        "group {} is used by members with another protocol (type {}, protocol {protocol}); \
                         is a Kafka Connect cluster or a consumer using the same group.id?",
                        s.group_id, s.protocol_type
                    )));
                }
                code if coordinator_moved(code) => {
                    self.reset_connection();
                    tokio::time::sleep(backoff(attempts)).await;
                }
                code => {
                    tracing::warn!(group = %s.group_id, code, "JoinGroup failed; retrying");
                    tokio::time::sleep(backoff(attempts)).await;
                }
            }
        }
    }

    /// Sends this generation's assignments (leader: one per member; others: none) and
    /// returns this member's. `Ok(None)` means the group is rebalancing again: join again.
    pub async fn sync(&mut self, assignments: Vec<(String, Bytes)>) -> Result<Option<Bytes>> {
        let s = self.settings.clone();
        let request = SyncGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&s.group_id)))
            .with_generation_id(self.generation)
            .with_member_id(str_bytes(&self.member_id))
            .with_assignments(
                assignments
                    .into_iter()
                    .map(|(member, assignment)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(str_bytes(&member))
                            .with_assignment(assignment)
                    })
                    .collect(),
            );
        let timeout = s.rebalance_timeout + s.request_timeout;
        let response = match self.coordinator().await {
            Ok(conn) => conn.send(&request, SYNC_GROUP_VERSION, timeout).await,
            Err(e) => Err(e),
        };
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                self.reset_connection();
                tracing::warn!(group = %s.group_id, error = %e, "SyncGroup failed; rejoining");
                return Ok(None);
            }
        };
        match response.error_code {
            NONE => Ok(Some(response.assignment)),
            UNKNOWN_MEMBER_ID => {
                self.reset_member();
                Ok(None)
            }
            code => {
                if coordinator_moved(code) {
                    self.reset_connection();
                }
                tracing::debug!(group = %s.group_id, code, "SyncGroup says rejoin");
                Ok(None)
            }
        }
    }

    /// One heartbeat. Connection problems are reported as errors; the caller keeps trying
    /// until the session would have expired.
    pub async fn heartbeat(&mut self) -> Result<HeartbeatOutcome> {
        let s = self.settings.clone();
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(&s.group_id)))
            .with_generation_id(self.generation)
            .with_member_id(str_bytes(&self.member_id));
        let conn = self.coordinator().await?;
        let response = match conn
            .send(&request, HEARTBEAT_VERSION, s.request_timeout)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.reset_connection();
                return Err(e);
            }
        };
        match response.error_code {
            NONE => Ok(HeartbeatOutcome::Stable),
            REBALANCE_IN_PROGRESS => Ok(HeartbeatOutcome::Rejoin),
            UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION => {
                if response.error_code == UNKNOWN_MEMBER_ID {
                    self.reset_member();
                }
                Ok(HeartbeatOutcome::Rejoin)
            }
            code if coordinator_moved(code) => {
                self.reset_connection();
                Ok(HeartbeatOutcome::Rejoin)
            }
            code => Err(ConnectError::Kafka(format!(
                "heartbeat to group {} failed with error {code}",
                s.group_id
            ))),
        }
    }

    /// Leaves the group so the others rebalance now rather than after the session timeout.
    pub async fn leave(&mut self) {
        if self.member_id.is_empty() {
            return;
        }
        let s = self.settings.clone();
        let request = LeaveGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&s.group_id)))
            .with_member_id(str_bytes(&self.member_id));
        if let Ok(conn) = self.coordinator().await {
            if let Err(e) = conn
                .send(&request, LEAVE_GROUP_VERSION, s.request_timeout)
                .await
            {
                tracing::debug!(error = %e, "LeaveGroup failed");
            }
        }
        self.reset_member();
    }
}

/// A member id no client ever gets; see [`GroupMember::probe`].
const PROBE_MEMBER_ID: &str = "conveyor-liveness-probe";

impl GroupMember {
    /// Whether the group is still stable, asked in a way that also makes the coordinator
    /// expire members whose session ended (before this member's heartbeat would).
    ///
    /// Why: tansu (the broker the tests run on) drops an expired member during a heartbeat
    /// without electing a new leader, then waits forever for the dead leader's SyncGroup, and
    /// its heartbeats do not report the rebalance. Its other request paths expire members
    /// properly. Kafka answers the LeaveGroup for an unknown member with UNKNOWN_MEMBER_ID
    /// and nothing else happens; its heartbeats report rebalances anyway.
    pub async fn still_stable(&mut self) -> bool {
        self.probe().await;
        let s = self.settings.clone();
        let request =
            DescribeGroupsRequest::default().with_groups(vec![GroupId(str_bytes(&s.group_id))]);
        let Ok(conn) = self.coordinator().await else {
            return true;
        };
        match conn
            .send(&request, DESCRIBE_GROUPS_VERSION, s.request_timeout)
            .await
        {
            Ok(r) => r
                .groups
                .first()
                .map(|g| g.error_code != NONE || g.group_state.as_str() == "Stable")
                .unwrap_or(true),
            Err(_) => {
                self.reset_connection();
                true
            }
        }
    }

    async fn probe(&mut self) {
        let s = self.settings.clone();
        let request = LeaveGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&s.group_id)))
            .with_members(vec![
                MemberIdentity::default().with_member_id(str_bytes(PROBE_MEMBER_ID))
            ]);
        if let Ok(conn) = self.coordinator().await {
            if conn
                .send(&request, LEAVE_GROUP_MEMBERS_VERSION, s.request_timeout)
                .await
                .is_err()
            {
                self.reset_connection();
            }
        }
    }

    /// Joins once, on a connection of its own, under another member's id and then lets that
    /// session expire. Used when the coordinator keeps naming a dead member as the leader
    /// (see [`GroupMember::probe`]): when the revived session expires, the coordinator
    /// elects a new leader.
    pub async fn revive_expired_member(&mut self, member_id: &str, protocol: &str) -> Result<()> {
        let s = self.settings.clone();
        let address = match self.coordinator().await {
            Ok(conn) => conn.address().to_string(),
            Err(e) => return Err(e),
        };
        let mut conn =
            BrokerConnection::connect(&address, &s.client_id, s.request_timeout, &s.security)
                .await?;
        let request = JoinGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&s.group_id)))
            .with_session_timeout_ms(s.session_timeout.as_millis() as i32)
            .with_rebalance_timeout_ms(s.rebalance_timeout.as_millis() as i32)
            .with_member_id(str_bytes(member_id))
            .with_protocol_type(str_bytes(&s.protocol_type))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(str_bytes(protocol))
                .with_metadata(Bytes::new())]);
        conn.send(&request, JOIN_GROUP_VERSION, s.request_timeout)
            .await
            .map(|_| ())
    }
}

/// Heartbeats on a connection of its own while the member is busy joining; stops on drop.
pub struct KeepAlive {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GroupMember {
    /// Starts heartbeating in the background until the returned guard is dropped. tansu only
    /// counts heartbeats as signs of life, so a member that spends longer than its session
    /// in JoinGroup/SyncGroup rounds would be dropped. Each answer that still knows this member
    /// (anything but UNKNOWN_MEMBER_ID) is reported through `alive`.
    pub fn keep_alive(
        &self,
        interval: Duration,
        alive: std::sync::Arc<parking_lot::Mutex<std::time::Instant>>,
    ) -> Option<KeepAlive> {
        // Also after the main connection was dropped (a failed request): that is when a
        // member is most at risk of looking dead.
        let address = self.coordinator_address.clone()?;
        if self.member_id.is_empty() {
            return None;
        }
        let s = self.settings.clone();
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(&s.group_id)))
            .with_generation_id(self.generation)
            .with_member_id(str_bytes(&self.member_id));
        let task = tokio::spawn(async move {
            let mut conn: Option<BrokerConnection> = None;
            loop {
                tokio::time::sleep(interval).await;
                if conn.is_none() {
                    conn = BrokerConnection::connect(
                        &address,
                        &s.client_id,
                        s.request_timeout,
                        &s.security,
                    )
                    .await
                    .ok();
                }
                let Some(c) = conn.as_mut() else { continue };
                match c.send(&request, HEARTBEAT_VERSION, s.request_timeout).await {
                    Ok(r) if r.error_code != UNKNOWN_MEMBER_ID => {
                        *alive.lock() = std::time::Instant::now();
                    }
                    Ok(_) => {}
                    Err(_) => conn = None,
                }
            }
        });
        Some(KeepAlive { task })
    }
}

/// 100 ms doubling up to 2 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((100u64 << attempt.min(5)).min(2000))
}
