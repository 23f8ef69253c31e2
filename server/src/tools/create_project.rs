//! `create_project`: a new project owned by the caller, with its empty document.

use super::{Actor, Applied, Caller, Change};
use protocol::ErrorBody;
use protocol::ProjectId;
use protocol::entities::{Entity, OperationKind};
use protocol::event::Event;
use protocol::tools::args::CreateProjectArgs;
use protocol::tools::output::ProjectOut;
use store::PgConnection;

pub(crate) struct CreateProject;

impl Change for CreateProject {
    type Args = CreateProjectArgs;
    const KIND: OperationKind = OperationKind::Create;
    const ENTITY: Entity = Entity::Project;

    async fn project(
        _: &mut PgConnection,
        _: &Caller,
        _: &Self::Args,
    ) -> Result<Option<ProjectId>, ErrorBody> {
        Ok(None)
    }

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        let project = store::projects::create(
            conn,
            &actor.user,
            args.name.trim(),
            args.description.as_deref().unwrap_or("").trim(),
        )
        .await?;
        let mut applied = Applied::new(
            ProjectOut {
                project: project.clone(),
            },
            project.id,
        )
        .after(&project)
        .event(Event::ProjectUpdated {
            project: project.clone(),
        });
        applied.project_id = Some(project.id);
        Ok(applied)
    }
}
