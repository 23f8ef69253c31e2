// @ts-check
/**
 * @file The console: people watch a project's document being written, decide pending
 * operations, chat with the project, and (with an admin token) run the job queue. All
 * live state comes from the SDK (`watchProject`: a position-first snapshot plus the
 * project's events, recovered after reconnects); HTTP only for what has no event
 * (versions, chat history, the job queue).
 */

import { DraftlineClient, DraftlineError } from "./sdk/index.js";
import { renderMarkdown } from "./markdown.js";
import { diffLines } from "./diff.js";

/** @typedef {import("./sdk/index.js").ProjectState} ProjectState */
/** @typedef {import("./sdk/index.js").ProjectView} ProjectView */
/** @typedef {import("./sdk/generated/protocol.js").Event} Event */
/** @typedef {import("./sdk/generated/protocol.js").Position} Position */
/** @typedef {import("./sdk/generated/protocol.js").Operation} Operation */
/** @typedef {import("./sdk/generated/protocol.js").Job} Job */
/** @typedef {import("./sdk/generated/protocol.js").ChatMessage} ChatMessage */

const TOKEN_KEY = "draftline.console.token";
// The event log keeps the newest entries only: a busy project publishes thousands.
const MAX_EVENT_LOG = 200;
// The operations log keeps the newest entries seen.
const MAX_OPERATIONS = 200;
// The job table refreshes on every job event it sees, and at least this often.
const JOBS_REFRESH_MS = 5_000;

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return /** @type {T} */ (el);
}

/**
 * Creates an element with text and attributes.
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} [children]
 */
function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

/** @param {unknown} error */
function describe(error) {
  if (error instanceof DraftlineError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** @param {string | null | undefined} at */
function when(at) {
  return at ? new Date(at).toLocaleTimeString() : "";
}

// --- sign-in ---------------------------------------------------------------------

/** The token from `#token=...` (then dropped from the address bar) or this tab's storage. */
function takeToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get("token");
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/**
 * The token's claims, for what the page shows (the hub checks every request itself).
 * @param {string} token
 * @returns {{ sub?: string, scope?: string | string[] }}
 */
function claims(token) {
  try {
    const part = token.split(".")[1] ?? "";
    return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

function showSignIn(message = "") {
  $("sign-in").hidden = false;
  $("workspace").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in-error").textContent = message;
  $("token-input").focus();
}

$("sign-in-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = /** @type {HTMLTextAreaElement} */ ($("token-input")).value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  location.reload();
});

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});

// --- the console ---------------------------------------------------------------

class Console {
  /** @param {string} token */
  constructor(token) {
    this.token = token;
    const scope = claims(token).scope;
    this.admin = Array.isArray(scope) ? scope.includes("admin") : String(scope ?? "").split(" ").includes("admin");
    this.user = claims(token).sub ?? "";
    const wsUrl = new URL("/v1/ws", location.href);
    wsUrl.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    this.client = new DraftlineClient({
      url: wsUrl.toString(),
      token,
      client: { name: "console", version: "1" },
    });
    /** @type {ProjectView | undefined} */
    this.view = undefined;
    /** @type {string | undefined} */
    this.projectId = undefined;
    /** @type {ProjectState | undefined} */
    this.state = undefined;
    /**
     * The draft being streamed: its job, the text so far, and once it is stored, the
     * version that replaces it (shown when the view's state reaches it).
     */
    this.streaming = { job: "", text: "", until: 0 };
    /** @type {Map<string, Operation>} */
    this.operations = new Map();
    /** @type {Map<string, HTMLElement>} chat replies being streamed, by message id */
    this.chatStreams = new Map();
    this.everConnected = false;
    this.stopped = false;
    /** The draft job the indicator follows, and its status. */
    this.draftJob = "";
    this.draftStatus = "idle";
    this.draftMessage = "";
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.jobsTimer = undefined;
  }

  async start() {
    $("sign-in").hidden = true;
    $("workspace").hidden = false;
    $("sign-out").hidden = false;
    $("whoami").textContent = this.user ? `signed in as ${this.user}${this.admin ? " (admin)" : ""}` : "";
    this.client.on("state", (state) => this.connection(state));
    this.client.on("error", (error) => {
      // The client gave up (a token refused, a close that must not be retried).
      this.stopped = true;
      this.connection(this.client.state);
      $("project-error").textContent = describe(error);
    });
    try {
      await this.client.connect();
    } catch (error) {
      if (error instanceof DraftlineError && (error.code === "unauthorized" || error.code === "forbidden")) {
        sessionStorage.removeItem(TOKEN_KEY);
        showSignIn(`The hub refused this token (${error.code}).`);
        return;
      }
      $("project-error").textContent = describe(error);
      return;
    }
    this.bind();
    await this.listProjects();
    if (this.admin) this.startJobs();
  }

  /** @param {"disconnected" | "connecting" | "connected"} state */
  connection(state) {
    // Once connected, any other state means the client is on its way back (it waits
    // between attempts as "disconnected"), unless it gave up.
    const label = state !== "connected" && this.everConnected && !this.stopped ? "reconnecting" : state;
    if (state === "connected") {
      this.everConnected = true;
      // A project created elsewhere while this page was away shows up again.
      if (this.projectId !== undefined) void this.listProjects();
    }
    const el = $("connection");
    el.dataset.state = label;
    el.textContent = label;
  }

  bind() {
    $("new-project").addEventListener("submit", (e) => {
      e.preventDefault();
      void this.createProject();
    });
    $("auto-accept").addEventListener("change", (e) => {
      const on = /** @type {HTMLInputElement} */ (e.target).checked;
      void this.client.configure({ auto_accept: on }).catch((error) => {
        $("decide-status").textContent = describe(error);
      });
    });
    $("versions-form").addEventListener("submit", (e) => {
      e.preventDefault();
      void this.compare();
    });
    $("rollback").addEventListener("click", () => void this.rollback());
    $("chat-form").addEventListener("submit", (e) => {
      e.preventDefault();
      void this.sendChat();
    });
  }

  // --- projects ---

  async listProjects() {
    try {
      const out = await this.client.callTool("list_projects", {});
      const list = $("project-list");
      list.replaceChildren(
        ...out.projects.map((project) => {
          const button = h("button", { type: "button", "data-project-id": project.id }, [project.name]);
          if (project.id === this.projectId) button.setAttribute("aria-current", "true");
          button.addEventListener("click", () => void this.open(project.id));
          return h("li", {}, [button]);
        }),
      );
    } catch (error) {
      $("project-error").textContent = describe(error);
    }
  }

  async createProject() {
    const input = /** @type {HTMLInputElement} */ ($("new-project-name"));
    try {
      await this.client.configure({ mode: "selection" });
      const out = await this.client.callTool("create_project", { name: input.value });
      input.value = "";
      await this.listProjects();
      if (out && typeof out === "object" && "project" in out && out.project) await this.open(out.project.id);
    } catch (error) {
      $("project-error").textContent = describe(error);
    }
  }

  /** @param {string} projectId */
  async open(projectId) {
    if (this.view) await this.view.close();
    this.projectId = projectId;
    this.operations.clear();
    this.chatStreams.clear();
    this.streaming = { job: "", text: "", until: 0 };
    $("events").replaceChildren();
    $("project-error").textContent = "";
    for (const button of $("project-list").querySelectorAll("button")) {
      button.setAttribute("aria-current", String(button.dataset.projectId === projectId));
    }
    $("project").hidden = false;
    try {
      // `update` is the mode whose tools a person's own changes need (a rollback is an
      // `apply_document_edits` like any other change).
      const session = await this.client.configure({ mode: "update", project_id: projectId });
      /** @type {HTMLInputElement} */ ($("auto-accept")).checked = session.auto_accept;
    } catch (error) {
      $("project-error").textContent = describe(error);
    }
    this.view = this.client.watchProject(projectId, {
      onChange: (state) => this.render(state),
      onEvent: (event, position) => this.event(event, position),
      onError: (error) => {
        $("project-error").textContent = describe(error);
      },
    });
    await Promise.all([this.loadVersions(), this.loadChat(), this.loadOperations()]);
  }

  /** The operations decided before the page opened (events bring the later ones). */
  async loadOperations() {
    if (!this.projectId) return;
    const project = this.projectId;
    try {
      const lists = await Promise.all(
        ["completed", "failed", "rejected"].map((status) =>
          this.http(`/v1/projects/${project}/operations?status=${status}`),
        ),
      );
      if (project !== this.projectId) return;
      for (const { operations } of lists) {
        for (const operation of /** @type {Operation[]} */ (operations)) {
          // An event seen meanwhile is newer than the listing.
          if (!this.operations.has(operation.id)) this.operations.set(operation.id, operation);
        }
      }
      this.renderOperations();
    } catch (error) {
      $("project-error").textContent = describe(error);
    }
  }

  /** @param {ProjectState} state */
  render(state) {
    const first = this.state?.project.id !== state.project.id;
    this.state = state;
    $("project-title").textContent = state.project.name;
    $("position").textContent = `at ${state.position.epoch}:${state.position.offset}`;
    $("presence").replaceChildren(
      ...state.presence.map((p) =>
        h("li", { "data-session-id": p.session_id }, [`${p.user_id}${p.client ? ` · ${p.client.name}` : ""}`]),
      ),
    );
    $("document-version").textContent = `version ${state.document.version}`;
    if (this.streaming.until && state.document.version >= this.streaming.until) {
      this.streaming = { job: "", text: "", until: 0 };
    }
    if (!this.streaming.job) this.showDocument(state.document.markdown, false);
    if (first) this.draftingFromJobs(state.jobs);
    for (const operation of state.operations) this.operations.set(operation.id, operation);
    this.renderApprovals(state.operations);
    this.renderOperations();
  }

  /**
   * @param {string} markdown
   * @param {boolean} streaming
   */
  showDocument(markdown, streaming) {
    const article = $("document");
    renderMarkdown(article, markdown);
    article.dataset.streaming = String(streaming);
  }

  /**
   * One event of the project's topic, in order, once.
   * @param {Event} event
   * @param {Position} position
   */
  event(event, position) {
    this.logEvent(event, position);
    switch (event.kind) {
      case "draft.delta":
        if (event.job_id !== this.streaming.job || event.seq === 0) {
          this.streaming = { job: event.job_id, text: "", until: 0 };
        }
        this.streaming.text += event.text;
        this.showDocument(this.streaming.text, true);
        break;
      case "document.updated":
        // The view reloads the document; the streamed text stays until it arrives.
        if (this.streaming.job) this.streaming.until = event.version;
        void this.loadVersions();
        break;
      case "job.status":
        if (event.job_kind === "draft.update") this.drafting(event.status, "", event.job_id);
        if (event.job_kind === "draft.update" && (event.status === "failed" || event.status === "cancelled")) {
          this.streaming = { job: "", text: "", until: 0 };
          if (this.state) this.showDocument(this.state.document.markdown, false);
        }
        if (this.admin) void this.loadJobs();
        break;
      case "tool.progress": {
        const message = event.narration ?? event.summary ?? event.error ?? "";
        this.drafting(event.status, message, event.job_id);
        break;
      }
      case "operation.created":
      case "operation.updated":
        this.operations.set(event.operation.id, event.operation);
        this.renderOperations();
        break;
      case "chat.delta":
        this.chatDelta(event.message_id, event.seq, event.text);
        break;
      case "chat.message":
        this.chatMessage(event.message);
        break;
      default:
        break;
    }
  }

  /** @param {Event} event @param {Position} position */
  logEvent(event, position) {
    const log = $("events");
    const detail = event.kind === "draft.delta" || event.kind === "chat.delta" ? ` seq ${event.seq}` : "";
    log.prepend(h("li", {}, [`${position.offset}  ${event.kind}${detail}`]));
    while (log.childElementCount > MAX_EVENT_LOG) log.lastElementChild?.remove();
  }

  // --- drafting indicator ---

  /** @param {Job[]} jobs */
  draftingFromJobs(jobs) {
    const draft = jobs.find((job) => job.kind === "draft.update");
    if (draft) this.drafting(draft.status, "", draft.id);
    else this.drafting("idle", "", "");
  }

  /**
   * Shows where the project's draft stands. The hub announces a job as queued after its
   * commit while a worker may already report it running, so a job's status only moves
   * forward here (retrying and running may alternate).
   * @param {string} status
   * @param {string} message the last thing said about it (`tool.progress`)
   * @param {string} job
   */
  drafting(status, message, job) {
    const rank = /** @type {Record<string, number>} */ ({
      idle: 0, queued: 1, running: 2, retrying: 2, completed: 3, failed: 3, cancelled: 3,
    });
    if (job && job === this.draftJob && (rank[status] ?? 0) < (rank[this.draftStatus] ?? 0)) return;
    if (job !== this.draftJob || message) this.draftMessage = message;
    this.draftJob = job;
    this.draftStatus = status;
    const labels = /** @type {Record<string, string>} */ ({
      idle: "No draft running",
      queued: "Draft queued",
      running: "Drafting…",
      retrying: "Draft failed, retrying",
      completed: "Draft completed",
      failed: "Draft failed",
      cancelled: "Draft cancelled",
    });
    const el = $("drafting");
    el.dataset.status = status;
    const label = labels[status] ?? status;
    el.textContent = this.draftMessage ? `${label}: ${this.draftMessage}` : label;
  }

  // --- approvals and operations ---

  /** @param {Operation[]} pending */
  renderApprovals(pending) {
    $("approvals").replaceChildren(...pending.map((operation) => this.approvalCard(operation)));
  }

  /** @param {Operation} operation */
  approvalCard(operation) {
    const editor = /** @type {HTMLTextAreaElement} */ (
      h("textarea", { rows: "4", "aria-label": `Arguments of ${operation.tool}`, hidden: "" })
    );
    editor.value = JSON.stringify(operation.data, null, 2);
    const approve = h("button", { type: "button", class: "primary", "data-testid": "console-approve" }, ["Approve"]);
    const reject = h("button", { type: "button", "data-testid": "console-reject" }, ["Reject"]);
    const edit = h("button", { type: "button", "aria-expanded": "false" }, ["Edit arguments"]);
    edit.addEventListener("click", () => {
      editor.hidden = !editor.hidden;
      edit.setAttribute("aria-expanded", String(!editor.hidden));
    });
    approve.addEventListener("click", () => void this.decide(operation, "approve", editor.hidden ? undefined : editor.value));
    reject.addEventListener("click", () => void this.decide(operation, "reject", undefined));
    const card = h("li", { "data-operation-id": operation.id }, [
      h("strong", {}, [`${operation.tool}`]),
      ` ${operation.kind} ${operation.entity} · #${operation.seq} · ${when(operation.created_at)}`,
    ]);
    if (operation.before != null) {
      card.append(h("p", {}, ["Before:"]), h("pre", {}, [JSON.stringify(operation.before, null, 2)]));
    }
    card.append(h("p", {}, ["Change:"]), h("pre", {}, [JSON.stringify(operation.data, null, 2)]));
    card.append(editor, h("div", { class: "row" }, [approve, reject, edit]));
    return card;
  }

  /**
   * @param {Operation} operation
   * @param {"approve" | "reject"} decision
   * @param {string | undefined} edited the arguments as edited (a merge patch of the whole)
   */
  async decide(operation, decision, edited) {
    const status = $("decide-status");
    /** @type {Record<string, import("./sdk/generated/protocol.js").JsonValue> | undefined} */
    let edits;
    if (edited !== undefined) {
      try {
        edits = { [operation.id]: JSON.parse(edited) };
      } catch {
        status.textContent = "The edited arguments are not valid JSON.";
        return;
      }
    }
    try {
      const decided = await this.client.decide([operation.id], decision, edits);
      const failed = decided.operations.find((op) => op.status === "failed");
      status.textContent = failed?.error ? `${decided.message}; ${failed.error.message}` : decided.message;
    } catch (error) {
      status.textContent = describe(error);
    }
  }

  renderOperations() {
    const newest = [...this.operations.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    const rows = newest.slice(0, MAX_OPERATIONS).map((op) => {
      const detail = op.error ? op.error.message : op.entity_id ?? "";
      const decidedBy = /** @type {{ decided_by?: string | null }} */ (op).decided_by ?? "";
      return h("tr", { "data-operation-id": op.id }, [
        h("td", {}, [String(op.seq)]),
        h("td", {}, [op.tool]),
        h("td", { class: `status-${op.status}` }, [op.status]),
        h("td", {}, [decidedBy]),
        h("td", {}, [when(op.executed_at ?? op.created_at)]),
        h("td", {}, [detail]),
      ]);
    });
    $("operations").querySelector("tbody")?.replaceChildren(...rows);
  }

  // --- versions ---

  /**
   * @param {string} path
   * @param {RequestInit} [init]
   */
  async http(path, init = {}) {
    const response = await fetch(path, {
      ...init,
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json", ...(init.headers ?? {}) },
    });
    const body = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      throw new DraftlineError(body?.code ?? "internal", body?.message ?? `HTTP ${response.status}`, body?.details);
    }
    return body;
  }

  async loadVersions() {
    if (!this.projectId) return;
    try {
      const { versions } = await this.http(`/v1/projects/${this.projectId}/document/versions?limit=50`);
      /** @param {HTMLSelectElement} select @param {number} pick */
      const fill = (select, pick) => {
        select.replaceChildren(
          ...versions.map((/** @type {{version: number, summary: string}} */ v, /** @type {number} */ i) =>
            h("option", i === pick ? { value: String(v.version), selected: "" } : { value: String(v.version) }, [
              `v${v.version}${v.summary ? ` · ${v.summary.slice(0, 40)}` : ""}`,
            ]),
          ),
        );
      };
      fill(/** @type {HTMLSelectElement} */ ($("version-from")), Math.min(1, versions.length - 1));
      fill(/** @type {HTMLSelectElement} */ ($("version-to")), 0);
    } catch (error) {
      $("versions-status").textContent = describe(error);
    }
  }

  /** @param {string} version */
  async version(version) {
    const body = await this.http(`/v1/projects/${this.projectId}/document/versions/${version}`);
    return /** @type {string} */ (body.markdown ?? "");
  }

  async compare() {
    const from = /** @type {HTMLSelectElement} */ ($("version-from")).value;
    const to = /** @type {HTMLSelectElement} */ ($("version-to")).value;
    if (!from || !to) return;
    try {
      const [a, b] = await Promise.all([this.version(from), this.version(to)]);
      const pre = $("diff");
      pre.replaceChildren(
        ...diffLines(a, b).map((d) =>
          h("span", d.op === " " ? {} : { class: d.op === "+" ? "add" : "del" }, [`${d.op} ${d.line}\n`]),
        ),
      );
      pre.hidden = false;
      $("versions-status").textContent = `v${from} → v${to}`;
    } catch (error) {
      $("versions-status").textContent = describe(error);
    }
  }

  /** Writes the "From" version's Markdown as a new version: an operation like any other. */
  async rollback() {
    const from = /** @type {HTMLSelectElement} */ ($("version-from")).value;
    if (!from || !this.state) return;
    try {
      const markdown = await this.version(from);
      const out = await this.client.callTool("apply_document_edits", {
        base_version: this.state.document.version,
        markdown,
      });
      const pending = out && typeof out === "object" && "status" in out && out.status === "pending_approval";
      $("versions-status").textContent = pending
        ? `Rollback to v${from} waits for approval.`
        : `Rolled back to v${from}.`;
    } catch (error) {
      $("versions-status").textContent = describe(error);
    }
  }

  // --- chat ---

  async loadChat() {
    if (!this.projectId) return;
    try {
      const { messages } = await this.http(`/v1/projects/${this.projectId}/chat?limit=50`);
      $("chat").replaceChildren();
      for (const message of messages) this.chatMessage(message);
    } catch (error) {
      $("project-error").textContent = describe(error);
    }
  }

  /** @param {ChatMessage} message */
  chatMessage(message) {
    const list = $("chat");
    const streamed = this.chatStreams.get(message.id);
    const item = streamed ?? list.querySelector(`[data-message-id="${message.id}"]`) ?? h("li");
    item.setAttribute("data-message-id", message.id);
    item.setAttribute("data-role", message.role);
    item.removeAttribute("data-streaming");
    item.textContent = `${message.role === "user" ? message.author_id ?? "someone" : "assistant"}: ${message.text}`;
    this.chatStreams.delete(message.id);
    if (!item.isConnected) list.append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  /**
   * @param {string} messageId the reply being written
   * @param {number} seq
   * @param {string} text
   */
  chatDelta(messageId, seq, text) {
    let item = this.chatStreams.get(messageId);
    if (!item || seq === 0) {
      item ??= h("li", { "data-role": "assistant", "data-message-id": messageId });
      item.textContent = "assistant: ";
      this.chatStreams.set(messageId, item);
      $("chat").append(item);
    }
    item.setAttribute("data-streaming", "true");
    item.textContent += text;
  }

  async sendChat() {
    const input = /** @type {HTMLInputElement} */ ($("chat-input"));
    if (!this.projectId || !input.value.trim()) return;
    try {
      await this.client.sendChat(this.projectId, input.value);
      input.value = "";
    } catch (error) {
      $("project-error").textContent = describe(error);
    }
  }

  // --- jobs (admin) ---

  startJobs() {
    $("jobs-section").hidden = false;
    $("jobs-refresh").addEventListener("click", () => void this.loadJobs());
    $("job-status-filter").addEventListener("change", () => void this.loadJobs());
    $("jobs-drain").addEventListener("click", async () => {
      try {
        const { dispatched } = await this.http("/v1/admin/queue/drain", { method: "POST" });
        $("jobs-status").textContent = `${dispatched} jobs dispatched.`;
        await this.loadJobs();
      } catch (error) {
        $("jobs-status").textContent = describe(error);
      }
    });
    void this.loadJobs();
    this.jobsTimer = setInterval(() => void this.loadJobs(), JOBS_REFRESH_MS);
  }

  async loadJobs() {
    const status = /** @type {HTMLSelectElement} */ ($("job-status-filter")).value;
    try {
      const [{ jobs }, stats] = await Promise.all([
        this.http(`/v1/admin/jobs?limit=50${status ? `&status=${status}` : ""}`),
        this.http("/v1/admin/stats"),
      ]);
      const counts = /** @type {Record<string, number>} */ ({});
      for (const row of stats.depth) counts[row.status] = (counts[row.status] ?? 0) + row.count;
      $("job-stats").textContent =
        Object.entries(counts)
          .map(([s, n]) => `${s} ${n}`)
          .join(" · ") || "No jobs.";
      $("jobs").querySelector("tbody")?.replaceChildren(...jobs.map((/** @type {Job} */ job) => this.jobRow(job)));
    } catch (error) {
      $("jobs-status").textContent = describe(error);
    }
  }

  /** @param {Job} job */
  jobRow(job) {
    const actions = h("td");
    if (job.status === "failed" || job.status === "cancelled") {
      actions.append(this.jobAction(job, "retry", "Retry"));
    }
    if (job.status === "queued" || job.status === "running") {
      actions.append(this.jobAction(job, "cancel", "Cancel"));
    }
    const error = job.error ? (typeof job.error === "string" ? job.error : JSON.stringify(job.error)) : "";
    return h("tr", { "data-job-id": job.id, "data-status": job.status }, [
      h("td", {}, [job.kind]),
      h("td", { class: `status-${job.status}` }, [job.status]),
      h("td", {}, [`${job.attempts}/${job.max_attempts}`]),
      h("td", {}, [job.duration_ms == null ? "" : `${job.duration_ms} ms`]),
      h("td", {}, [error]),
      h("td", {}, [when(job.created_at)]),
      actions,
    ]);
  }

  /**
   * @param {Job} job
   * @param {"retry" | "cancel"} action
   * @param {string} label
   */
  jobAction(job, action, label) {
    const button = h("button", { type: "button", "data-testid": `console-job-${action}` }, [label]);
    button.addEventListener("click", async () => {
      try {
        await this.http(`/v1/admin/jobs/${job.id}/${action}`, { method: "POST" });
        $("jobs-status").textContent = `${label}: ${job.kind} ${job.id}`;
        await this.loadJobs();
      } catch (error) {
        $("jobs-status").textContent = describe(error);
      }
    });
    return button;
  }
}

const token = takeToken();
if (token) {
  void new Console(token).start();
} else {
  showSignIn();
}
