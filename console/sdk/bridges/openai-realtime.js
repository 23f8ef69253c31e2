// Connects an OpenAI Realtime session to a Draftline hub: the session's tools, function
// calls answered by the hub, and background jobs narrated when the model is idle.
import { toolProgressMessage } from "../progress.js";
import { errorOutput, readJson, sender, sessionOf } from "./transport.js";
/**
 * Attaches to `transport` (a WebSocket to the Realtime API, or the WebRTC data channel
 * `oai-events`). Function calls go to the hub; their outputs go back as
 * `conversation.item.create` (`function_call_output`) followed by one `response.create`,
 * sent only when no response is in flight and the person is not speaking.
 */
export function attachOpenAIRealtime(client, transport, options = {}) {
    const narrate = options.narrate ?? true;
    const send = sender(transport);
    const report = (error) => options.onError?.(error);
    let closed = false;
    // Set from our own `response.create` (or the API's `response.created`) until
    // `response.done`: a second response.create meanwhile would be refused.
    let responding = false;
    // Our last `response.create`, named so an `error` about it can be told apart; and
    // whether the API refused it because a response of its own was active (then it is
    // sent again once that response is done).
    let created = 0;
    let recreate = false;
    let speaking = false;
    let running = 0;
    // In the order the calls came, each filled in when the hub answers.
    const outputs = [];
    const narrations = [];
    const names = new Map();
    let toolsMode;
    let toolsSent = Promise.resolve();
    let progress;
    let chain = Promise.resolve();
    /** Sends what waits (outputs first, then narration) and asks for one response. */
    const flush = () => {
        if (closed || responding || speaking || running > 0)
            return;
        if (outputs.length === 0 && narrations.length === 0 && !recreate)
            return;
        for (const { call_id, output } of outputs.splice(0)) {
            send({ type: "conversation.item.create", item: { type: "function_call_output", call_id, output: output ?? "{}" } });
        }
        for (const text of narrations.splice(0)) {
            send({
                type: "conversation.item.create",
                item: { type: "message", role: "system", content: [{ type: "input_text", text }] },
            });
        }
        recreate = false;
        responding = true;
        send({ type: "response.create", event_id: `draftline_${++created}` });
    };
    /** Offers the tools of `mode`, once per change of mode. */
    const sendTools = (mode) => {
        if (mode === toolsMode)
            return toolsSent;
        toolsMode = mode;
        toolsSent = client.tools(mode).then((tools) => {
            if (closed || toolsMode !== mode)
                return;
            send({
                type: "session.update",
                session: { type: "realtime", ...options.session, tools, tool_choice: "auto" },
            });
        });
        return toolsSent;
    };
    const call = (callId, name, args) => {
        running++;
        const entry = { call_id: callId, output: undefined };
        outputs.push(entry);
        client
            .callToolRaw(name, args, callId)
            .then((output) => JSON.stringify(output), (error) => JSON.stringify(errorOutput(error)))
            .then((output) => {
            running--;
            entry.output = output;
            flush();
        });
    };
    const handle = (event) => {
        switch (event["type"]) {
            case "response.created":
                responding = true;
                return;
            case "error": {
                const error = event["error"];
                if (created === 0 || error?.event_id !== `draftline_${created}`)
                    return;
                if (error.code === "conversation_already_has_active_response") {
                    recreate = true; // that response's `response.done` flushes again
                }
                else {
                    responding = false;
                }
                return;
            }
            case "response.done":
                responding = false;
                flush();
                return;
            case "input_audio_buffer.speech_started":
                speaking = true;
                return;
            case "input_audio_buffer.speech_stopped":
                // With voice activity detection the API answers the person by itself; what
                // waits goes after that response.
                speaking = false;
                return;
            case "response.output_item.added":
            case "conversation.item.created": {
                const item = event["item"];
                if (item?.type === "function_call" && typeof item.call_id === "string" && typeof item.name === "string") {
                    names.set(item.call_id, item.name);
                }
                return;
            }
            case "response.function_call_arguments.done": {
                const callId = event["call_id"];
                if (typeof callId !== "string")
                    return;
                const name = typeof event["name"] === "string" ? event["name"] : names.get(callId);
                names.delete(callId);
                if (!name)
                    return;
                call(callId, name, typeof event["arguments"] === "string" ? event["arguments"] : "{}");
                return;
            }
        }
    };
    const onMessage = (message) => {
        // Frames are read in order even when one needs an asynchronous read.
        chain = chain.then(async () => {
            const event = await readJson(message.data);
            if (event && !closed)
                handle(event);
        });
    };
    transport.addEventListener("message", onMessage);
    const onProgress = (event) => {
        if (!narrate || event.kind !== "tool.progress" || !event.narration)
            return;
        const { kind: _kind, ...payload } = event;
        narrations.push(`${toolProgressMessage(payload)}\n${event.narration}`);
        flush();
    };
    const subscribeProgress = () => {
        if (progress || !narrate || !client.sessionId || closed)
            return;
        try {
            progress = client.subscribe(`session:${client.sessionId}`, { onEvent: onProgress, onError: report });
        }
        catch (error) {
            report(error);
        }
    };
    const onSession = (session) => {
        subscribeProgress();
        sendTools(session.mode).catch(report);
    };
    const offSession = client.on("session", onSession);
    const ready = (async () => {
        if (options.mode && client.session?.mode !== options.mode) {
            await client.configure({ mode: options.mode });
        }
        const session = await sessionOf(client);
        subscribeProgress();
        await sendTools(session.mode);
    })();
    ready.catch(report);
    return {
        ready,
        close() {
            closed = true;
            offSession();
            transport.removeEventListener?.("message", onMessage);
            void progress?.unsubscribe();
        },
    };
}
//# sourceMappingURL=openai-realtime.js.map