//! `update_project`: change the project's name, description or status.

use super::{Actor, Applied, Change};
use protocol::ErrorBody;
use protocol::entities::{Entity, OperationKind};
use protocol::event::Event;
use protocol::tools::args::UpdateProjectArgs;
use protocol::tools::output::ProjectOut;
use store::PgConnection;

pub(crate) struct UpdateProject;

impl Change for UpdateProject {
    type Args = UpdateProjectArgs;
    const KIND: OperationKind = OperationKind::Update;
    const ENTITY: Entity = Entity::Project;

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        if args.name.is_none() && args.description.is_none() && args.status.is_none() {
            return Err(ErrorBody::invalid_field(
                "name",
                "give at least one of name, description or status",
            ));
        }
        let id = actor.project()?;
        let (before, after) = store::projects::update(
            conn,
            id,
            args.name.as_deref().map(str::trim),
            args.description.as_deref().map(str::trim),
            args.status,
        )
        .await?;
        Ok(Applied::new(
            ProjectOut {
                project: after.clone(),
            },
            id,
        )
        .before(before)
        .after(&after)
        .event(Event::ProjectUpdated { project: after }))
    }
}
