import type { ToolProgress } from "./generated/protocol.js";
/** `TOOL_PROGRESS::<json>`: the system message that tells a model how a background job stands. */
export declare function toolProgressMessage(progress: ToolProgress | (ToolProgress & {
    kind: string;
})): string;
//# sourceMappingURL=progress.d.ts.map