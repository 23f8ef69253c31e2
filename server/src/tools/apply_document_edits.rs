//! `apply_document_edits`: replace the document's Markdown, based on the version the
//! caller read; a newer current version is a `conflict`.

use super::{Actor, Applied, Change};
use protocol::ErrorBody;
use protocol::entities::{Entity, OperationKind, Source};
use protocol::event::{DocumentUpdated, Event};
use protocol::tools::args::ApplyDocumentEditsArgs;
use protocol::tools::output::DocumentOut;
use store::PgConnection;
use store::documents::NewVersion;

pub(crate) struct ApplyDocumentEdits;

impl Change for ApplyDocumentEdits {
    type Args = ApplyDocumentEditsArgs;
    const KIND: OperationKind = OperationKind::Update;
    const ENTITY: Entity = Entity::Document;

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        let change = NewVersion {
            base_version: Some(args.base_version),
            markdown: &args.markdown,
            summary: args.summary.as_deref().map(str::trim),
            source: Source {
                job_id: None,
                session_id: Some(actor.session_id),
            },
        };
        let (before, after) = store::documents::write(conn, actor.project()?, change).await?;
        let version = |d: &protocol::entities::Document| serde_json::json!({"version": d.version, "summary": d.summary, "sections": d.sections});
        Ok(Applied::new(
            DocumentOut {
                document: after.clone(),
            },
            after.id,
        )
        .before(version(&before))
        .after(version(&after))
        .event(Event::DocumentUpdated(DocumentUpdated {
            project_id: after.project_id,
            document_id: after.id,
            version: after.version,
            summary: after.summary,
            sections: after.sections,
            source: Source {
                job_id: None,
                session_id: Some(actor.session_id),
            },
            conflicts: None,
        })))
    }
}
