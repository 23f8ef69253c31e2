import WebSocket from "ws";
import { DraftlineClient } from "@draftline/client";

const client = new DraftlineClient({ url: process.env.DRAFTLINE_URL ?? "ws://127.0.0.1:8080/v1/ws", token: process.env.TOKEN, client: { name: "example", version: "1" }, WebSocket });
await client.connect();
const { project } = await client.callTool("create_project", { name: "My memoir" });
await client.configure({ mode: "update", project_id: project.id });
const view = client.watchProject(project.id, { onChange: (s) => console.log(`offset ${s.position.offset}: "${s.project.name}", ${s.notes.length} note(s), ${s.todos.length} todo(s)`) });
await view.ready;
await client.callTool("create_note", { body: "Born by the sea in 1950" });
await client.callTool("create_todo", { title: "Ask about the move to the city", priority: "high" });
setTimeout(() => client.close(), 300);
