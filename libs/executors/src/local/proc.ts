import { readdirSync, readFileSync } from 'node:fs';

/** Fields of /proc/<pid>/stat we rely on (Linux). */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** Start time in clock ticks after boot: together with the pid it identifies a process (pids are reused). */
  startTicks: number;
}

export function readProcStat(pid: number): ProcStat | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  return {
    pid,
    state: rest[0],
    ppid: Number(rest[1]),
    pgid: Number(rest[2]),
    sid: Number(rest[3]),
    startTicks: Number(rest[19]),
  };
}

export const hasProcFs = (): boolean => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
};

/** Alive = exists and is not a zombie (a zombie has exited; only its parent has not collected it yet). */
export function isProcessAlive(pid: number, expectedStartTicks?: number | null): boolean {
  const st = readProcStat(pid);
  if (st) {
    if (st.state === 'Z' || st.state === 'X') return false;
    if (expectedStartTicks != null && st.startTicks !== expectedStartTicks) return false; // pid reused
    return true;
  }
  if (hasProcFs()) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pids /proc lists now (none without /proc). */
function procPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    return [];
  }
}

function allProcs(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const pid of procPids()) {
    const st = readProcStat(pid);
    if (st) out.push(st);
  }
  return out;
}

/**
 * Live (non-zombie) processes that belong to a job: members of its process group, plus descendants of any
 * member that moved to another group or session (setsid) while their parent was still alive.
 */
export function jobProcesses(pgid: number): number[] {
  const procs = allProcs().filter((p) => p.state !== 'Z' && p.state !== 'X');
  const members = new Set(procs.filter((p) => p.pgid === pgid).map((p) => p.pid));
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs)
      if (!members.has(p.pid) && members.has(p.ppid)) {
        members.add(p.pid);
        grew = true;
      }
  }
  return [...members];
}

/** Sends `signal` to the job's process group and to every escaped descendant; returns how many were signalled. */
export function signalJob(pgid: number, signal: NodeJS.Signals): number {
  const pids = hasProcFs() ? jobProcesses(pgid) : [];
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is empty already
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
  return pids.length;
}

/** Whether anything of the job is still alive. */
export function jobIsAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    // No member left, so no escaped descendant either can still be traced to the job: the cheap answer is exact.
    return false;
  }
  // Members exist, but they may all be zombies: look closer.
  return hasProcFs() ? jobProcesses(pgid).length > 0 : true;
}

/**
 * Live processes whose command line starts with `prefix`. A sandboxed job sees only its own pid namespace, so its
 * processes are found from outside by what they run (tests and operators use this; the executor does not).
 */
export function processesWithCommandLine(prefix: string): number[] {
  return procPids().filter((pid) => {
    try {
      return (
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').startsWith(prefix) && isProcessAlive(pid)
      );
    } catch {
      return false; // gone meanwhile
    }
  });
}
