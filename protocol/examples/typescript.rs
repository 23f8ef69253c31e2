//! Writes the TypeScript declarations of the wire types (every client and server message,
//! event, entity and tool argument and output type, and the tool map the SDK's
//! `callTool` is typed by) as one module, or checks that a committed copy is current.
//!
//! `cargo run -p protocol --features ts --example typescript -- [--check] PATH`
//! (`scripts/generate-types` runs it on `client-sdk/src/generated/protocol.ts`).

use protocol::blueprint::BlueprintField;
use protocol::tools::ToolName;
use protocol::tools::args::*;
use protocol::tools::output::*;
use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;
use ts_rs::{Config, TS, TypeVisitor};

const HEADER: &str = "// Generated from the Rust `protocol` crate by `scripts/generate-types`; do not edit.\n\
// Integers are plain numbers: every integer the protocol carries fits a double.\n";

/// Collects the declaration of every type it visits and of everything those depend on,
/// keyed by name so the output is sorted and stable.
struct Declarations {
    cfg: Config,
    seen: HashSet<TypeId>,
    decls: BTreeMap<String, String>,
}

impl TypeVisitor for Declarations {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Primitives and std containers have no declaration of their own.
        if T::output_path().is_none() || !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        let mut decl = T::docs().unwrap_or_default();
        decl.push_str("export ");
        decl.push_str(&T::decl(&self.cfg));
        self.decls.insert(T::ident(&self.cfg), decl);
        T::visit_dependencies(self);
    }
}

/// The argument and output types of a tool, by name. The match is exhaustive so a new
/// tool does not compile until it has its entry here.
fn tool_types(tool: ToolName, d: &mut Declarations) -> (&'static str, &'static str) {
    macro_rules! types {
        ($args:ty, $out:ty) => {{
            d.visit::<$args>();
            d.visit::<$out>();
            (stringify!($args), stringify!($out))
        }};
    }
    match tool {
        ToolName::ListProjects => types!(ListProjectsArgs, ProjectsOut),
        ToolName::CreateProject => types!(CreateProjectArgs, ProjectOut),
        ToolName::AssignProjectToSession => types!(AssignProjectArgs, AssignedOut),
        ToolName::GetProject => types!(ProjectArgs, ProjectOut),
        ToolName::UpdateProject => types!(UpdateProjectArgs, ProjectOut),
        ToolName::SyncBlueprintField => types!(SyncBlueprintFieldArgs, FieldSyncedOut),
        ToolName::GetBlueprintGaps => types!(ProjectArgs, GapsOut),
        ToolName::CommitBlueprint => types!(ProjectArgs, ProjectOut),
        ToolName::CreateNote => types!(CreateNoteArgs, NoteOut),
        ToolName::UpdateNote => types!(UpdateNoteArgs, NoteOut),
        ToolName::ListNotes => types!(ProjectArgs, NotesOut),
        ToolName::CreateTodo => types!(CreateTodoArgs, TodoOut),
        ToolName::UpdateTodo => types!(UpdateTodoArgs, TodoOut),
        ToolName::UpdateTodoStatus => types!(UpdateTodoStatusArgs, TodoOut),
        ToolName::DeleteTodo => types!(DeleteTodoArgs, TodoOut),
        ToolName::ListTodos => types!(ListTodosArgs, TodosOut),
        ToolName::RecordTranscriptPointer => types!(RecordTranscriptPointerArgs, PointerOut),
        ToolName::GetDocument => types!(ProjectArgs, DocumentOut),
        ToolName::ApplyDocumentEdits => types!(ApplyDocumentEditsArgs, DocumentOut),
        ToolName::QueueDraftUpdate => types!(QueueDraftUpdateArgs, DraftQueuedOut),
        ToolName::GetDraftStatus => types!(GetDraftStatusArgs, JobOut),
        ToolName::RollbackOperation => types!(RollbackOperationArgs, RolledBackOut),
        ToolName::SuggestOperations => types!(SuggestOperationsArgs, SuggestedOut),
        ToolName::GetSessionPhase => types!(GetSessionPhaseArgs, PhaseOut),
        ToolName::SetSessionPhase => types!(SetSessionPhaseArgs, PhaseOut),
        ToolName::Remember => types!(RememberArgs, MemoryOut),
        ToolName::ListMemory => types!(ListMemoryArgs, MemoryListOut),
        ToolName::ForgetMemory => types!(ForgetMemoryArgs, MemoryOut),
        ToolName::FocusTodo => types!(FocusTodoArgs, FocusOut),
        ToolName::ProposeRecovery => types!(ProposeRecoveryArgs, PendingOut),
    }
}

fn generate() -> String {
    let mut d = Declarations {
        cfg: Config::new().with_large_int("number"),
        seen: HashSet::new(),
        decls: BTreeMap::new(),
    };
    d.visit::<protocol::ClientMessage>();
    d.visit::<protocol::ServerMessage>();
    d.visit::<protocol::tools::FunctionDef>();
    d.visit::<ToolName>();
    d.visit::<BlueprintField>();
    d.visit::<PendingOut>();
    let mut tools = String::from(
        "/** Each tool's arguments and output. A tool that changes data answers `PendingOut` \
         instead in a session with `auto_accept: false`. */\nexport type Tools = {\n",
    );
    for tool in ToolName::ALL {
        let (args, out) = tool_types(tool, &mut d);
        let out = if tool.spec().changes {
            format!("{out} | PendingOut")
        } else {
            out.to_owned()
        };
        tools.push_str(&format!(
            "  {}: {{ args: {args}; output: {out} }};\n",
            tool.as_str()
        ));
    }
    tools.push_str("};\n");
    let mut text = String::from(HEADER);
    for decl in d.decls.values() {
        text.push('\n');
        text.push_str(decl);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&tools);
    text
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (check, path) = match args.as_slice() {
        [flag, path] if flag == "--check" => (true, path),
        [path] => (false, path),
        _ => {
            eprintln!("usage: typescript [--check] PATH");
            return ExitCode::from(2);
        }
    };
    let text = generate();
    if check {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current != text {
            eprintln!(
                "{path} is not what the protocol crate generates; run scripts/generate-types and commit the result"
            );
            return ExitCode::FAILURE;
        }
        return ExitCode::SUCCESS;
    }
    if let Err(e) = std::fs::write(path, text) {
        eprintln!("{path}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
