import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { EventStore, StoredEvent } from '@aevo/eventstore';
import { replayDetailed, defaultRegistry, type ReplayReport } from '@aevo/projections';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** Opens the store named by AEVO_DATABASE_URL / AEVO_DB_SCHEMA. */
  openStore: (env: NodeJS.ProcessEnv) => Promise<EventStore>;
  /** Resolves when a follow should stop (default: SIGINT/SIGTERM). */
  stopSignal?: () => Promise<void>;
}

/** Exit codes: 0 ok, 1 verification failed, 2 usage error, 3 runtime error (store unreachable, …). */
export const EXIT = { ok: 0, mismatch: 1, usage: 2, failure: 3 } as const;

class UsageError extends Error {}

function describeReport(r: ReplayReport, io: CliIo, json: boolean): void {
  if (json) {
    io.out(JSON.stringify({ upTo: r.upTo, events: r.events, projections: r.projections.map(({ name, hash, events, deterministic }) => ({ name, hash, events, deterministic })) }));
    return;
  }
  io.out(`replayed ${r.events} event(s) from position 0 to ${r.upTo}`);
  const width = Math.max(...r.projections.map((p) => p.name.length), 10);
  for (const p of r.projections) io.out(`${p.name.padEnd(width)}  ${p.hash}  ${String(p.events).padStart(8)} event(s)${p.deterministic ? '' : '  (operational)'}`);
}

async function auditReplay(io: CliIo, opts: { verify?: boolean; json?: boolean; projection?: string[] }): Promise<number> {
  let registry = defaultRegistry();
  if (opts.projection && opts.projection.length > 0) {
    try {
      registry = registry.only(opts.projection);
    } catch (err) {
      throw new UsageError(`--projection: ${(err as Error).message}`);
    }
  }
  const store = await io.openStore(io.env);
  try {
    const first = await replayDetailed(store, { registry });
    describeReport(first, io, opts.json === true);
    if (!opts.verify) return EXIT.ok;
    // Replay the same prefix of the log again and compare every hash.
    const second = await replayDetailed(store, { registry, toPosition: first.upTo });
    const mismatches = first.projections.filter((p, i) => p.hash !== second.projections[i]?.hash || p.events !== second.projections[i]?.events);
    if (second.upTo !== first.upTo) mismatches.push({ ...first.projections[0], name: `(log prefix: ${first.upTo} vs ${second.upTo})` });
    if (mismatches.length > 0) {
      for (const m of mismatches) {
        const again = second.projections.find((p) => p.name === m.name);
        io.err(`MISMATCH ${m.name}: ${m.hash} then ${again?.hash ?? '(missing)'}`);
      }
      io.err(`verification failed: ${mismatches.length} projection(s) differ between two replays of positions 1..${first.upTo}`);
      return EXIT.mismatch;
    }
    io.out(`verified: two replays of positions 1..${first.upTo} agree on all ${first.projections.length} projection hashes`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

export function formatEvent(e: StoredEvent, json: boolean, width = 160): string {
  if (json) return JSON.stringify(e);
  const data = JSON.stringify(e.data);
  const head = `${String(e.position).padStart(7)} ${e.time} ${e.campaignId} ${e.streamId}@${e.streamVersion} ${e.type} (${e.source})`;
  const room = Math.max(width - head.length - 1, 20);
  return `${head} ${data.length > room ? `${data.slice(0, room - 1)}…` : data}`;
}

const defaultStop = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

async function eventsTail(io: CliIo, opts: { campaign?: string; type?: string[]; follow?: boolean; limit: number; from?: number; json?: boolean }): Promise<number> {
  const store = await io.openStore(io.env);
  const types = opts.type && opts.type.length > 0 ? new Set(opts.type) : null;
  const matches = (e: StoredEvent) => (!opts.campaign || e.campaignId === opts.campaign) && (!types || types.has(e.type));
  try {
    const head = await store.headPosition();
    let last = 0;
    if (opts.from !== undefined) {
      // Everything from a position on (up to --limit).
      const events = await store.readAll({ fromPosition: opts.from, limit: opts.limit, campaignId: opts.campaign, types: types ? [...types] : undefined });
      for (const e of events) io.out(formatEvent(e, opts.json === true));
      last = events.length > 0 ? events[events.length - 1].position : opts.from;
    } else {
      // The last --limit matching events: page through, keeping a window.
      const window: StoredEvent[] = [];
      let from = 0;
      while (from < head) {
        const page = await store.readAll({ fromPosition: from, limit: 5000, campaignId: opts.campaign, types: types ? [...types] : undefined });
        if (page.length === 0) break;
        for (const e of page) {
          if (e.position > head) break;
          window.push(e);
          if (window.length > opts.limit) window.shift();
        }
        from = page[page.length - 1].position;
      }
      for (const e of window) io.out(formatEvent(e, opts.json === true));
      last = head;
    }
    if (!opts.follow) return EXIT.ok;
    const sub = store.subscribe(
      last,
      async (e) => {
        if (matches(e)) io.out(formatEvent(e, opts.json === true));
      },
      { campaignId: opts.campaign },
    );
    await Promise.race([(io.stopSignal ?? defaultStop)(), sub.done]);
    await sub.close();
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

const positiveInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${name}: expected a positive integer, got "${v}"`);
  return Number(v);
};
const position = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`--from: expected a position (integer >= 0), got "${v}"`);
  return Number(v);
};

/** The `aevo` command tree; actions report their exit code through `result.code`. */
export function buildProgram(io: CliIo, result: { code: number }): Command {
  const program = new Command('aevo')
    .description('aevo control plane: audit and inspect the event log')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride()
    .showHelpAfterError();

  const audit = program.command('audit').description('audit the campaign record');
  audit
    .command('replay')
    .description('rebuild every projection from position 0 and print a content hash per projection')
    .option('--verify', 'replay twice and compare the hashes; exit 1 on a mismatch')
    .option('--json', 'print one JSON document')
    .addOption(new Option('--projection <names...>', 'only these projections').argParser((v, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',')]))
    .action(async (opts) => {
      result.code = await auditReplay(io, opts);
    });

  const events = program.command('events').description('read the event log');
  events
    .command('tail')
    .description('print the last events (optionally only one campaign or some types) and, with --follow, new ones as they are appended')
    .option('--campaign <id>', 'only this campaign')
    .addOption(new Option('--type <types...>', 'only these event types (repeat or comma-separate)').argParser((v, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',')]))
    .option('--follow', 'keep printing new events until interrupted')
    .option('--limit <n>', 'how many events to print first', positiveInt('--limit'), 20)
    .option('--from <position>', 'print events after this position instead of the last ones', position)
    .option('--json', 'one JSON event per line')
    .action(async (opts) => {
      result.code = await eventsTail(io, opts);
    });

  return program;
}

/** Runs the CLI with user arguments (without "node aevo"); returns the exit code instead of exiting. */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  const result = { code: EXIT.ok as number };
  const program = buildProgram(io, result);
  try {
    await program.parseAsync(args, { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof UsageError) {
      io.err(`aevo: ${err.message}`);
      return EXIT.usage;
    }
    io.err(`aevo: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failure;
  }
}
