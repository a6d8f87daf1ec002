import { compareJetStreamCopy, natsAuthFor, type EventStore } from '@aevo/eventstore';
import { replayDetailed, defaultRegistry, type ReplayReport } from '@aevo/projections';
import { checkAnchors, readAnchors } from './anchors';
import { UsageError } from './campaign-commands';
import { EXIT, type CliIo } from './cli-io';
import { checkManifestClaims } from './manifest-claims';
import { checkRecordedHashes, readLogUpTo, type RecordedHashReport } from './recorded-hashes';

/** `aevo audit replay [--verify]`: the log's integrity, then the projections replayed and their hashes. */

function describeReport(r: ReplayReport, io: CliIo, json: boolean): void {
  if (json) {
    io.out(
      JSON.stringify({
        upTo: r.upTo,
        events: r.events,
        projections: r.projections.map(({ name, hash, events, deterministic }) => ({
          name,
          hash,
          events,
          deterministic,
        })),
      }),
    );
    return;
  }
  io.out(`replayed ${r.events} event(s) from position 0 to ${r.upTo}`);
  const width = Math.max(...r.projections.map((p) => p.name.length), 10);
  for (const p of r.projections)
    io.out(
      `${p.name.padEnd(width)}  ${p.hash}  ${String(p.events).padStart(8)} event(s)` +
        `${p.deterministic ? '' : '  (operational)'}`,
    );
}

export interface AuditOptions {
  verify?: boolean;
  json?: boolean;
  projection?: string[];
  recorded?: boolean;
  /** Compare the JetStream copy too: true → AEVO_STREAM (default AEVO_EVENTS), or a stream name. */
  jetstream?: boolean | string;
  /** A file of chain anchors (aevo audit anchor) the log must still match. */
  anchors?: string;
}

/**
 * The log's own integrity, checked before any projection folds it (a tampered event may crash a fold): the hash
 * chain, the claims that cite other services' facts, and optionally the JetStream copy. Writes one line per
 * finding to `err` and returns how many there were.
 */
async function verifyLog(
  io: Pick<CliIo, 'out' | 'err' | 'env'>,
  store: EventStore,
  head: number,
  opts: AuditOptions,
): Promise<number> {
  let failed = 0;
  if (store.verifyChain) {
    const chain = await store.verifyChain({ toPosition: head });
    for (const f of chain.findings) io.err(`MISMATCH chain: ${f.reason}`);
    failed += chain.findings.length;
    const retro =
      chain.retroactiveThrough > 0
        ? ` (positions 1..${chain.retroactiveThrough} chained retroactively by the migration at ${chain.chainedAt})`
        : '';
    if (chain.findings.length > 0)
      io.err(
        `hash chain broken: first at position ${chain.findings[0].position}, ${chain.findings.length} ` +
          `finding(s) in positions 1..${head}${retro}`,
      );
    else io.out(`verified: hash chain over positions 1..${head}${retro}`);
  } else io.out('skipped: this store keeps no hash chain');
  if (opts.anchors) {
    const anchors = readAnchors(opts.anchors);
    const broken = await checkAnchors(store, anchors, head);
    for (const f of broken) io.err(`MISMATCH anchor: ${f}`);
    failed += broken.length;
    if (broken.length === 0) io.out(`verified: ${anchors.length} chain anchor(s) in ${opts.anchors}`);
  }

  const claims = checkManifestClaims(await readLogUpTo(store, head));
  for (const sk of claims.skipped) io.out(`skipped: ${sk}`);
  for (const f of claims.findings) io.err(`MISMATCH ${f.campaignId}: ${f.reason}`);
  failed += claims.findings.length;
  if (claims.findings.length === 0)
    io.out(
      `verified: ${claims.checked} claim(s) of manifests, selections and leaderboard events match the facts they cite`,
    );

  if (opts.jetstream) {
    const stream = typeof opts.jetstream === 'string' ? opts.jetstream : (io.env.AEVO_STREAM ?? 'AEVO_EVENTS');
    const copy = await compareJetStreamCopy(store, {
      natsUrl: io.env.AEVO_NATS_URL ?? 'nats://127.0.0.1:4222',
      stream,
      upTo: head,
      natsAuth: natsAuthFor(io.env, 'cli'),
    });
    for (const f of copy.findings) io.err(`MISMATCH jetstream: ${f.reason}`);
    failed += copy.findings.length;
    if (copy.findings.length === 0)
      io.out(`verified: JetStream stream ${stream} holds positions 1..${head} with the store's ids and content hashes`);
  }
  return failed;
}

export async function auditReplay(io: CliIo, opts: AuditOptions): Promise<number> {
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
    const head = await store.headPosition();
    // Checked before the folds, printed after the replay's summary (which stays the first line).
    const held: Array<() => void> = [];
    const logFindings = opts.verify
      ? await verifyLog(
          { env: io.env, out: (l) => held.push(() => io.out(l)), err: (l) => held.push(() => io.err(l)) },
          store,
          head,
          opts,
        )
      : 0;
    const flush = () => held.splice(0).forEach((f) => f());
    const fail = (why: string) => {
      io.err(`verification failed: ${why}`);
      return EXIT.mismatch;
    };
    let first: ReplayReport;
    try {
      first = await replayDetailed(store, { registry, toPosition: head });
    } catch (err) {
      // A fold that chokes on a tampered event: the findings above already say where.
      if (logFindings === 0) throw err;
      flush();
      io.err(`MISMATCH replay: ${(err as Error).message}`);
      return fail(`${logFindings + 1} finding(s)`);
    }
    describeReport(first, io, opts.json === true);
    if (!opts.verify) return EXIT.ok;
    flush();
    // Replay the same prefix of the log again and compare every hash.
    const second = await replayDetailed(store, { registry, toPosition: first.upTo });
    const mismatches = first.projections.filter(
      (p, i) => p.hash !== second.projections[i]?.hash || p.events !== second.projections[i]?.events,
    );
    if (second.upTo !== first.upTo)
      mismatches.push({ ...first.projections[0], name: `(log prefix: ${first.upTo} vs ${second.upTo})` });
    if (mismatches.length > 0) {
      for (const m of mismatches) {
        const again = second.projections.find((p) => p.name === m.name);
        io.err(`MISMATCH ${m.name}: ${m.hash} then ${again?.hash ?? '(missing)'}`);
      }
      return fail(
        `${mismatches.length} projection(s) differ between two replays of positions 1..${first.upTo}` +
          `${logFindings > 0 ? `, and ${logFindings} finding(s) in the log` : ''}`,
      );
    }
    io.out(
      `verified: two replays of positions 1..${first.upTo} agree on all ${first.projections.length} projection hashes`,
    );
    let bad: RecordedHashReport['checks'] = [];
    if (opts.recorded !== false) {
      // Then what the log itself recorded: evidence, policy and constitution hashes, recomputed.
      const report = await checkRecordedHashes(store, first.upTo, io.env);
      for (const sk of report.skipped) io.out(`skipped: ${sk}`);
      bad = report.checks.filter((c) => !c.ok);
      for (const b of bad) io.err(`MISMATCH ${b.campaignId}: ${b.what}: ${b.detail}`);
      if (bad.length === 0)
        io.out(
          `verified: ${report.checks.length} hash(es) recorded in events (evidence, policies, ` +
            `constitution, reports) recomputed and equal`,
        );
      else if (logFindings === 0) return fail(`${bad.length} of ${report.checks.length} recorded hash(es) differ`);
    }
    if (logFindings + bad.length > 0) return fail(`${logFindings + bad.length} finding(s) in positions 1..${head}`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
