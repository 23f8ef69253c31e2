//! Fixed inputs shared by the unit tests of the draft modules.

use super::*;
use chrono::TimeZone;
use protocol::entities::{ProjectStatus, TranscriptRole};
use protocol::{NoteId, ProjectId, SessionId, TodoId, UserId};
use uuid::Uuid;

pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 10, minute, 0)
        .single()
        .unwrap_or_default()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub fn project() -> Project {
    let mut blueprint = Blueprint::new();
    blueprint.insert(
        BlueprintField::Summary,
        "A proposal to turn the old harbour warehouse into a community workshop.".into(),
    );
    blueprint.insert(
        BlueprintField::Audience,
        "The town council's planning committee.".into(),
    );
    blueprint.insert(BlueprintField::Voice, "Warm but precise.".into());
    blueprint.insert(
        BlueprintField::GoalsMomentum,
        "Open by spring; three local makers already signed letters of support.".into(),
    );
    blueprint.insert(BlueprintField::TrustSafeguards, "   ".into());
    Project {
        id: ProjectId(id(1)),
        owner_id: UserId("ana".into()),
        name: "Harbour Workshop".into(),
        description: "Community workshop proposal".into(),
        status: ProjectStatus::Active,
        blueprint,
        blueprint_draft: Blueprint::new(),
        blueprint_version: 2,
        role: None,
        created_at: at(0),
        updated_at: at(0),
    }
}

pub fn item(n: u32, role: TranscriptRole, text: &str) -> TranscriptItem {
    TranscriptItem {
        session_id: SessionId(id(3)),
        seq: i64::from(n),
        item_id: format!("item_{n}"),
        role,
        text: text.into(),
        at: at(n),
    }
}

pub fn note(n: u32, body: &str) -> Note {
    Note {
        id: NoteId(id(100 + u128::from(n))),
        project_id: ProjectId(id(1)),
        body: body.into(),
        tags: vec!["budget".into()],
        author_id: UserId("ana".into()),
        session_id: None,
        created_at: at(n),
        updated_at: at(n),
    }
}

pub fn todo(n: u32, title: &str, priority: Priority, status: TodoStatus) -> Todo {
    Todo {
        id: TodoId(id(200 + u128::from(n))),
        project_id: ProjectId(id(1)),
        title: title.into(),
        details: String::new(),
        status,
        priority,
        session_id: None,
        created_at: at(n),
        updated_at: at(n),
    }
}

pub fn input() -> PromptInput {
    let mut input = PromptInput::new(project());
    input.todos = vec![
        todo(
            1,
            "Ask the council for the lease terms",
            Priority::Medium,
            TodoStatus::Open,
        ),
        todo(
            2,
            "Get a fire safety quote",
            Priority::High,
            TodoStatus::InProgress,
        ),
        todo(3, "Pick a name", Priority::Low, TodoStatus::Done),
    ];
    input.notes = vec![
        note(
            5,
            "Renovation estimate is 80k; the lottery fund covers up to half.",
        ),
        note(2, "The roof was inspected in 2023 and is sound."),
    ];
    input.pinned = vec![Excerpt {
        item: item(
            7,
            TranscriptRole::User,
            "What matters most is that young people can learn a trade there.",
        ),
        quote: Some("young people can learn a trade".into()),
    }];
    input.recent = vec![
        item(
            8,
            TranscriptRole::Assistant,
            "Got it. Who else is involved?",
        ),
        item(
            9,
            TranscriptRole::User,
            "Mara from the boatyard, and the library.",
        ),
        item(
            7,
            TranscriptRole::User,
            "What matters most is that young people can learn a trade there.",
        ),
    ];
    input.previous_summary = "A first outline of the workshop proposal.".into();
    input.document =
        "# Harbour Workshop\n\n## Overview\n\nA community workshop in the old harbour warehouse.\n"
            .into();
    input.summary = Some("Add the people involved and the learning goal.".into());
    input.urgency = Urgency::High;
    // Drafted at minute 4 from the transcript up to item 7: note 5 and items 8 and
    // 9 are new, the pinned item 7 is shown because the job names it.
    input.last_drafted = Some(input.document.clone());
    input.since = Some(at(4));
    input.transcript_seen = vec![(SessionId(id(3)), 7)];
    input
}
