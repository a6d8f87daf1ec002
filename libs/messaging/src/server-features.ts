/**
 * nats-server features by the version that introduced them. The server here is 2.9.10; with the v3 client some
 * of the newer features are silently ignored instead of refused, so a service must check before relying on one.
 */
export const FEATURE_MIN_VERSION = {
  jetstream: '2.2.0',
  /** Pull consumers with idle heartbeats, consumer create with a name, single `filter_subject` — what we use. */
  'pull-consumers': '2.9.0',
  /** Several filters on one consumer (`filter_subjects` array). */
  filter_subjects: '2.10.0',
  /** `+TERM <reason>`; 2.9 leaves a message terminated with a reason pending, so we always term without one. */
  'term-reason': '2.10.0',
  'consumer-pause': '2.11.0',
  'priority-groups': '2.11.0',
  'per-message-ttl': '2.11.0',
  'atomic-batch': '2.12.0',
  'expected-last-subject-sequence-subject': '2.12.0',
} as const;
export type ServerFeature = keyof typeof FEATURE_MIN_VERSION;

/** What every service needs from the server. */
export const BASELINE_FEATURES: ServerFeature[] = ['jetstream', 'pull-consumers'];

export class ServerFeatureError extends Error {
  constructor(
    public readonly version: string,
    public readonly missing: string[],
  ) {
    super(`nats-server ${version} cannot run this service: ${missing.join('; ')}`);
    this.name = 'ServerFeatureError';
  }
}

export function parseVersion(v: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

function atLeast(v: [number, number, number], min: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i] > min[i];
  return true;
}

export function serverSupports(version: string, feature: ServerFeature): boolean {
  const v = parseVersion(version);
  const min = parseVersion(FEATURE_MIN_VERSION[feature]);
  return v !== null && min !== null && atLeast(v, min);
}

/** The problems that stop a service from starting on a server with this INFO; empty when it may start. */
export function missingServerFeatures(
  info: { version: string; jetstream?: boolean },
  required: readonly ServerFeature[],
): string[] {
  const problems: string[] = [];
  if (parseVersion(info.version) === null) return [`unparseable server version "${info.version}"`];
  for (const f of new Set([...BASELINE_FEATURES, ...required])) {
    if (!serverSupports(info.version, f)) problems.push(`${f} needs nats-server >= ${FEATURE_MIN_VERSION[f]}`);
  }
  if (info.jetstream !== true) problems.push('JetStream is not enabled on the server (start it with -js)');
  return problems;
}
