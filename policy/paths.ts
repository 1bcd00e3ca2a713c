/**
 * Property paths: `spec.template.spec.containers[0].image`, keys with dots or slashes in brackets
 * (`metadata.labels["app.kubernetes.io/name"]`), `*` or `[*]` for any key or index. Ignore patterns are compiled into
 * a trie so the diff checks them in O(depth) with nothing to do once no pattern can match any more.
 */

export type Segment = string | number;

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function formatPath(segments: readonly Segment[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (PLAIN_KEY.test(s)) out += out === "" ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Parses a path pattern into segments; throws on malformed input. */
export function parsePath(pattern: string): string[] {
  const out: string[] = [];
  let i = 0;
  const fail = (why: string) => {
    throw new Error(`invalid property path "${pattern}": ${why} at position ${i}`);
  };
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === ".") {
      if (i === 0 || i === pattern.length - 1) fail("stray '.'");
      i++;
    } else if (c === "[") {
      const close = pattern.indexOf("]", i);
      if (close < 0) fail("unclosed '['");
      const inner = pattern.slice(i + 1, close);
      if (inner.startsWith('"')) {
        // A quoted key may itself contain ']', so find the closing quote first.
        const end = pattern.indexOf('"]', i + 2);
        if (end < 0) fail('unclosed ["...');
        out.push(JSON.parse(pattern.slice(i + 1, end + 1)) as string);
        i = end + 2;
        continue;
      }
      if (inner !== "*" && !/^\d+$/.test(inner)) fail(`expected [number], [*] or ["key"], got [${inner}]`);
      out.push(inner);
      i = close + 1;
    } else {
      let j = i;
      while (j < pattern.length && pattern[j] !== "." && pattern[j] !== "[") j++;
      out.push(pattern.slice(i, j));
      i = j;
    }
  }
  if (out.length === 0) fail("empty path");
  return out;
}

export interface PathTrie {
  children: Map<string, PathTrie>;
  /** A pattern ends here: this node and everything below it is ignored. */
  terminal: boolean;
}

export function buildTrie(patterns: readonly string[]): PathTrie {
  const root: PathTrie = { children: new Map(), terminal: false };
  for (const p of patterns) {
    let node = root;
    for (const seg of parsePath(p)) {
      let next = node.children.get(seg);
      if (!next) {
        next = { children: new Map(), terminal: false };
        node.children.set(seg, next);
      }
      node = next;
    }
    node.terminal = true;
  }
  return root;
}

/** Advances the active trie nodes by one key. `ignored` when some pattern ends exactly here. */
export function stepTrie(nodes: readonly PathTrie[], key: Segment): { next: PathTrie[]; ignored: boolean } {
  const next: PathTrie[] = [];
  const k = String(key);
  for (const n of nodes) {
    const exact = n.children.get(k);
    if (exact) {
      if (exact.terminal) return { next, ignored: true };
      next.push(exact);
    }
    const any = n.children.get("*");
    if (any) {
      if (any.terminal) return { next, ignored: true };
      next.push(any);
    }
  }
  return { next, ignored: false };
}
