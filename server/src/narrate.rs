//! Every sentence the hub gives an assistant or a person to say: the narration of a
//! queued draft (`tool.progress`) and the summary of an `operation.decide`
//! (`decided.message`). Short enough to speak in a breath.

use protocol::OperationId;

/// A draft request made a new job.
pub fn draft_requested() -> String {
    "I've asked for the draft to be updated.".to_owned()
}

/// How a rejection went: `count` of the `total` named were rejected (the rest had been
/// decided by someone else meanwhile).
pub fn rejected(count: u64, total: u64) -> String {
    format!("{count} of {total} rejected")
}

/// How an approval went: `completed` of `total` ran, and the one that failed (the rest
/// stay pending), with the error's public message.
pub fn approved(completed: u64, total: u64, failed: Option<(OperationId, &str)>) -> String {
    match failed {
        None => format!("{completed} of {total} completed"),
        Some((id, error)) => {
            format!("{completed} of {total} completed; operation {id} failed: {error}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences() {
        assert_eq!(draft_requested(), "I've asked for the draft to be updated.");
        assert_eq!(rejected(2, 3), "2 of 3 rejected");
        assert_eq!(approved(3, 3, None), "3 of 3 completed");
        let id = OperationId::new();
        assert_eq!(
            approved(1, 3, Some((id, "todo t not found"))),
            format!("1 of 3 completed; operation {id} failed: todo t not found")
        );
    }
}
