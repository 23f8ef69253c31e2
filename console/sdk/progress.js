// The TOOL_PROGRESS message an assistant narrates (docs/protocol.md section 5.5).
/** `TOOL_PROGRESS::<json>`: the system message that tells a model how a background job stands. */
export function toolProgressMessage(progress) {
    const { kind: _kind, ...payload } = progress;
    return `TOOL_PROGRESS::${JSON.stringify(payload)}`;
}
//# sourceMappingURL=progress.js.map