// The package's entry points resolve by name, as an app imports them.

import assert from "node:assert/strict";
import { it } from "node:test";

it("exports the client and each bridge from its own entry point", async () => {
  const main = await import("@draftline/client");
  assert.equal(typeof main.DraftlineClient, "function");
  assert.equal(typeof main.DraftlineError, "function");
  assert.equal(main.SUBPROTOCOL, "draftline.v1");
  assert.equal(
    main.toolProgressMessage({ kind: "tool.progress", job_id: "j", project_id: "p", session_id: null, status: "running" }),
    'TOOL_PROGRESS::{"job_id":"j","project_id":"p","session_id":null,"status":"running"}',
  );
  const openai = await import("@draftline/client/bridges/openai-realtime");
  assert.equal(typeof openai.attachOpenAIRealtime, "function");
  const gemini = await import("@draftline/client/bridges/gemini-live");
  assert.equal(typeof gemini.attachGeminiLive, "function");
});
