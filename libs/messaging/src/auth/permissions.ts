import { commandDefinition, commandDefinitions, eventDefinition, ServiceName } from '@aevo/contracts';
import { DEFAULTS } from '../config';
import { commandSubject, consumerName, eventsWildcard, eventTypeFilter } from '../subjects';

/**
 * A NATS user: one per service, plus the outbox relay (which may run inside a service process, on its own connection)
 * and the store gateway (the event store port over NATS for compute clusters, libs/eventstore/src/remote).
 */
export type NatsUser = ServiceName | 'relay' | 'store-gateway';

export const NATS_USERS: readonly NatsUser[] = [...ServiceName.options, 'relay', 'store-gateway'];

/**
 * What each user does on NATS beyond what the contracts say. Command handlers come from the contracts
 * (`commandDefinition(name).handler`); which events a service consumes and which commands it sends live only in
 * service code, so they are declared here and test/nats-auth.int.spec.ts checks them against `@OnEvent(...)` and
 * `.send(...)` in services/*\/src and libs/cli/src.
 */
export interface NatsAccessSpec {
  /** Event types each service reads through its durable pull consumers (`<service>__<Type>`). */
  consumes: Readonly<Partial<Record<ServiceName, readonly string[]>>>;
  /** Commands each user sends (request/reply). */
  sends: Readonly<Partial<Record<NatsUser, readonly string[]>>>;
  /** Users that read the whole stream through an ephemeral ordered consumer (`aevo audit`'s JetStream copy check). */
  auditors: readonly NatsUser[];
  /**
   * Services that may run with AEVO_EVENT_STORE=remote (in a compute cluster, no database connection): they may ask
   * the store gateway (`<prefix>.store.<op>`) and hear its head announcements.
   */
  storeClients: readonly ServiceName[];
  /**
   * Consuming services may create the stream when it is missing (provisioning.ts, with the fixed config), so that a
   * service started before the relay does not fail; they can never update, purge or delete it.
   */
  consumersMayCreateStream: boolean;
}

export const ACCESS: NatsAccessSpec = {
  consumes: {
    collector: [
      'RoundStarted',
      'ManifestSubmitted',
      'SubmissionRequested',
      'SubmissionAccepted',
      'LeaderboardScored',
      'SubmissionRejected',
      'FrozenPathViolated',
      'CampaignCompleted',
    ],
    dispatch: ['JobRequested', 'JobCancellationRequested'],
    evaluation: ['EvaluationRequested', 'JobSucceeded', 'JobFailed', 'JobCancelled'],
    leaderboard: [
      'CampaignStarted',
      'SubstrateSnapshotted',
      'SubmissionRequested',
      'JobSucceeded',
      'JobFailed',
      'JobCancelled',
    ],
    'meta-policy': ['RoundEvidenceRecorded'],
    orchestrator: [
      'CampaignStarted',
      'CampaignResumed',
      'ManifestSubmitted',
      'WorkerFailed',
      'FrozenPathViolated',
      'PolicyRevised',
      'FinalAuditStarted',
      'PrivateLeaderboardUnsealed',
      'SubstrateRejected',
      'SnapshotDamaged',
      'CampaignAborted',
      'BudgetExhausted',
    ],
    substrate: [
      'CampaignStarted',
      'RoundStarted',
      'ManifestSubmitted',
      'RoundClosed',
      'CampaignCompleted',
      'JobSucceeded',
      'JobFailed',
      'JobCancelled',
    ],
    worker: ['CandidateForked', 'CampaignAborted', 'BudgetExhausted'],
  },
  sends: {
    cli: ['StartCampaign', 'StartRound', 'PauseCampaign', 'ResumeCampaign', 'AbortCampaign'],
    orchestrator: ['CancelJob', 'UnsealPrivateLeaderboard'],
    evaluation: ['VerifySandbox'],
  },
  auditors: ['cli'],
  storeClients: ['worker', 'dispatch', 'evaluation'],
  consumersMayCreateStream: true,
};

export interface SubjectRules {
  allow: string[];
  deny: string[];
}

export interface UserPermissions {
  user: NatsUser;
  /** Replies come back here; the client must pass it as `inboxPrefix` (natsAuthFor does). */
  inboxPrefix: string;
  publish: SubjectRules;
  subscribe: SubjectRules;
  /** Lets a command handler publish once to the reply subject of a request it received. */
  allowResponses: boolean;
  /** Why the user has these subjects, for humans reading the generated file. */
  roles: string[];
}

export interface NatsPermissions {
  prefix: string;
  stream: string;
  users: UserPermissions[];
}

import { inboxPrefixFor, STORE_OPS } from '@aevo/eventstore';

export { inboxPrefixFor };

const JS = '$JS.API';

/** Every durable consumer of the declaration, as `[service, type, durable]`. */
export function declaredDurables(
  access: NatsAccessSpec = ACCESS,
): Array<{ service: ServiceName; type: string; durable: string }> {
  const out: Array<{ service: ServiceName; type: string; durable: string }> = [];
  for (const service of ServiceName.options)
    for (const type of access.consumes[service] ?? [])
      out.push({ service, type, durable: consumerName(service, type) });
  return out;
}

/** Checks the declaration against the contracts; throws naming each unknown event type, command or user. */
export function validateAccess(access: NatsAccessSpec = ACCESS): void {
  const problems: string[] = [];
  for (const [service, types] of Object.entries(access.consumes)) {
    if (!ServiceName.safeParse(service).success) problems.push(`consumes: "${service}" is not a ServiceName`);
    for (const t of types ?? [])
      if (!eventDefinition(t)) problems.push(`consumes.${service}: "${t}" is not a registered event type`);
  }
  for (const [user, names] of Object.entries(access.sends)) {
    if (!NATS_USERS.includes(user as NatsUser)) problems.push(`sends: "${user}" is not a NATS user`);
    for (const n of names ?? [])
      if (!commandDefinition(n)) problems.push(`sends.${user}: "${n}" is not a registered command`);
  }
  for (const a of access.auditors) if (!NATS_USERS.includes(a)) problems.push(`auditors: "${a}" is not a NATS user`);
  for (const c of access.storeClients)
    if (!ServiceName.safeParse(c).success) problems.push(`storeClients: "${c}" is not a ServiceName`);
  if (problems.length > 0) throw new Error(`invalid NATS access declaration: ${problems.join('; ')}`);
}

/**
 * The least-privilege subject permissions of every NATS user, for subject prefix `prefix` and event stream `stream`.
 * Anything not allowed is refused by nats-server; `<prefix>.evt.>` is also denied explicitly to all but the relay.
 */
export function natsPermissions(
  prefix: string = DEFAULTS.subjectPrefix,
  stream: string = DEFAULTS.stream,
  access: NatsAccessSpec = ACCESS,
): NatsPermissions {
  validateAccess(access);
  const durables = declaredDurables(access);
  const users: UserPermissions[] = [];
  for (const user of NATS_USERS) {
    const pub = new Set<string>();
    const pubDeny = new Set<string>();
    const sub = new Set<string>([`${inboxPrefixFor(user)}.>`]);
    const roles: string[] = [];
    let allowResponses = false;
    const service = user === 'relay' || user === 'store-gateway' ? null : user;
    const consumes = service === null ? [] : (access.consumes[service] ?? []);

    if (user === 'relay') {
      roles.push('outbox relay: publishes events, creates the stream or fixes its deny flags, reads its last messages');
      pub.add(eventsWildcard(prefix));
      for (const s of [
        `${JS}.INFO`,
        `${JS}.STREAM.INFO.${stream}`,
        `${JS}.STREAM.CREATE.${stream}`,
        `${JS}.STREAM.UPDATE.${stream}`,
        `${JS}.STREAM.MSG.GET.${stream}`,
      ])
        pub.add(s);
    } else {
      pubDeny.add(eventsWildcard(prefix));
    }

    if (consumes.length > 0) {
      roles.push(`consumes ${consumes.join(', ')}`);
      pub.add(`${JS}.INFO`);
      pub.add(`${JS}.STREAM.INFO.${stream}`);
      if (access.consumersMayCreateStream) pub.add(`${JS}.STREAM.CREATE.${stream}`);
      for (const type of consumes) {
        const durable = consumerName(user, type);
        pub.add(`${JS}.CONSUMER.INFO.${stream}.${durable}`);
        // Create and update both use CONSUMER.CREATE.<stream>.<name>.<filter> with nats-server >= 2.9 (the v3 client's
        // "new API"); pinning the filter keeps a service from re-pointing its durable at other events.
        pub.add(`${JS}.CONSUMER.CREATE.${stream}.${durable}.${eventTypeFilter(prefix, type)}`);
        pub.add(`${JS}.CONSUMER.MSG.NEXT.${stream}.${durable}`);
        // ack, nak, working (+WPI), term; ackAck is a request on the same subject.
        pub.add(`$JS.ACK.${stream}.${durable}.>`);
      }
    }

    if (user === 'store-gateway') {
      roles.push('store gateway: answers the event store port for remote stores, announces new heads');
      for (const op of STORE_OPS) sub.add(`${prefix}.store.${op}`);
      pub.add(`${prefix}.store.head`);
      allowResponses = true;
    }
    if (service !== null && access.storeClients.includes(service)) {
      roles.push('may use the event store through the store gateway (AEVO_EVENT_STORE=remote)');
      for (const op of STORE_OPS) pub.add(`${prefix}.store.${op}`);
      sub.add(`${prefix}.store.head`);
    }

    const handles = service === null ? [] : commandDefinitions().filter((c) => c.handler === service);
    if (handles.length > 0) {
      roles.push(`handles ${handles.map((c) => c.name).join(', ')}`);
      for (const c of handles) sub.add(commandSubject(prefix, c.name));
      allowResponses = true;
    }

    const sends = access.sends[user] ?? [];
    if (sends.length > 0) {
      roles.push(`sends ${sends.join(', ')}`);
      for (const n of sends) pub.add(commandSubject(prefix, n));
    }

    if (access.auditors.includes(user)) {
      roles.push(
        'audits the stream through an ephemeral ordered consumer (its name is random, so a wildcard, minus every ' +
          "service's durable)",
      );
      pub.add(`${JS}.INFO`);
      pub.add(`${JS}.STREAM.INFO.${stream}`);
      for (const op of ['CREATE', 'INFO', 'MSG.NEXT', 'DELETE']) pub.add(`${JS}.CONSUMER.${op}.${stream}.*`);
      pub.add(`${JS}.CONSUMER.CREATE.${stream}.*.>`);
      // Pulling from, re-creating or deleting a service's durable would steal or lose its deliveries.
      for (const d of durables)
        for (const op of ['CREATE', 'MSG.NEXT', 'DELETE']) {
          pubDeny.add(`${JS}.CONSUMER.${op}.${stream}.${d.durable}`);
          if (op === 'CREATE') pubDeny.add(`${JS}.CONSUMER.CREATE.${stream}.${d.durable}.>`);
        }
    }

    if (roles.length === 0) roles.push('no NATS access beyond its own inbox');
    // nats-server treats an empty allow list as "everything": publishing nothing must be an explicit deny-all.
    if (pub.size === 0) pubDeny.add('>');
    users.push({
      user,
      inboxPrefix: inboxPrefixFor(user),
      publish: { allow: [...pub], deny: [...pubDeny] },
      subscribe: { allow: [...sub], deny: [] },
      allowResponses,
      roles,
    });
  }
  return { prefix, stream, users };
}

/** The checked-in form (deploy/nats/permissions.json): stable key order and a trailing newline. */
export function permissionsFileText(decl: NatsPermissions): string {
  const generatedBy = 'tools/nats-auth-config.js from libs/messaging/src/auth/permissions.ts; do not edit';
  return `${JSON.stringify({ generatedBy, ...decl }, null, 2)}\n`;
}
