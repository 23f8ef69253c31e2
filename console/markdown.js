// @ts-check
/**
 * @file A small Markdown renderer for the document view: headings, paragraphs, lists,
 * block quotes, fenced code, rules, emphasis, inline code and links. Builds DOM nodes
 * (never HTML strings), so a document's text can never inject markup.
 */

/**
 * Renders `markdown` into `target`, replacing what it held.
 * @param {HTMLElement} target
 * @param {string} markdown
 */
export function renderMarkdown(target, markdown) {
  const doc = target.ownerDocument;
  const fragment = doc.createDocumentFragment();
  const lines = markdown.replace(/\r\n?/g, "\n").split("\n");
  /** @type {string[]} */
  let paragraph = [];
  /** @type {HTMLElement | null} */
  let list = null;

  const flushParagraph = () => {
    if (paragraph.length) {
      const p = doc.createElement("p");
      appendInline(p, paragraph.join(" "));
      fragment.append(p);
      paragraph = [];
    }
  };
  const closeList = () => {
    list = null;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^(```|~~~)/.exec(line);
    if (fence) {
      flushParagraph();
      closeList();
      const code = [];
      i++;
      while (i < lines.length && !lines[i].startsWith(fence[1])) code.push(lines[i++]);
      const pre = doc.createElement("pre");
      const el = doc.createElement("code");
      el.textContent = code.join("\n");
      pre.append(el);
      fragment.append(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      flushParagraph();
      closeList();
      const h = doc.createElement(`h${Math.min(heading[1].length + 1, 6)}`);
      appendInline(h, heading[2]);
      fragment.append(h);
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flushParagraph();
      closeList();
      fragment.append(doc.createElement("hr"));
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (item) {
      flushParagraph();
      const tag = /\d/.test(item[1]) ? "OL" : "UL";
      if (!list || list.tagName !== tag) {
        list = doc.createElement(tag.toLowerCase());
        fragment.append(list);
      }
      const li = doc.createElement("li");
      appendInline(li, item[2]);
      list.append(li);
      continue;
    }
    const quote = /^>\s?(.*)$/.exec(line);
    if (quote) {
      flushParagraph();
      closeList();
      const last = fragment.lastChild;
      const block = last instanceof HTMLQuoteElement ? last : doc.createElement("blockquote");
      if (block !== last) fragment.append(block);
      const p = doc.createElement("p");
      appendInline(p, quote[1]);
      block.append(p);
      continue;
    }
    if (line.trim() === "") {
      flushParagraph();
      closeList();
      continue;
    }
    closeList();
    paragraph.push(line.trim());
  }
  flushParagraph();
  target.replaceChildren(fragment);
}

/**
 * Appends `text` with its inline marks (`code`, **strong**, *em*, [links](url)).
 * @param {HTMLElement} parent
 * @param {string} text
 */
function appendInline(parent, text) {
  const doc = parent.ownerDocument;
  const pattern = /`([^`]+)`|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*]+)\*|_([^_]+)_|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let at = 0;
  for (const match of text.matchAll(pattern)) {
    const index = match.index ?? 0;
    if (index > at) parent.append(text.slice(at, index));
    if (match[1] !== undefined) {
      const code = doc.createElement("code");
      code.textContent = match[1];
      parent.append(code);
    } else if (match[2] !== undefined || match[3] !== undefined) {
      const strong = doc.createElement("strong");
      appendInline(strong, match[2] ?? match[3] ?? "");
      parent.append(strong);
    } else if (match[4] !== undefined || match[5] !== undefined) {
      const em = doc.createElement("em");
      appendInline(em, match[4] ?? match[5] ?? "");
      parent.append(em);
    } else {
      parent.append(link(doc, match[6] ?? "", match[7] ?? ""));
    }
    at = index + match[0].length;
  }
  if (at < text.length) parent.append(text.slice(at));
}

/**
 * A link only for http(s) and relative targets; anything else stays text.
 * @param {Document} doc
 * @param {string} label
 * @param {string} href
 */
function link(doc, label, href) {
  if (!/^(https?:|\/|#)/i.test(href)) return doc.createTextNode(label);
  const a = doc.createElement("a");
  a.href = href;
  a.rel = "noopener noreferrer";
  a.textContent = label;
  return a;
}
