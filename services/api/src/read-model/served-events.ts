import type { SecretScrubber } from '@aevo/executors';

/**
 * An event as the API serves it: every string of its data passed through the scrubber. Defence in depth: terminal
 * job events carry log tails of hostile jobs, and events recorded before tails were scrubbed (or by a mis-configured
 * executor) are append-only, so the read side redacts again. Copy-on-write: an event with nothing to redact is
 * returned as is.
 */
export function servedEvent<E extends { data: unknown }>(e: E, scrubber: SecretScrubber): E {
  const data = scrubValue(e.data, scrubber);
  return data === e.data ? e : { ...e, data };
}

function scrubValue(v: unknown, scrubber: SecretScrubber): unknown {
  if (typeof v === 'string') return v.length < 4 ? v : scrubber.scrub(v);
  if (Array.isArray(v)) {
    const out = v.map((x) => scrubValue(x, scrubber));
    return out.some((x, i) => x !== v[i]) ? out : v;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    const out = entries.map(([k, x]) => [k, scrubValue(x, scrubber)] as const);
    return out.some(([, x], i) => x !== entries[i][1]) ? Object.fromEntries(out) : v;
  }
  return v;
}
