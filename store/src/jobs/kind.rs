//! The job kinds Draftline ships with. A job's kind is stored (and sent on the wire) as
//! text because a worker may register kinds of its own; the built-in ones are named here
//! once, and code that treats a kind specially matches on [`JobKind`].

/// A built-in job kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// A redraft of a project's document (`queue_draft_update`).
    DraftUpdate,
    /// The assistant's reply to a chat message.
    ChatReply,
    /// The nightly check of transcript pointers.
    TranscriptCheck,
    /// The nightly prune of old jobs and events.
    MaintenancePrune,
    /// Does nothing (tests, smoke checks).
    DebugNoop,
    /// Sleeps for the payload's `ms` (tests, drain checks).
    DebugSleep,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        JobKind::DraftUpdate,
        JobKind::ChatReply,
        JobKind::TranscriptCheck,
        JobKind::MaintenancePrune,
        JobKind::DebugNoop,
        JobKind::DebugSleep,
    ];

    /// The kind as stored in `jobs.kind`.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::DraftUpdate => "draft.update",
            JobKind::ChatReply => "chat.reply",
            JobKind::TranscriptCheck => "transcript.check",
            JobKind::MaintenancePrune => "maintenance.prune",
            JobKind::DebugNoop => "debug.noop",
            JobKind::DebugSleep => "debug.sleep",
        }
    }

    /// The built-in kind stored as `kind`; `None` for a kind registered elsewhere.
    pub fn parse(kind: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == kind)
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<JobKind> for String {
    fn from(kind: JobKind) -> String {
        kind.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::JobKind;

    #[test]
    fn every_kind_parses_back_from_its_stored_name() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("test.noop"), None);
        assert_eq!(JobKind::parse("Draft.Update"), None);
    }
}
