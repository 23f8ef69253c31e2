//! Session modes (docs/protocol.md section 8.2). Which tools a mode allows is derived from the
//! tool catalogue (`tools::ToolName::modes`), not written here.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Choosing or creating the project; every new session starts here.
    Selection,
    /// Interviewing the person to fill the blueprint.
    Intake,
    /// Writing the document while the conversation goes on.
    Ghostwriting,
    /// Editing the project, notes, todos and document.
    Update,
    /// Read-only review.
    Audit,
    /// Read-only planning.
    Forecast,
}

impl Mode {
    pub const ALL: [Mode; 6] = [
        Mode::Selection,
        Mode::Intake,
        Mode::Ghostwriting,
        Mode::Update,
        Mode::Audit,
        Mode::Forecast,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Selection => "selection",
            Mode::Intake => "intake",
            Mode::Ghostwriting => "ghostwriting",
            Mode::Update => "update",
            Mode::Audit => "audit",
            Mode::Forecast => "forecast",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
