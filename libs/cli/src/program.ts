import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { StoredEvent } from '@aevo/eventstore';
import { CommandFailed, UsageError } from './campaign-commands';
import { appendAnchor, currentAnchor } from './anchors';
import { addReportCommand } from './report-command';

export { EXIT, type CliIo } from './cli-io';
import { defaultStop, EXIT, type CliIo } from './cli-io';
import { auditReplay } from './audit-commands';
import { addControlPlaneCommands, positiveInt } from './control-plane-commands';

export function formatEvent(e: StoredEvent, json: boolean, width = 160): string {
  if (json) return JSON.stringify(e);
  const data = JSON.stringify(e.data);
  const head =
    `${String(e.position).padStart(7)} ${e.time} ${e.campaignId} ${e.streamId}@${e.streamVersion} ${e.type} ` +
    `(${e.source})`;
  const room = Math.max(width - head.length - 1, 20);
  return `${head} ${data.length > room ? `${data.slice(0, room - 1)}…` : data}`;
}

async function eventsTail(
  io: CliIo,
  opts: { campaign?: string; type?: string[]; follow?: boolean; limit: number; from?: number; json?: boolean },
): Promise<number> {
  const store = await io.openStore(io.env);
  const types = opts.type && opts.type.length > 0 ? new Set(opts.type) : null;
  const matches = (e: StoredEvent) =>
    (!opts.campaign || e.campaignId === opts.campaign) && (!types || types.has(e.type));
  try {
    const head = await store.headPosition();
    let last = 0;
    if (opts.from !== undefined) {
      // Everything from a position on (up to --limit).
      const events = await store.readAll({
        fromPosition: opts.from,
        limit: opts.limit,
        campaignId: opts.campaign,
        types: types ? [...types] : undefined,
      });
      for (const e of events) io.out(formatEvent(e, opts.json === true));
      last = events.length > 0 ? events[events.length - 1].position : opts.from;
    } else {
      // The last --limit matching events: page through, keeping a window.
      const window: StoredEvent[] = [];
      let from = 0;
      while (from < head) {
        const page = await store.readAll({
          fromPosition: from,
          limit: 5000,
          campaignId: opts.campaign,
          types: types ? [...types] : undefined,
        });
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

const position = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`--from: expected a position (integer >= 0), got "${v}"`);
  return Number(v);
};

/** The `aevo` command tree; actions report their exit code through `result.code`. */
export function buildProgram(io: CliIo, result: { code: number }): Command {
  const program = new Command('aevo')
    .description('aevo control plane: run the services, start and watch campaigns, audit the event log')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');

  const audit = program.command('audit').description('audit the campaign record');
  audit
    .command('replay')
    .description('rebuild every projection from position 0 and print a content hash per projection')
    .option(
      '--verify',
      "recompute the log's hash chain, check manifest, selection and leaderboard claims against the facts " +
        'they cite, replay twice and compare the hashes, then recompute the hashes recorded in events; exit ' +
        '1 on any mismatch (one line per finding)',
    )
    .option(
      '--jetstream [stream]',
      'with --verify: also compare the JetStream copy (count, ids, content hashes; default stream ' +
        '$AEVO_STREAM or AEVO_EVENTS at $AEVO_NATS_URL)',
    )
    .option('--no-recorded', 'with --verify: skip the recomputation of hashes recorded in events')
    .option(
      '--anchors <file>',
      'with --verify: check the chain anchors in this file (aevo audit anchor) against the log',
    )
    .option('--json', 'print one JSON document')
    .addOption(
      new Option('--projection <names...>', 'only these projections').argParser((v, prev: string[] | undefined) => [
        ...(prev ?? []),
        ...v.split(','),
      ]),
    )
    .action(async (opts) => {
      result.code = await auditReplay(io, opts);
    });

  audit
    .command('anchor')
    .description(
      "print the head's position and chain hash as one JSON line, and append it to --file: keep it " +
        'outside the database',
    )
    .option('--file <file>', 'append the anchor to this file too')
    .action(async (opts: { file?: string }) => {
      const store = await io.openStore(io.env);
      try {
        const anchor = await currentAnchor(store);
        if (!anchor) {
          io.out('the log is empty: nothing to anchor');
          return;
        }
        if (opts.file) appendAnchor(opts.file, anchor);
        io.out(JSON.stringify(anchor));
      } finally {
        await store.close();
      }
    });

  const events = program.command('events').description('read the event log');
  events
    .command('tail')
    .description(
      'print the last events (optionally only one campaign or some types) and, with --follow, new ones as ' +
        'they are appended',
    )
    .option('--campaign <id>', 'only this campaign')
    .addOption(
      new Option('--type <types...>', 'only these event types (repeat or comma-separate)').argParser(
        (v, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',')],
      ),
    )
    .option('--follow', 'keep printing new events until interrupted')
    .option('--limit <n>', 'how many events to print first', positiveInt('--limit'), 20)
    .option('--from <position>', 'print events after this position instead of the last ones', position)
    .option('--json', 'one JSON event per line')
    .action(async (opts) => {
      result.code = await eventsTail(io, opts);
    });

  addControlPlaneCommands(program, io, result);
  addReportCommand(program, io, result);
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
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof UsageError) {
      io.err(`aevo: ${err.message}`);
      return EXIT.usage;
    }
    if (err instanceof CommandFailed) {
      io.err(`aevo: ${err.message}`);
      return err.exitCode;
    }
    io.err(`aevo: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failure;
  }
}
