/**
 * The relay needs JetStream with Nats-Msg-Id dedupe and Nats-Expected-Last-Sequence, present since 2.2; we require 2.9
 * (the baseline the project is tested on).
 */
export const RELAY_MIN_SERVER_VERSION: [number, number, number] = [2, 9, 0];

export function parseServerVersion(v: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Why the relay must not start on this server, or null when it may. */
export function relayServerProblem(info: { version?: string; jetstream?: boolean } | undefined): string | null {
  if (!info) return 'no INFO from the server';
  const v = parseServerVersion(info.version ?? '');
  if (!v) return `unparseable nats-server version "${String(info.version)}"`;
  const min = RELAY_MIN_SERVER_VERSION;
  for (let i = 0; i < 3; i++) {
    if (v[i] > min[i]) break;
    if (v[i] < min[i]) return `nats-server ${info.version} is older than ${min.join('.')}`;
  }
  if (info.jetstream !== true) return `JetStream is not enabled on nats-server ${info.version} (start it with -js)`;
  return null;
}
