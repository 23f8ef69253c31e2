// Connects a Gemini Live session to a Draftline hub: the tools in `setup`, `toolCall`
// answered by the hub as `toolResponse`, and long jobs reported as they progress.
import { errorOutput, readJson, sender, sessionOf } from "./transport.js";
// Job statuses after which no more progress comes.
const FINISHED = new Set(["completed", "failed", "cancelled"]);
// Progress of jobs this bridge has not (yet) seen started; kept briefly in case the
// hub's answer naming the job comes after its first progress event.
const MAX_EARLY_JOBS = 32;
/**
 * Attaches to `transport` (the Live API WebSocket). Each `toolCall` is answered with
 * one `toolResponse` holding the hub's answers in order, except calls the API cancelled
 * (`toolCallCancellation`). A non-blocking tool's job then reports its progress as
 * further responses with `scheduling: "WHEN_IDLE"`, the last with `willContinue: false`.
 */
export function attachGeminiLive(client, transport, options = {}) {
    const nonBlocking = new Set(options.nonBlocking ?? ["queue_draft_update"]);
    const send = sender(transport);
    const report = (error) => options.onError?.(error);
    let closed = false;
    const cancelled = new Set();
    /** Job id → the function call that started it. */
    const jobs = new Map();
    const early = new Map();
    let progress;
    let chain = Promise.resolve();
    const respond = (responses) => {
        const live = responses.filter((r) => !cancelled.has(r.id));
        if (live.length > 0 && !closed)
            send({ toolResponse: { functionResponses: live } });
    };
    const progressResponse = (call, update) => ({
        id: call.id,
        name: call.name,
        response: { output: update },
        willContinue: !FINISHED.has(update.status),
        scheduling: "WHEN_IDLE",
    });
    const onProgress = (event) => {
        if (event.kind !== "tool.progress")
            return;
        const { kind: _kind, ...update } = event;
        const call = jobs.get(update.job_id);
        if (!call) {
            const waiting = early.get(update.job_id) ?? [];
            waiting.push(update);
            early.set(update.job_id, waiting);
            if (early.size > MAX_EARLY_JOBS) {
                const oldest = early.keys().next().value;
                if (oldest !== undefined)
                    early.delete(oldest);
            }
            return;
        }
        if (FINISHED.has(update.status))
            jobs.delete(update.job_id);
        respond([progressResponse(call, update)]);
    };
    const answer = async (call) => {
        let output;
        try {
            output = await client.callToolRaw(call.name, call.args ?? {}, call.id);
        }
        catch (error) {
            const failed = { id: call.id, name: call.name, response: errorOutput(error) };
            return nonBlocking.has(call.name) ? { ...failed, willContinue: false, scheduling: "WHEN_IDLE" } : failed;
        }
        if (!nonBlocking.has(call.name))
            return { id: call.id, name: call.name, response: { output } };
        const jobId = output?.job_id;
        if (typeof jobId === "string")
            jobs.set(jobId, call);
        return {
            id: call.id,
            name: call.name,
            response: { output },
            willContinue: typeof jobId === "string",
            scheduling: "WHEN_IDLE",
        };
    };
    const onToolCall = (calls) => {
        Promise.all(calls.map(answer)).then((responses) => {
            respond(responses);
            // Progress that came before the hub named the job follows the answer.
            for (const call of calls) {
                for (const [jobId, updates] of early) {
                    if (jobs.get(jobId) !== call)
                        continue;
                    early.delete(jobId);
                    for (const update of updates)
                        onProgress({ kind: "tool.progress", ...update });
                }
            }
        }, report);
    };
    const handle = (message) => {
        const toolCall = message["toolCall"];
        if (toolCall?.functionCalls?.length) {
            onToolCall(toolCall.functionCalls);
            return;
        }
        const cancellation = message["toolCallCancellation"];
        if (cancellation?.ids) {
            for (const id of cancellation.ids)
                cancelled.add(id);
            for (const [jobId, call] of jobs)
                if (cancelled.has(call.id))
                    jobs.delete(jobId);
        }
    };
    const onMessage = (message) => {
        chain = chain.then(async () => {
            const parsed = await readJson(message.data);
            if (parsed && !closed)
                handle(parsed);
        });
    };
    transport.addEventListener("message", onMessage);
    const declare = (tools) => tools.map((tool) => ({
        name: tool.name,
        description: tool.description,
        parametersJsonSchema: tool.parameters,
        ...(nonBlocking.has(tool.name) ? { behavior: "NON_BLOCKING" } : {}),
    }));
    const ready = (async () => {
        if (options.mode && client.session?.mode !== options.mode) {
            await client.configure({ mode: options.mode });
        }
        const session = await sessionOf(client);
        const declarations = declare(await client.tools(session.mode));
        if (closed)
            return declarations;
        if (options.setup)
            send({ setup: { ...options.setup, tools: [{ functionDeclarations: declarations }] } });
        progress = client.subscribe(`session:${session.id}`, { onEvent: onProgress, onError: report });
        return declarations;
    })();
    ready.catch(report);
    return {
        ready,
        close() {
            closed = true;
            transport.removeEventListener?.("message", onMessage);
            void progress?.unsubscribe();
        },
    };
}
//# sourceMappingURL=gemini-live.js.map