import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Axis,
  CampaignConfig,
  claudeModelProblem,
  zodIssues,
  type CommandDefinition,
  type CommandReply,
} from '@aevo/contracts';
import type { EventStore, StoredEvent } from '@aevo/eventstore';
import {
  applyView,
  emptyView,
  ended,
  renderView,
  statusOf,
  VIEW_EVENT_TYPES,
  type CampaignFollow,
} from './campaign-view';
import { REPO_ROOT } from './stack';

/** Sends commands (a CommandClient in production). */
export interface CommandSender {
  send(
    def: CommandDefinition,
    payload: unknown,
    opts?: { commandId?: string; timeoutMs?: number },
  ): Promise<CommandReply>;
  close(): Promise<void>;
}

/** A refusal of the user's input: printed naming the option, exit code 2. */
export class UsageError extends Error {}
/** A refusal by a service or an unreachable one: exit 1 (refused) or 3 (unreachable). */
export class CommandFailed extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Campaign config fields → the `aevo campaign start` option that sets them. */
export const OPTION_OF: Record<string, string> = {
  campaignId: '--id',
  name: '--name',
  substratePath: '--substrate',
  constitutionPath: '--constitution',
  size: '--size',
  rounds: '--rounds',
  workersPerRound: '--workers',
  axes: '--axes',
  anchorSeeds: '--anchor-seeds',
  seed: '--seed',
  workerKind: '--worker-kind',
  metaKind: '--meta-kind',
  claudeModel: '--model',
  leaderboard: '--leaderboard',
  executor: '--executor',
  roundStart: '--manual-rounds',
  'budgets.gpuSeconds': '--gpu-seconds',
  'budgets.llmTokens': '--llm-tokens',
  'budgets.submissionsPerRound': '--submissions',
};

/** The option a payload path names (`payload.budgets.gpuSeconds` → `--gpu-seconds`), else the path itself. */
export function optionFor(p: string, names: Record<string, string> = OPTION_OF): string {
  const bare = p.replace(/^payload\./, '');
  for (let parts = bare.split('.'); parts.length > 0; parts = parts.slice(0, -1)) {
    const hit = names[parts.join('.')];
    if (hit) return hit;
  }
  return bare;
}

/** Names for commands that take the campaign as an argument (pause, resume, abort, round start). */
export const ARGUMENT_NAMES: Record<string, string> = {
  campaignId: '<campaign>',
  round: '--round',
  reason: '--reason',
};

/** A relative path that exists from the working directory is taken from there, else from the repository root. */
export function resolveInput(p: string, cwd = process.cwd(), root = REPO_ROOT): string {
  if (path.isAbsolute(p)) return p;
  const here = path.resolve(cwd, p);
  if (fs.existsSync(here)) return here;
  return path.resolve(root, p);
}

export const SEARCH_AXES: string[] = Axis.options.filter((a) => a !== 'baseline');
export const DEFAULT_CONSTITUTION = 'deploy/constitutions/default.yaml';

export interface StartOptions {
  id?: string;
  name?: string;
  substrate: string;
  constitution: string;
  size: string;
  rounds: number;
  workers: number;
  axes: string[];
  anchorSeeds: number;
  seed: number;
  gpuSeconds: number;
  llmTokens: number;
  submissions: number;
  workerKind: string;
  metaKind: string;
  /** The campaign's Claude model; absent: the orchestrator records DEFAULT_CLAUDE_MODEL. */
  model?: string;
  leaderboard: string;
  executor: string;
  manualRounds?: boolean;
}

/** Builds and validates the StartCampaign payload; a bad value is refused naming its option. */
export function campaignPayload(o: StartOptions, now = new Date()): CampaignConfig {
  const id = o.id ?? `campaign-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  const raw = {
    campaignId: id,
    ...(o.name ? { name: o.name } : {}),
    substratePath: resolveInput(o.substrate),
    constitutionPath: resolveInput(o.constitution),
    size: o.size,
    rounds: o.rounds,
    workersPerRound: o.workers,
    axes: o.axes,
    anchorSeeds: o.anchorSeeds,
    seed: o.seed,
    workerKind: o.workerKind,
    metaKind: o.metaKind,
    ...(o.model !== undefined ? { claudeModel: o.model } : {}),
    leaderboard: o.leaderboard,
    executor: o.executor,
    ...(o.manualRounds ? { roundStart: 'manual' } : {}),
    budgets: { gpuSeconds: o.gpuSeconds, llmTokens: o.llmTokens, submissionsPerRound: o.submissions },
  };
  const parsed = CampaignConfig.safeParse(raw);
  const problems = [
    ...(parsed.success ? [] : zodIssues(parsed.error).map((i) => `${optionFor(i.path)}: ${i.message}`)),
    ...(fs.existsSync(raw.substratePath) ? [] : [`--substrate: ${raw.substratePath} does not exist`]),
    ...(fs.existsSync(raw.constitutionPath) ? [] : [`--constitution: ${raw.constitutionPath} does not exist`]),
    // Checked here too, so a typo is refused before anything is sent; the orchestrator checks it again at the start.
    ...(o.model !== undefined && parsed.success
      ? [claudeModelProblem(o.model, now)].filter((x): x is string => x !== null).map((m) => `--model: ${m}`)
      : []),
  ];
  if (!parsed.success || problems.length > 0) throw new UsageError(problems.join('; '));
  return parsed.data;
}

/** Codes that mean the user's input was refused (exit 2), as opposed to a state refusal (exit 1). */
const INPUT_CODES = new Set([
  'INVALID_COMMAND',
  'INVALID_JSON',
  'INVALID_CAMPAIGN',
  'INVALID_CAMPAIGN_INPUTS',
  'INVALID_CLAUDE_MODEL',
  'CONSTITUTION_VIOLATION',
]);

/** Turns a failed reply into the error the CLI prints: issues named by option, exit 2/1/3. */
export function replyError(
  command: string,
  reply: CommandReply & { ok: false },
  names: Record<string, string> = OPTION_OF,
): Error {
  const { code, message, issues } = reply.error;
  if (code === 'NO_RESPONDERS' || code === 'TIMEOUT')
    return new CommandFailed(
      `${command}: ${code} — ${message}. Is the control plane running (aevo up) with the same ` +
        `AEVO_NATS_URL / AEVO_SUBJECT_PREFIX?`,
      3,
    );
  const named = issues.map((i) => `${optionFor(i.path, names)}: ${i.message}`).join('; ');
  const text = `${command} refused: ${code} — ${message}${named ? ` (${named})` : ''}`;
  return INPUT_CODES.has(code) ? new UsageError(text) : new CommandFailed(text, 1);
}

/** Reads a campaign's view from the store, from `from` on (incremental for watch). */
export async function readView(store: EventStore, v: CampaignFollow, from: number): Promise<number> {
  let last = from;
  for (;;) {
    const page: StoredEvent[] = await store.readAll({
      campaignId: v.campaignId,
      types: VIEW_EVENT_TYPES,
      fromPosition: last,
      limit: 5000,
    });
    for (const e of page) applyView(v, e);
    if (page.length > 0) last = page[page.length - 1].position;
    if (page.length < 5000) return last;
  }
}

export interface CampaignRow {
  campaignId: string;
  status: string;
  rounds: string;
  bestPublicLb: number | null;
}

/** One line per campaign in the store (for `aevo campaign status` without an id). */
export async function listCampaigns(store: EventStore): Promise<CampaignRow[]> {
  const events = await store.readAll({
    types: [
      'CampaignStarted',
      'RoundClosed',
      'CampaignPaused',
      'CampaignResumed',
      'CampaignAborted',
      'FinalAuditStarted',
      'CampaignCompleted',
    ],
  });
  const follows = new Map<string, CampaignFollow>();
  for (const e of events) {
    let f = follows.get(e.campaignId);
    if (!f) follows.set(e.campaignId, (f = emptyView(e.campaignId)));
    applyView(f, e);
  }
  const views = new Map([...follows].map(([id, f]) => [id, statusOf(f)]));
  const closed = new Map<string, { n: number; best: number | null }>();
  for (const e of events) {
    if (e.type !== 'RoundClosed') continue;
    const c = closed.get(e.campaignId) ?? { n: 0, best: null };
    const b = (e.data as { bestPublicLb: number | null }).bestPublicLb;
    closed.set(e.campaignId, { n: c.n + 1, best: b !== null && (c.best === null || b > c.best) ? b : c.best });
  }
  return [...views.values()]
    .filter((v) => v.config)
    .map((v) => ({
      campaignId: v.campaignId,
      status: v.status,
      rounds: `${closed.get(v.campaignId)?.n ?? 0}/${v.config?.rounds}`,
      bestPublicLb: closed.get(v.campaignId)?.best ?? null,
    }));
}

export interface WatchIo {
  out: (line: string) => void;
  tty: boolean;
  sleep: (ms: number) => Promise<void>;
  /** Resolves when the user interrupts. */
  interrupted: () => boolean;
}

/**
 * Redraws the campaign's progress until it completes or is aborted (exit 0 / 1), or the timeout passes (exit 3).
 * On a terminal the screen is redrawn; otherwise a frame is printed only when the round/candidate summary changed.
 */
export async function watchCampaign(
  store: EventStore,
  campaignId: string,
  io: WatchIo,
  opts: { intervalMs: number; timeoutMs?: number },
): Promise<number> {
  const follow = emptyView(campaignId);
  let pos = 0;
  let lastKey = '';
  const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
  for (;;) {
    pos = await readView(store, follow, pos);
    const v = statusOf(follow);
    const frame = renderView(v);
    if (io.tty) {
      io.out(`\x1b[H\x1b[2J${frame.join('\n')}`);
    } else {
      // Job counters change constantly; print when statuses, scores or the round table change.
      const key = JSON.stringify([
        v.status,
        v.rounds.map((r) => [
          r.status,
          r.submissions,
          r.revisedTo,
          r.candidates.map((c) => [c.status, c.submission, c.dev, c.publicLb, c.privateLb]),
        ]),
      ]);
      if (key !== lastKey) {
        io.out(frame.join('\n'));
        io.out('');
        lastKey = key;
      }
    }
    if (ended(v)) return v.status === 'completed' ? 0 : 1;
    if (Date.now() > deadline) {
      io.out(
        `aevo: campaign ${campaignId} did not end within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s ` +
          `(status ${v.status})`,
      );
      return 3;
    }
    if (io.interrupted()) return 130;
    await io.sleep(opts.intervalMs);
  }
}
