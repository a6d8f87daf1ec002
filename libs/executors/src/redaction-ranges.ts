// Redaction ranges: what the scrubbers find, merged, and applied to a text (shared by secrets.ts and scrub-stream.ts).

export type RedactionKind =
  | 'secret'
  | 'anthropic-key'
  | 'openai-key'
  | 'github-token'
  | 'aws-access-key'
  | 'slack-token'
  | 'jwt'
  | 'nats-nkey'
  | 'bearer-token'
  | 'basic-auth'
  | 'private-key'
  | 'url-credentials'
  | 'assignment';

export const redactionMarker = (kind: RedactionKind): string => `[redacted:${kind}]`;

export interface RedactionRange {
  start: number;
  end: number;
  kind: RedactionKind;
}

export function mergeRanges(found: RedactionRange[]): RedactionRange[] {
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: RedactionRange[] = [];
  for (const r of found) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

export function applyRanges(
  text: string,
  ranges: RedactionRange[],
  upTo = text.length,
): { text: string; count: number } {
  if (ranges.length === 0) return { text: text.slice(0, upTo), count: 0 };
  let out = '';
  let pos = 0;
  let count = 0;
  for (const r of ranges) {
    if (r.start >= upTo) break;
    out += text.slice(pos, r.start) + redactionMarker(r.kind);
    pos = r.end;
    count++;
  }
  return { text: out + text.slice(pos, Math.max(pos, upTo)), count };
}

/**
 * Where the run of base64-looking whole lines (of at least `minLength` characters) that ends at `cut`, a line start,
 * begins; `cut` if there is none.
 */
export function blockStart(text: string, cut: number, minLength = 16): number {
  const line = new RegExp(`^[A-Za-z0-9+/_=-]{${minLength},}$`);
  let start = cut;
  while (start > 0) {
    const prev = text.lastIndexOf('\n', start - 2) + 1; // start of the line that ends at start - 1
    if (!line.test(text.slice(prev, start - 1).replace(/\r$/, ''))) break;
    start = prev;
  }
  return start;
}
