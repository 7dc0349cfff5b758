// What the docs tests read from Markdown: heading anchors as GitHub computes them, links, and code spans
// (outside fenced blocks, where neither is rendered).

/** Lines outside ``` fences, with their 1-based line numbers. */
function proseLines(markdown: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fenced = false;
  markdown.split("\n").forEach((line, i) => {
    if (/^\s*```/.test(line)) fenced = !fenced;
    else if (!fenced) out.push({ line, n: i + 1 });
  });
  return out;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats get -1, -2, ... */
export function githubAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { line } of proseLines(markdown)) {
    const m = /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const text = (m[2] as string).replace(/`/g, "");
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

const withoutCodeSpans = (line: string) => line.replace(/`[^`]*`/g, "");

/** Inline links `[text](target)`, outside code. */
export function markdownLinks(markdown: string): { target: string; line: number }[] {
  return proseLines(markdown).flatMap(({ line, n }) =>
    [...withoutCodeSpans(line).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({ target: m[1] as string, line: n })),
  );
}

/** Code spans outside fences, e.g. `testbed/docker/`. */
export function codeSpans(markdown: string): { code: string; line: number }[] {
  return proseLines(markdown).flatMap(({ line, n }) =>
    [...line.matchAll(/`([^`]+)`/g)].map((m) => ({ code: m[1] as string, line: n })),
  );
}
