// The TOOL_PROGRESS message an assistant narrates (docs/protocol.md section 5.5).

import type { ToolProgress } from "./generated/protocol.js";

/** `TOOL_PROGRESS::<json>`: the system message that tells a model how a background job stands. */
export function toolProgressMessage(progress: ToolProgress | (ToolProgress & { kind: string })): string {
  const { kind: _kind, ...payload } = progress as ToolProgress & { kind?: string };
  return `TOOL_PROGRESS::${JSON.stringify(payload)}`;
}
