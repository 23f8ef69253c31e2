// @ts-check
/**
 * @file Line diff between two versions of a document (longest common subsequence; a
 * document is at most a few thousand lines, so the quadratic table is fine).
 */

/**
 * @typedef {{ op: " " | "+" | "-", line: string }} DiffLine
 */

/**
 * The lines of `after` against `before`: kept (" "), added ("+") and removed ("-").
 * @param {string} before
 * @param {string} after
 * @returns {DiffLine[]}
 */
export function diffLines(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  // Past this size the table would cost too much memory in a browser tab: show the
  // whole change as a replacement instead.
  if (a.length * b.length > 4_000_000) {
    return [
      ...a.map((line) => /** @type {DiffLine} */ ({ op: "-", line })),
      ...b.map((line) => /** @type {DiffLine} */ ({ op: "+", line })),
    ];
  }
  const width = b.length + 1;
  const table = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      table[i * width + j] =
        a[i] === b[j]
          ? table[(i + 1) * width + j + 1] + 1
          : Math.max(table[(i + 1) * width + j], table[i * width + j + 1]);
    }
  }
  /** @type {DiffLine[]} */
  const out = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push({ op: " ", line: a[i] });
      i++;
      j++;
    } else if (table[(i + 1) * width + j] >= table[i * width + j + 1]) {
      out.push({ op: "-", line: a[i++] });
    } else {
      out.push({ op: "+", line: b[j++] });
    }
  }
  while (i < a.length) out.push({ op: "-", line: a[i++] });
  while (j < b.length) out.push({ op: "+", line: b[j++] });
  return out;
}
