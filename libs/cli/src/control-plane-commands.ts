import { Command, InvalidArgumentError, Option } from 'commander';
import {
  AbortCampaign,
  Axis,
  DEFAULT_CLAUDE_MODEL,
  PauseCampaign,
  ResumeCampaign,
  StartCampaign,
  StartRound,
  type CommandReply,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import {
  ARGUMENT_NAMES,
  campaignPayload,
  CommandFailed,
  DEFAULT_CONSTITUTION,
  listCampaigns,
  readView,
  replyError,
  SEARCH_AXES,
  UsageError,
  watchCampaign,
  type CommandSender,
  type StartOptions,
} from './campaign-commands';
import { emptyView, renderView, statusOf } from './campaign-view';
import { diffPolicy, policyHistory, showPolicy } from './policy-commands';
import { SERVICE_NAMES } from './stack';
import { down, up } from './up';

import { defaultStop, EXIT, type CliIo } from './cli-io';

export const positiveInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new InvalidArgumentError(`${name}: expected a positive integer, got "${v}"`);
  return Number(v);
};

const nonNegativeInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name}: expected an integer >= 0, got "${v}"`);
  return Number(v);
};
const positiveNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`${name}: expected a positive number, got "${v}"`);
  return n;
};
const list = (name: string, allowed?: readonly string[]) => (v: string, prev: string[] | undefined) => {
  const items = v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const unknown = allowed ? items.filter((x) => !allowed.includes(x)) : [];
  if (unknown.length > 0)
    throw new InvalidArgumentError(
      `${name}: unknown value(s) ${unknown.join(', ')} (expected some of: ${allowed?.join(', ')})`,
    );
  return [...(prev ?? []), ...items];
};

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sends one command and returns its result, or throws the reply's error named by option (exit 2/1/3). */
async function sendCommand(
  io: CliIo,
  def: Parameters<CommandSender['send']>[0],
  payload: unknown,
  label: string,
  opts: { commandId?: string; timeoutMs?: number } = {},
): Promise<unknown> {
  if (!io.commands) throw new CommandFailed('this aevo build cannot send commands (no NATS client configured)', 3);
  let client: CommandSender;
  try {
    client = await io.commands(io.env);
  } catch (err) {
    throw new CommandFailed(
      `${label}: cannot reach NATS at ${io.env.AEVO_NATS_URL ?? 'nats://127.0.0.1:4222'} (` +
        `${(err as Error).message}); is it running (aevo up)?`,
      3,
    );
  }
  try {
    const reply: CommandReply = await client.send(def, payload, {
      timeoutMs: opts.timeoutMs ?? 60_000,
      commandId: opts.commandId,
    });
    if (!reply.ok) throw replyError(label, reply, def === StartCampaign ? undefined : ARGUMENT_NAMES);
    return reply.result;
  } finally {
    await client.close();
  }
}

async function withStore<T>(io: CliIo, f: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await io.openStore(io.env);
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}

function watchIo(io: CliIo) {
  let interrupted = false;
  void (io.stopSignal ?? defaultStop)().then(() => (interrupted = true));
  return { out: io.out, tty: io.tty === true, sleep: io.sleep ?? defaultSleep, interrupted: () => interrupted };
}

function campaignStatus(io: CliIo, campaignId: string | undefined, json: boolean): Promise<number> {
  return withStore(io, async (store) => {
    if (!campaignId) {
      const rows = await listCampaigns(store);
      if (json) io.out(JSON.stringify(rows));
      else if (rows.length === 0) io.out('no campaigns recorded');
      else {
        io.out(`${'campaign'.padEnd(32)} ${'status'.padEnd(10)} rounds  best LB`);
        for (const r of rows)
          io.out(
            `${r.campaignId.padEnd(32)} ${r.status.padEnd(10)} ${r.rounds.padEnd(7)} ` +
              `${r.bestPublicLb === null ? '—' : r.bestPublicLb.toFixed(3)}`,
          );
      }
      return EXIT.ok;
    }
    const f = emptyView(campaignId);
    await readView(store, f, 0);
    const v = statusOf(f);
    if (!v.config)
      throw new UsageError(`<campaign>: no campaign "${campaignId}" in the store (aevo campaign status lists them)`);
    if (json) io.out(JSON.stringify(v));
    else for (const line of renderView(v)) io.out(line);
    return EXIT.ok;
  });
}

/** aevo up/down, campaign start|status|watch|pause|resume|abort, round start, policy show|diff. */
export function addControlPlaneCommands(program: Command, io: CliIo, result: { code: number }) {
  program
    .command('up')
    .description(
      'start every service (and the dashboard) as child processes; logs in <AEVO_HOME>/logs; Ctrl-C stops them all',
    )
    .option('--home <dir>', 'AEVO_HOME (default $AEVO_HOME or <repo>/.aevo)')
    .addOption(
      new Option(
        '--services <names>',
        `only these services (comma-separated; default all: ${SERVICE_NAMES.join(',')})`,
      ).argParser(list('--services')),
    )
    .option('--no-api', 'do not start the api / dashboard')
    .option(
      '--api-port <port>',
      'dashboard port (default $AEVO_API_PORT or 3000; 0 = any free port)',
      nonNegativeInt('--api-port'),
    )
    .option('--slots <n>', 'local executor slots (AEVO_LOCAL_SLOTS)', positiveInt('--slots'))
    .option('--no-infra', 'do not start PostgreSQL / nats-server when they are not reachable')
    .action(async (opts) => {
      result.code = await up(opts, {
        out: io.out,
        err: io.err,
        env: io.env,
        stopSignal: io.stopSignal ?? defaultStop,
        root: io.root,
      });
    });
  program
    .command('down')
    .description('stop the `aevo up` running for this AEVO_HOME (and its services)')
    .option('--home <dir>', 'AEVO_HOME (default $AEVO_HOME or <repo>/.aevo)')
    .option('--timeout <seconds>', 'how long to wait', positiveInt('--timeout'), 60)
    .action(async (opts) => {
      result.code = await down(
        { home: opts.home, timeoutMs: opts.timeout * 1000 },
        { out: io.out, env: io.env, root: io.root },
      );
    });

  const campaign = program.command('campaign').description('start, inspect and steer campaigns');
  campaign
    .command('start')
    .description('start a campaign (StartCampaign); rounds then run by themselves')
    .option('--id <campaignId>', 'campaign id (letters, digits, "-", "_"; default campaign-<time>)')
    .option('--name <text>', 'a readable name')
    .option(
      '--substrate <path>',
      'substrate directory (relative: from here, else from the repository root)',
      'substrate/wonderland',
    )
    .option('--constitution <path>', 'constitution YAML', DEFAULT_CONSTITUTION)
    .option('--size <size>', 'substrate size: tiny | cpu | gpu', 'tiny')
    .option('--rounds <n>', 'rounds', positiveInt('--rounds'), 2)
    .option('--workers <n>', 'workers (candidates) per round, the anchor included', positiveInt('--workers'), 4)
    .addOption(
      new Option('--axes <axes>', `search axes (comma-separated; default all: ${SEARCH_AXES.join(',')})`).argParser(
        list('--axes', Axis.options),
      ),
    )
    .option('--anchor-seeds <n>', 'seeds of the baseline anchor in round 1', positiveInt('--anchor-seeds'), 1)
    .option('--seed <n>', 'campaign seed (every random choice derives from it)', nonNegativeInt('--seed'), 1)
    .option(
      '--gpu-seconds <n>',
      'GPU-second budget (CPU-slot-seconds on a CPU machine)',
      positiveNumber('--gpu-seconds'),
      86_400,
    )
    .option('--llm-tokens <n>', 'LLM token budget (0: none may be spent)', nonNegativeInt('--llm-tokens'), 0)
    .option('--submissions <n>', 'leaderboard submissions per round', positiveInt('--submissions'), 2)
    .addOption(new Option('--worker-kind <kind>', 'workers').choices(['heuristic', 'claude']).default('heuristic'))
    .addOption(new Option('--meta-kind <kind>', 'meta agent').choices(['rules', 'claude']).default('rules'))
    .option(
      '--model <id>',
      `Claude model of the campaign's Claude worker, meta agent and evidence prose (default ` +
        `${DEFAULT_CLAUDE_MODEL}; a retired or unknown id is refused)`,
    )
    .addOption(new Option('--leaderboard <board>', 'leaderboard').choices(['local', 'kaggle']).default('local'))
    .addOption(new Option('--executor <executor>', 'job executor').choices(['local', 'kubernetes']).default('local'))
    .option('--manual-rounds', 'each round waits for `aevo round start`')
    .option('--command-id <id>', 'idempotency key (a retry with the same id is applied once)')
    .option('--watch', 'then watch it until it ends')
    .option('--interval <ms>', 'watch refresh period', positiveInt('--interval'), 1000)
    .option('--json', 'print the reply as JSON')
    .action(
      async (
        opts: StartOptions & { axes?: string[]; commandId?: string; watch?: boolean; interval: number; json?: boolean },
      ) => {
        const payload = campaignPayload({ ...opts, axes: opts.axes ?? SEARCH_AXES });
        const reply = (await sendCommand(io, StartCampaign, payload, 'StartCampaign', {
          commandId: opts.commandId,
        })) as { campaignId: string; constitutionSha256: string };
        if (opts.json) io.out(JSON.stringify(reply));
        else {
          io.out(
            `started campaign ${reply.campaignId}: ${payload.rounds} round(s) × ${payload.workersPerRound}` +
              ` worker(s) on ${payload.substratePath} (${payload.size}), constitution ` +
              `${reply.constitutionSha256.slice(0, 12)}…`,
          );
          if (!opts.watch) io.out(`follow it with: aevo campaign watch ${reply.campaignId}`);
        }
        result.code = opts.watch
          ? await withStore(io, (store) =>
              watchCampaign(store, reply.campaignId, watchIo(io), { intervalMs: opts.interval }),
            )
          : EXIT.ok;
      },
    );
  campaign
    .command('status [campaign]')
    .description('one campaign’s rounds and candidates, or every campaign when none is named')
    .option('--json', 'print JSON')
    .action(async (campaignId: string | undefined, opts: { json?: boolean }) => {
      result.code = await campaignStatus(io, campaignId, opts.json === true);
    });
  campaign
    .command('watch <campaign>')
    .description(
      'progress bars per round and per candidate (jobs running, done, failed) and the dev/LB table; exits ' +
        'when the campaign ends (0 completed, 1 aborted)',
    )
    .option('--interval <ms>', 'refresh period', positiveInt('--interval'), 1000)
    .option('--timeout <seconds>', 'give up after this long (exit 3)', positiveInt('--timeout'))
    .action(async (campaignId: string, opts: { interval: number; timeout?: number }) => {
      result.code = await withStore(io, async (store) => {
        const first = emptyView(campaignId);
        await readView(store, first, 0);
        if (!statusOf(first).config)
          throw new UsageError(
            `<campaign>: no campaign "${campaignId}" in the store (aevo campaign status lists them)`,
          );
        return watchCampaign(store, campaignId, watchIo(io), {
          intervalMs: opts.interval,
          timeoutMs: opts.timeout ? opts.timeout * 1000 : undefined,
        });
      });
    });
  campaign
    .command('pause <campaign>')
    .description('start no new submissions, rounds or final audit; running work finishes')
    .option('--reason <text>', 'why', 'paused by operator')
    .action(async (campaignId: string, opts: { reason: string }) => {
      await sendCommand(io, PauseCampaign, { campaignId, reason: opts.reason }, 'PauseCampaign');
      io.out(`campaign ${campaignId} paused`);
    });
  campaign
    .command('resume <campaign>')
    .description('continue a paused campaign from where the log says it is')
    .action(async (campaignId: string) => {
      await sendCommand(io, ResumeCampaign, { campaignId }, 'ResumeCampaign');
      io.out(`campaign ${campaignId} resumed`);
    });
  campaign
    .command('abort <campaign>')
    .description('stop a campaign for good and cancel its open jobs')
    .option('--reason <text>', 'why', 'aborted by operator')
    .action(async (campaignId: string, opts: { reason: string }) => {
      await sendCommand(io, AbortCampaign, { campaignId, reason: opts.reason }, 'AbortCampaign');
      io.out(`campaign ${campaignId} aborted`);
    });

  const round = program.command('round').description('rounds');
  round
    .command('start <campaign>')
    .description(
      'start the next round (for campaigns started with --manual-rounds; otherwise rounds start by themselves)',
    )
    .option('--round <n>', 'which round (default: the next one)', positiveInt('--round'))
    .action(async (campaignId: string, opts: { round?: number }) => {
      let n = opts.round;
      if (n === undefined) {
        const f = emptyView(campaignId);
        await withStore(io, (store) => readView(store, f, 0));
        const v = statusOf(f);
        if (!v.config) throw new UsageError(`<campaign>: no campaign "${campaignId}" in the store`);
        n = v.rounds.length + 1;
      }
      const r = (await sendCommand(io, StartRound, { campaignId, round: n }, 'StartRound')) as {
        round: number;
        policyRevision: number;
        candidates: Array<{ candidateId: string; axis: string }>;
      };
      io.out(
        `round ${r.round} of ${campaignId} started under policy revision ${r.policyRevision}: ` +
          `${r.candidates.map((c) => `${c.candidateId} (${c.axis})`).join(', ')}`,
      );
    });

  const policy = program.command('policy').description('the rolling search policy');
  policy
    .command('show <campaign>')
    .description('a policy revision (default: the newest)')
    .option('--revision <n>', 'revision', nonNegativeInt('--revision'))
    .option('--json', 'print the policy document as JSON')
    .action(async (campaignId: string, opts: { revision?: number; json?: boolean }) => {
      const h = await withStore(io, (store) => policyHistory(store, campaignId));
      for (const line of showPolicy(h, opts.revision, opts.json === true)) io.out(line);
    });
  policy
    .command('diff <campaign>')
    .description('what changed between two revisions (default: the newest and the one before)')
    .option('--from <n>', 'older revision', nonNegativeInt('--from'))
    .option('--to <n>', 'newer revision', nonNegativeInt('--to'))
    .action(async (campaignId: string, opts: { from?: number; to?: number }) => {
      const h = await withStore(io, (store) => policyHistory(store, campaignId));
      for (const line of diffPolicy(h, opts.from, opts.to)) io.out(line);
    });
}
