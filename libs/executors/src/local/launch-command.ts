import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { jobNodes } from '@aevo/contracts';
import { bwrapArgs, gpuDeviceNodes, jobEnvProblems, probeBubblewrap, SANDBOX_BASE_ENV } from '../isolation/bwrap';
import { IsolationRefused, planIsolation, prepareOutputs, searchableByOthers } from '../isolation/plan';
import { UNSANDBOXED_OPT_IN, type LocalExecutorOptions, type ResolvedLocalOptions } from './options';
import type { LocalJobRecord } from './records';
import type { Allocation } from './slots';

/**
 * `sh -c WRAPPER aevo-job <jobDir> <claim> <argv...>`: claims its launch (mkdir is atomic: a dispatch that restarted
 * while this wrapper was still starting either sees the claim and waits for the pid, or takes the claim first, which
 * makes a late wrapper exit without running anything), records its pid, runs the job's argv as a child (not exec, so
 * that it survives to record the exit code), then writes the exit code atomically. A dispatch restarted meanwhile
 * reads these files to learn what happened while it was down.
 */
export const JOB_WRAPPER =
  'd=$1; k=$2; shift 2; mkdir "$d/$k" 2>/dev/null || exit 75; ' +
  'echo $$ > "$d/pid.tmp" && mv -f "$d/pid.tmp" "$d/pid"; "$@"; c=$?; ' +
  'echo $c > "$d/exit.tmp" && mv -f "$d/exit.tmp" "$d/exit"; exit $c';
/** The same for a sandboxed job: bubblewrap reports on fd 3, outside the sandbox, whether the command ran at all. */
export const SANDBOX_WRAPPER = JOB_WRAPPER.replace('"$@"; c=$?', '"$@" 3>"$d/sandbox.json"; c=$?');

/** What the wrapper runs for a job, and the environment it runs with. */
export interface JobCommand {
  argv: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * Refuses to construct an executor that would run candidate code unconfined without the operator saying so. May
 * fall back from per-slot uids to the service's uid (`opts.jobUids`) where they were not asked for explicitly.
 */
export function checkSandboxable(
  opts: ResolvedLocalOptions,
  explicitJobUids: LocalExecutorOptions['jobUids'],
  reportError: (err: unknown, context: string) => void,
): void {
  const home = opts.home;
  const probe = probeBubblewrap(opts.bwrapPath);
  if (!probe.ok)
    throw new Error(
      `${probe.reason}. Jobs run candidate code and must be sandboxed; to run them unconfined anyway ` +
        `(every JobStarted records it) set AEVO_UNSANDBOXED_JOBS=${UNSANDBOXED_OPT_IN}`,
    );
  if (opts.jobUids === 'per-slot') {
    mkdirSync(home, { recursive: true });
    // A private AEVO_HOME (mkdtemp makes 0700) is made searchable, not listable: the jobs' uids must reach their
    // own mounts' sources; every directory they may not see stays out of their mount namespace regardless.
    const mode = statSync(home).mode;
    if ((mode & 0o001) === 0) chmodSync(home, (mode & 0o7777) | 0o001);
    const reach = searchableByOthers(home);
    if (!reach.ok) {
      const problem =
        `AEVO_HOME ${home} cannot be reached by the jobs' own uids (${reach.blocking} is not searchable by ` +
        `others)`;
      if (explicitJobUids === 'per-slot')
        throw new Error(
          `${problem}: move AEVO_HOME, or set AEVO_JOB_UIDS=service to run jobs under the dispatch user's uid`,
        );
      // Not asked for explicitly: keep every namespace and mount of the sandbox, lose only the per-slot host uid.
      opts.jobUids = 'service';
      reportError(
        new Error(
          `${problem}; jobs run sandboxed under the dispatch user's uid (mapped to nobody), without ` +
            `per-slot uids and process limits`,
        ),
        'sandbox set-up',
      );
    }
  }
}

/**
 * `prlimit … [setpriv …] bwrap … -- argv`: limits first (inherited by everything the job starts), then the drop to
 * the slot's own uid, then the sandbox. The wrapper and these tools run with a fixed minimal environment; the job's
 * environment is handed to bubblewrap, which clears its own, so nothing a spec sets reaches a process outside.
 */
export function sandboxedCommand(rec: LocalJobRecord, allocation: Allocation, opts: ResolvedLocalOptions): JobCommand {
  const spec = rec.job.spec;
  const envIssues = jobEnvProblems(spec.env);
  if (envIssues.length > 0)
    throw new IsolationRefused(
      `job environment refused: ${envIssues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      envIssues,
    );
  const plan = planIsolation(spec, opts.home);
  const owner = opts.jobUids === 'per-slot' ? slotOwner(allocation, opts) : undefined;
  prepareOutputs(plan, owner);
  const env: Record<string, string> = { ...SANDBOX_BASE_ENV, ...spec.env };
  env.CUDA_VISIBLE_DEVICES = allocation.gpus.join(',');
  env.AEVO_JOB_ID = spec.jobId;
  env.AEVO_SLOT = allocation.slot;
  const limits = [`--fsize=${opts.limits.fileSizeMiB * 1024 * 1024}`, '--core=0'];
  // The process limit is per uid, which every rank of a multi-node job shares: each rank gets the usual share.
  if (owner) limits.push(`--nproc=${opts.limits.processes * jobNodes(spec.resources)}`);
  const drop = owner ? ['setpriv', `--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups', '--'] : [];
  const sandbox = bwrapArgs(plan, {
    env,
    gpuDevices: gpuDeviceNodes(allocation.gpus),
    tmpBytes: opts.limits.tmpMiB * 1024 * 1024,
  });
  return {
    argv: [
      'prlimit',
      ...limits,
      '--',
      ...drop,
      opts.bwrapPath,
      '--json-status-fd',
      '3',
      ...sandbox,
      '--',
      ...spec.argv,
    ],
    env: { ...SANDBOX_BASE_ENV },
  };
}

/** Slot k's own uid and gid: CPU slots from the base, GPU slots (named by their first GPU) 512 above. */
export function slotOwner(allocation: Allocation, opts: ResolvedLocalOptions): { uid: number; gid: number } {
  const id = opts.jobUidBase + (allocation.kind === 'gpu' ? 512 + allocation.gpus[0] : (allocation.cpuIndex ?? 0));
  return { uid: id, gid: id };
}

/** AEVO_UNSANDBOXED_JOBS only: the dispatch process's allow-listed variables, never its credentials. */
export function unsandboxedEnv(
  rec: LocalJobRecord,
  allocation: Allocation,
  opts: ResolvedLocalOptions,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of opts.inheritEnv) if (process.env[k] !== undefined) env[k] = process.env[k];
  // No bytecode caches written into the sandbox (frozen directories stay as forked); a spec may override it.
  env.PYTHONDONTWRITEBYTECODE = '1';
  Object.assign(env, rec.job.spec.env);
  // A CPU slot hides every GPU, so that a CPU job cannot take a GPU another slot owns.
  env.CUDA_VISIBLE_DEVICES = allocation.gpus.join(',');
  env.AEVO_JOB_ID = rec.job.spec.jobId;
  env.AEVO_SLOT = allocation.slot;
  return env;
}
