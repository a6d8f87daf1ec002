import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { jobNodes } from '@aevo/contracts';
import { DEFAULT_MASTER_PORT, sharedRendezvousEnv } from '../rendezvous';
import type { LocalJobRecord } from './records';
import type { Allocation } from './slots';

/**
 * `sh -c RANK_LAUNCHER aevo-ranks <n> <argv...>`: runs the job's argv as n rank processes (RANK = NODE_RANK = i,
 * CUDA_VISIBLE_DEVICES the i-th word of AEVO_RANK_GPUS when set). Rank 0 writes to the job's log (the launcher's
 * stdout and stderr); rank i ≥ 1 to fd 3 + i, its own log file opened by the executor. The first rank to exit non-zero
 * names itself in the job log, the others get SIGTERM, and the launcher exits with that rank's code; 0 only when
 * every rank exited 0. It runs where the single process would (inside the job's one sandbox): every rank has the same
 * mounts, and they share the sandbox's private network namespace, whose loopback is their rendezvous.
 */
export const RANK_LAUNCHER = [
  'n=$1; shift; d=$(mktemp -d) || exit 70; pids=; i=0',
  "trap 'kill -TERM $pids 2>/dev/null' USR1 TERM INT HUP",
  'while [ "$i" -lt "$n" ]; do',
  '  (',
  '    RANK=$i; NODE_RANK=$i; export RANK NODE_RANK',
  '    if [ -n "${AEVO_RANK_GPUS-}" ]; then',
  '      CUDA_VISIBLE_DEVICES=$(echo "$AEVO_RANK_GPUS" | cut -d" " -f"$((i + 1))"); export CUDA_VISIBLE_DEVICES',
  '    fi',
  '    unset AEVO_RANK_GPUS',
  '    if [ "$i" -eq 0 ]; then "$@" & else "$@" >&"$((3 + i))" 2>&1 & fi',
  '    p=$!',
  '    trap \'kill -TERM "$p" 2>/dev/null\' TERM',
  '    while :; do wait "$p"; c=$?; kill -0 "$p" 2>/dev/null || break; done',
  '    if [ "$c" -ne 0 ] && mkdir "$d/failed" 2>/dev/null; then',
  '      echo "$c" > "$d/failed/code"',
  '      echo "aevo-ranks: rank $i of $n exited with code $c; stopping the other ranks" >&2',
  '      kill -USR1 $$',
  '    fi',
  '    exit "$c"',
  '  ) &',
  '  pids="$pids $!"; i=$((i + 1))',
  'done',
  'for p in $pids; do while :; do wait "$p"; kill -0 "$p" 2>/dev/null || break; done; done',
  'if [ -f "$d/failed/code" ]; then c=$(cat "$d/failed/code"); rm -rf "$d"; exit "$c"; fi',
  'rm -rf "$d"; exit 0',
].join('\n');

/** Where rank i ≥ 1 of a job writes its output: beside the job log (rank 0's), `<jobId>.rank<i>.log`. */
export const rankLogPath = (jobLogPath: string, rank: number): string =>
  `${jobLogPath.replace(/\.log$/, '')}.rank${rank}.log`;

/** The line the launcher writes into the job log when a rank fails first. */
export const FAILED_RANK_LINE = /^aevo-ranks: rank (\d+) of (\d+) exited with code (\d+);/;

/** The GPUs of each rank: the allocation's GPUs split in n equal parts, in order. */
export function rankGpus(allocation: Allocation, nodes: number): number[][] {
  if (allocation.gpus.length === 0) return [];
  const per = allocation.gpus.length / nodes;
  if (!Number.isInteger(per)) throw new Error(`${allocation.gpus.length} GPUs cannot be split over ${nodes} ranks`);
  return Array.from({ length: nodes }, (_, r) => allocation.gpus.slice(r * per, (r + 1) * per));
}

/** A free TCP port on 127.0.0.1 right now (for ranks on the host's network, i.e. without a sandbox). */
export function freeLoopbackPort(): number {
  const script =
    "const s=require('net').createServer();" +
    "s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 }));
}

export interface RankedLaunch {
  /** The record as the single-process path launches it: its argv is the launcher, its env the rendezvous. */
  rec: LocalJobRecord;
  /** stdio entries from fd 3 on: nothing at 3 (the sandbox status), then rank i's log at 3 + i. */
  stdio: Array<'ignore' | number>;
  close(): void;
}

/**
 * A job of n > 1 nodes, made into one the single-process launch runs unchanged (same wrapper, same sandbox, same
 * process group, so cancel and timeout kill every rank): its argv wrapped in the rank launcher, the rendezvous in its
 * environment. In a sandbox the ranks have a network namespace of their own, so torch's default port is free; on the
 * host a free loopback port is picked.
 */
export function rankedLaunch(rec: LocalJobRecord, allocation: Allocation, sandboxed: boolean): RankedLaunch {
  const spec = rec.job.spec;
  const nodes = jobNodes(spec.resources);
  const gpus = rankGpus(allocation, nodes);
  const env: Record<string, string> = {
    ...spec.env,
    ...sharedRendezvousEnv({
      masterAddr: '127.0.0.1',
      masterPort: sandboxed ? DEFAULT_MASTER_PORT : freeLoopbackPort(),
      worldSize: nodes,
    }),
  };
  if (gpus.length) env.AEVO_RANK_GPUS = gpus.map((g) => g.join(',')).join(' ');
  const fds: number[] = [];
  try {
    for (let r = 1; r < nodes; r++) fds.push(openSync(rankLogPath(rec.logPath, r), 'a', 0o600));
  } catch (err) {
    fds.forEach((fd) => closeSync(fd));
    throw err;
  }
  const argv = ['/bin/sh', '-c', RANK_LAUNCHER, 'aevo-ranks', String(nodes), ...spec.argv];
  return {
    rec: { ...rec, job: { ...rec.job, spec: { ...spec, argv, env } } },
    stdio: ['ignore', ...fds],
    close: () => fds.forEach((fd) => closeSync(fd)),
  };
}
