//! Connector and task states (Kafka Connect's `AbstractStatus.State` and `TargetState`).

use serde::{Deserialize, Serialize};

/// The runtime state shown in REST status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    /// Connectors only: stopped with zero tasks (KIP-875).
    Stopped,
    Failed,
    Restarting,
    /// Internal: deleted. Never shown.
    Destroyed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Stopped => "STOPPED",
            State::Failed => "FAILED",
            State::Restarting => "RESTARTING",
            State::Destroyed => "DESTROYED",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s.to_ascii_uppercase().as_str() {
            "UNASSIGNED" => State::Unassigned,
            "RUNNING" => State::Running,
            "PAUSED" => State::Paused,
            "STOPPED" => State::Stopped,
            "FAILED" => State::Failed,
            "RESTARTING" => State::Restarting,
            "DESTROYED" => State::Destroyed,
            _ => return None,
        })
    }
}

/// What the user asked a connector to be; persisted, survives restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    #[default]
    Started,
    Paused,
    Stopped,
}

impl TargetState {
    /// Parses REST's `initial_state` (`RUNNING` means started) and stored names.
    pub fn parse(s: &str) -> Option<TargetState> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "RUNNING" | "STARTED" => TargetState::Started,
            "PAUSED" => TargetState::Paused,
            "STOPPED" => TargetState::Stopped,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Started => "STARTED",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        }
    }

    /// The state a healthy instance shows under this target.
    pub fn running_state(self) -> State {
        match self {
            TargetState::Started => State::Running,
            TargetState::Paused => State::Paused,
            TargetState::Stopped => State::Stopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            State::Unassigned,
            State::Running,
            State::Paused,
            State::Stopped,
            State::Failed,
            State::Restarting,
        ] {
            assert_eq!(State::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(TargetState::parse("running"), Some(TargetState::Started));
        assert_eq!(TargetState::parse("PAUSED"), Some(TargetState::Paused));
        assert_eq!(TargetState::parse("bogus"), None);
        assert_eq!(TargetState::Paused.running_state(), State::Paused);
    }
}
