import { StorageType, type JetStreamManager, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import { ensureEventStream } from './provisioning';
import { eventsWildcard } from './subjects';

/**
 * JetStream domains across clusters ("Across clusters" in ARCHITECTURE.md). The control cluster's NATS holds the
 * event stream in domain `hub`; each compute cluster runs a NATS leaf node with JetStream in a domain of its own and,
 * in it, a stream that *sources* the hub's event stream over the leaf connection. Compute services' durable pull
 * consumers then read their local stream: a lost link stops the copy, not the consumers, and the source resumes
 * after the last message it copied when the link returns.
 */

/** A JetStream domain name: one subject token (it becomes `$JS.<domain>.API`). */
const DOMAIN_NAME = /^[A-Za-z0-9_-]+$/;
const STREAM_NAME = /^[A-Za-z0-9_-]+$/;
const SUBJECT_TOKENS = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export const DEFAULT_HUB_DOMAIN = 'hub';

/** The API prefix that reaches JetStream in `domain` from any server linked to it by leaf connections. */
export function domainApiPrefix(domain: string): string {
  if (!DOMAIN_NAME.test(domain))
    throw new Error(`JetStream domain "${domain}": expected one token of letters, digits, "_" or "-"`);
  return `$JS.${domain}.API`;
}

export interface SourcedStreamSpec {
  /** The stream in the compute domain (the domain of the server `jsm` talks to). */
  stream: string;
  /** The control cluster's JetStream domain. */
  hubDomain: string;
  /** The event stream in the hub domain. */
  hubStream: string;
  /** Subject prefix: the source copies `<prefix>.evt.>`. */
  prefix: string;
  /** Copies kept by the compute domain's JetStream cluster (1, or 3 for a 3-server leaf cluster); default 1. */
  replicas?: number;
}

/** Every problem with a spec, each naming the field; empty when valid. */
export function sourcedStreamSpecProblems(spec: SourcedStreamSpec): string[] {
  const problems: string[] = [];
  if (!STREAM_NAME.test(spec.stream)) problems.push(`stream "${spec.stream}": expected letters, digits, "_" or "-"`);
  if (!STREAM_NAME.test(spec.hubStream))
    problems.push(`hubStream "${spec.hubStream}": expected letters, digits, "_" or "-"`);
  if (!DOMAIN_NAME.test(spec.hubDomain))
    problems.push(`hubDomain "${spec.hubDomain}": expected one token of letters, digits, "_" or "-"`);
  if (!SUBJECT_TOKENS.test(spec.prefix))
    problems.push(`prefix "${spec.prefix}": expected dot-separated tokens of letters, digits, "_" or "-"`);
  if (spec.replicas !== undefined && !(Number.isInteger(spec.replicas) && spec.replicas >= 1 && spec.replicas <= 5))
    problems.push(`replicas ${spec.replicas}: expected an integer from 1 to 5`);
  return problems;
}

/**
 * The compute-domain stream's configuration. It has no subjects of its own: a subject here would also capture the
 * hub's core publishes that cross the leaf connection, storing each event twice. The copied messages keep their
 * subjects (`<prefix>.evt.<campaignId>.<Type>`), so consumers filter exactly as on the hub. File storage, no age
 * limit, delete and purge denied: like the hub's stream, a copy of the record that is only appended to.
 */
export function sourcedStreamConfig(spec: SourcedStreamSpec): Partial<StreamConfig> & { name: string } {
  const problems = sourcedStreamSpecProblems(spec);
  if (problems.length > 0) throw new Error(`invalid sourced stream: ${problems.join('; ')}`);
  return {
    name: spec.stream,
    storage: StorageType.File,
    deny_delete: true,
    deny_purge: true,
    max_age: 0,
    num_replicas: spec.replicas ?? 1,
    sources: [
      {
        name: spec.hubStream,
        filter_subject: eventsWildcard(spec.prefix),
        external: { api: domainApiPrefix(spec.hubDomain) },
      },
    ],
  };
}

/**
 * Why an existing stream is not the sourced stream `spec` describes; empty when it is. Only what the copy's
 * correctness depends on is checked: no own subjects, and exactly one source, the hub stream through the hub's API,
 * copying `<prefix>.evt.>` (or everything).
 */
export function sourcedStreamProblems(config: Partial<StreamConfig>, spec: SourcedStreamSpec): string[] {
  const problems: string[] = [];
  const name = config.name ?? spec.stream;
  if ((config.subjects ?? []).length > 0)
    problems.push(`stream ${name} captures subjects (${config.subjects?.join(', ')}); a sourced copy must have none`);
  if (config.mirror) problems.push(`stream ${name} is a mirror of ${config.mirror.name}, not a sourced stream`);
  const sources = config.sources ?? [];
  const api = domainApiPrefix(spec.hubDomain);
  const wantedFilter = eventsWildcard(spec.prefix);
  const match = sources.find((s) => s.name === spec.hubStream && s.external?.api === api);
  if (!match) {
    const have = sources.map((s) => `${s.name} via ${s.external?.api ?? 'its own domain'}`).join(', ') || 'none';
    problems.push(`stream ${name} does not source ${spec.hubStream} via ${api} (sources: ${have})`);
  } else if (match.filter_subject !== undefined && match.filter_subject !== '' && match.filter_subject !== wantedFilter)
    problems.push(`stream ${name} sources ${spec.hubStream} filtered by ${match.filter_subject}, not ${wantedFilter}`);
  if (sources.length > 1)
    problems.push(`stream ${name} has ${sources.length} sources; events must come from ${spec.hubStream} alone`);
  return problems;
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  return e?.name === 'StreamNotFoundError' || e?.code === 404 || /not found/i.test(String(e?.message ?? ''));
}

/**
 * Makes sure the compute domain (the one `jsm` talks to) holds a stream sourcing the hub's event stream. Created only
 * when missing; an existing stream is never reconfigured, only checked (as `ensureEventStream` does on the hub).
 * The hub stream need not exist yet: the server retries the source until it does and the link is up.
 */
export async function ensureSourcedEventStream(jsm: JetStreamManager, spec: SourcedStreamSpec): Promise<StreamInfo> {
  const config = sourcedStreamConfig(spec);
  const check = (info: StreamInfo): StreamInfo => {
    const problems = sourcedStreamProblems(info.config, spec);
    if (problems.length > 0) throw new Error(problems.join('; '));
    return info;
  };
  try {
    return check(await jsm.streams.info(spec.stream));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    return await jsm.streams.add(config);
  } catch (err) {
    // Another replica created it first.
    const info = await jsm.streams.info(spec.stream).catch(() => null);
    if (info) return check(info);
    throw err;
  }
}

/** How far the local copy is behind the hub, as the compute domain's server reports it. */
export interface SourceStatus {
  /** Messages on the hub not yet copied; the server's last view, so stale while the link is down. */
  lag: number;
  /** Milliseconds since the source last received anything; null when it never did. */
  idleMs: number | null;
  /** The server's error with the source (e.g. the hub's API unreachable), if any. */
  error: string | null;
}

export function sourceStatus(info: Pick<StreamInfo, 'sources'>, hubStream: string): SourceStatus | null {
  const s = (info.sources ?? []).find((x) => x.name === hubStream);
  if (!s) return null;
  return {
    lag: s.lag,
    idleMs: s.active < 0 ? null : Math.round(s.active / 1_000_000),
    error: s.error ? `${s.error.code} ${s.error.description ?? ''}`.trim() : null,
  };
}

/**
 * Where a service's events come from. `hub`: the service reads the hub's stream (the control cluster, or a compute
 * cluster whose leaf has no JetStream). `compute`: the service's server is a leaf in `domain`, whose `stream` sources
 * `hubStream` from `hubDomain`.
 */
export type EventDomainConfig =
  | { role: 'hub'; stream: string }
  | { role: 'compute'; domain: string; hubDomain: string; hubStream: string; stream: string; prefix: string };

/**
 * Reads AEVO_JS_DOMAIN (the compute cluster's JetStream domain; unset or empty: the hub role), AEVO_HUB_DOMAIN
 * (default `hub`) and AEVO_HUB_STREAM (default: the local stream's name, AEVO_STREAM — the same name in another
 * domain is another stream, and the generated NATS permissions, which name the stream, stay valid unchanged).
 * Throws naming each bad variable.
 */
export function resolveEventDomain(
  messaging: { stream: string; subjectPrefix: string },
  env: NodeJS.ProcessEnv,
): EventDomainConfig {
  const domain = env.AEVO_JS_DOMAIN ?? '';
  if (domain === '') return { role: 'hub', stream: messaging.stream };
  const hubDomain = env.AEVO_HUB_DOMAIN || DEFAULT_HUB_DOMAIN;
  const hubStream = env.AEVO_HUB_STREAM || messaging.stream;
  const problems: string[] = [];
  if (!DOMAIN_NAME.test(domain))
    problems.push(`AEVO_JS_DOMAIN "${domain}": expected one token of letters, digits, "_" or "-"`);
  if (!DOMAIN_NAME.test(hubDomain))
    problems.push(`AEVO_HUB_DOMAIN "${hubDomain}": expected one token of letters, digits, "_" or "-"`);
  if (!STREAM_NAME.test(hubStream))
    problems.push(`AEVO_HUB_STREAM "${hubStream}": expected letters, digits, "_" or "-"`);
  if (problems.length === 0 && domain === hubDomain)
    problems.push(`AEVO_JS_DOMAIN "${domain}" is the hub's domain: a compute cluster needs a domain of its own`);
  if (problems.length > 0) throw new Error(`invalid JetStream domain configuration: ${problems.join('; ')}`);
  return { role: 'compute', domain, hubDomain, hubStream, stream: messaging.stream, prefix: messaging.subjectPrefix };
}

/**
 * The stream a service's durable consumers read: the hub's event stream (created when missing, never reconfigured),
 * or in a compute domain the stream sourcing it. A compute service refuses to start on a server whose JetStream
 * domain is not its own: on a leaf without JetStream, `$JS.API` would reach the hub's stream instead.
 */
export async function ensureServiceEventStream(
  jsm: JetStreamManager,
  opts: { stream: string; subjectPrefix: string; eventDomain?: EventDomainConfig },
): Promise<void> {
  const d = opts.eventDomain;
  if (!d || d.role === 'hub') {
    await ensureEventStream(jsm, opts.stream, opts.subjectPrefix);
    return;
  }
  const info = await jsm.getAccountInfo();
  if (info.domain !== d.domain)
    throw new Error(
      `AEVO_JS_DOMAIN=${d.domain} but the NATS server's JetStream domain is ${info.domain ?? '(none)'}: ` +
        `enable JetStream with domain ${d.domain} on the leaf server`,
    );
  await ensureSourcedEventStream(jsm, {
    stream: d.stream,
    hubDomain: d.hubDomain,
    hubStream: d.hubStream,
    prefix: d.prefix,
  });
}
