// The console in a real browser against a real hub: the project list with presence, a
// draft queued by another (SDK) client streaming into the document, an approval, an
// admin retrying a failed job, and a hub restart the page rides out. Every view is
// saved under target/screenshots/.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { client, launchBrowser, screenshot, startHub, waitFor } from "../harness.js";

/** @type {import("playwright-core").Browser} */
let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** Opens the console signed in as `token`, at phone or desktop width. */
async function openConsole(hub, token, viewport = { width: 1280, height: 900 }) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${hub.httpUrl}console#token=${token}`);
  await page.getByTestId("console-connection").and(page.locator('[data-state="connected"]')).waitFor();
  assert.equal(new URL(page.url()).hash, "", "the token leaves the address bar");
  return { page, errors };
}

/** Clicks the project's entry in the list and waits for its document view. */
async function openProject(page, name) {
  await page.getByTestId("console-project-list").getByRole("button", { name }).click();
  await page.locator("#project-title", { hasText: name }).waitFor();
}

/** A project of `c`'s user with an audience in its blueprint, in `mode`. */
async function projectWithMaterial(c, name, mode) {
  await c.configure({ mode: "selection" });
  const created = await c.callTool("create_project", { name });
  const projectId = created.project.id;
  await c.callTool("assign_project_to_session", { project_id: projectId });
  await c.configure({ mode: "intake" });
  await c.callTool("sync_blueprint_field", { field: "audience", value: "New parents in small towns" });
  await c.configure({ mode });
  return projectId;
}

describe("console", () => {
  let hub;
  before(async () => {
    // Slow enough pieces that the page shows the draft while it is written.
    hub = await startHub({ DRAFTLINE_COMPOSE_DELAY_MS: "120" });
  });
  after(async () => {
    await hub?.dispose();
  });

  test("lists the projects with who is present, and streams a draft into the document", async () => {
    const assistant = await client(hub, "alice");
    const projectId = await projectWithMaterial(assistant, "Garden memoir", "ghostwriting");
    const { page, errors } = await openConsole(hub, await hub.token("alice"));
    await openProject(page, "Garden memoir");
    await page
      .getByTestId("console-presence")
      .locator(`[data-session-id="${assistant.sessionId}"]`)
      .waitFor();
    await screenshot(page, "projects");

    const queued = await assistant.callTool("queue_draft_update", { urgency: "normal" });
    assert.equal(queued.status, "queued");
    const indicator = page.getByTestId("console-drafting-indicator");
    await page.locator('[data-testid="console-drafting-indicator"][data-status="running"]').waitFor();
    await page.locator('[data-testid="console-document"][data-streaming="true"]').waitFor();
    await screenshot(page, "document-streaming");
    await page.locator('[data-testid="console-drafting-indicator"][data-status="completed"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="console-document"][data-streaming="false"]').waitFor();
    const text = await page.getByTestId("console-document").innerText();
    assert.match(text, /New parents in small towns/, "the drafted document shows the blueprint");
    const snapshot = await assistant.snapshot(projectId);
    assert.ok(snapshot.document.version >= 1);
    assert.match(await indicator.innerText(), /completed/i);
    await screenshot(page, "document");
    assert.deepEqual(errors, []);
    await page.close();
    assistant.close();
  });

  test("approves a pending operation and shows it applied", async () => {
    const assistant = await client(hub, "bob");
    await projectWithMaterial(assistant, "Harbour history", "intake");
    await assistant.configure({ auto_accept: false });
    const pending = await assistant.callTool("create_note", { body: "The lighthouse keeper's log, 1911" });
    assert.equal(pending.status, "pending_approval");
    const rejected = await assistant.callTool("create_note", { body: "An aside nobody wants" });

    const { page, errors } = await openConsole(hub, await hub.token("bob"), { width: 390, height: 844 });
    await openProject(page, "Harbour history");
    const approvals = page.getByTestId("console-approvals");
    const card = approvals.locator(`[data-operation-id="${pending.operation_id}"]`);
    await card.waitFor();
    await screenshot(page, "approvals");
    await card.getByTestId("console-approve").click();
    await card.waitFor({ state: "detached" });
    await page.locator(`#operations tr[data-operation-id="${pending.operation_id}"] .status-completed`).waitFor();

    const other = approvals.locator(`[data-operation-id="${rejected.operation_id}"]`);
    await other.getByTestId("console-reject").click();
    await other.waitFor({ state: "detached" });
    await page.locator(`#operations tr[data-operation-id="${rejected.operation_id}"] .status-rejected`).waitFor();

    const view = assistant.watchProject(pending.operation.project_id);
    const state = await view.ready;
    assert.deepEqual(
      state.notes.map((n) => n.body),
      ["The lighthouse keeper's log, 1911"],
      "the approved note exists, the rejected one does not",
    );
    await screenshot(page, "operations");
    assert.deepEqual(errors, []);
    await view.close();
    await page.close();
    assistant.close();
  });

  test("rides out a hub restart and shows what happened meanwhile", async () => {
    const assistant = await client(hub, "carol");
    await projectWithMaterial(assistant, "Night shift", "intake");
    const { page, errors } = await openConsole(hub, await hub.token("carol"));
    await openProject(page, "Night shift");

    await hub.stop();
    await page.locator('[data-testid="console-connection"][data-state="reconnecting"]').waitFor();
    await screenshot(page, "reconnecting");
    await hub.start();
    // The assistant is back first: its change is published while the page is away.
    await waitFor(() => assistant.state === "connected", 15_000, "the assistant to reconnect");
    await assistant.callTool("create_note", { body: "Written while the page was away" });
    await page.locator('[data-testid="console-connection"][data-state="connected"]').waitFor({ timeout: 30_000 });
    // The note's operation reached the page through the recovered subscription.
    await page.locator("#operations tbody tr", { hasText: "create_note" }).locator(".status-completed").waitFor();
    await page.getByTestId("console-events").getByText("note.created").first().waitFor();
    assert.deepEqual(errors, []);
    await page.close();
    assistant.close();
  });
});

describe("console for operators", () => {
  let hub;
  let model;
  let requests = 0;
  before(async () => {
    // A model endpoint that refuses the key: the draft fails at once (a permanent error).
    model = http.createServer((req, res) => {
      requests += 1;
      req.resume();
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "Incorrect API key provided", type: "invalid_request_error" } }));
    });
    await new Promise((resolve) => model.listen(0, "127.0.0.1", resolve));
    hub = await startHub({
      DRAFTLINE_MODEL: "openai",
      OPENAI_BASE_URL: `http://127.0.0.1:${model.address().port}/v1`,
      OPENAI_API_KEY: "sk-test-wrong",
    });
  });
  after(async () => {
    await hub?.dispose();
    await new Promise((resolve) => model?.close(resolve));
  });

  test("an admin sees a failed draft in the queue and retries it", async () => {
    const assistant = await client(hub, "dora");
    await projectWithMaterial(assistant, "Quarry town", "ghostwriting");
    const { job_id: jobId } = await assistant.callTool("queue_draft_update", { urgency: "normal" });

    const { page, errors } = await openConsole(hub, await hub.token("ops", ["--admin"]));
    const jobs = page.getByTestId("console-jobs");
    const row = jobs.locator(`tr[data-job-id="${jobId}"]`);
    await jobs.locator(`tr[data-job-id="${jobId}"][data-status="failed"]`).waitFor({ timeout: 30_000 });
    const before = requests;
    assert.ok(before >= 1, "the model was asked");
    await screenshot(page, "jobs");
    await row.getByTestId("console-job-retry").click();
    await waitFor(() => requests > before, 30_000, "the retried job to reach the model");
    await jobs.locator(`tr[data-job-id="${jobId}"][data-status="failed"]`).waitFor({ timeout: 30_000 });
    assert.match(await page.locator("#jobs-status").innerText(), /Retry/);
    assert.deepEqual(errors, []);
    await page.close();
    assistant.close();
  });
});
