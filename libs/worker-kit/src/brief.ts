import * as fs from 'node:fs';
import * as path from 'node:path';
import { DomainError, sha256Hex, type SubstrateManifest } from '@aevo/contracts';
import type { SandboxFiles } from './sandbox-files';

/**
 * The rules a worker agent is given (its system prompt after the constitution), as a file anyone can read and pin:
 * the default ships with worker-kit; a substrate may replace it with one of its own frozen files (`workerBrief` in
 * substrate.yaml, like autoresearch's program.md). Its sha256 is recorded in WorkerStarted, so a log says which
 * rules each worker followed, and `aevo audit replay --verify` re-hashes the file.
 */
export interface WorkerBrief {
  source: 'default' | 'substrate';
  /** 'worker-kit:brief/worker-brief.md' for the default; the substrate-relative path otherwise. */
  path: string;
  sha256: string;
  text: string;
}

/** The default brief's file (resolved from this module: src/ in tests, dist/ when built; both sit beside brief/). */
export const DEFAULT_WORKER_BRIEF_FILE = path.resolve(__dirname, '..', 'brief', 'worker-brief.md');
export const DEFAULT_WORKER_BRIEF_PATH = 'worker-kit:brief/worker-brief.md';
/** A brief is a system prompt block: anything larger is a mistake, not a brief. */
export const MAX_WORKER_BRIEF_BYTES = 64 * 1024;

export const briefOf = (source: WorkerBrief['source'], briefPath: string, text: string): WorkerBrief => ({
  source,
  path: briefPath,
  text,
  sha256: sha256Hex(Buffer.from(text, 'utf8')),
});

let defaultBrief: WorkerBrief | null = null;

/** The default brief (read once per process; the file is part of the installed package). */
export function defaultWorkerBrief(): WorkerBrief {
  if (!defaultBrief)
    defaultBrief = briefOf('default', DEFAULT_WORKER_BRIEF_PATH, fs.readFileSync(DEFAULT_WORKER_BRIEF_FILE, 'utf8'));
  return defaultBrief;
}

const refuse = (message: string, expected: string): never => {
  throw new DomainError('INVALID_WORKER_BRIEF', message, [{ path: 'substrate.yaml.workerBrief', message: expected }]);
};

/**
 * The brief a candidate's worker follows: the substrate's own when its manifest names one — which must be a frozen
 * file of the sandbox (a candidate cannot rewrite its rules), non-empty Markdown under the size cap — else the default.
 */
export function resolveWorkerBrief(manifest: Pick<SubstrateManifest, 'workerBrief'>, files: SandboxFiles): WorkerBrief {
  const rel = manifest.workerBrief;
  if (rel === undefined) return defaultWorkerBrief();
  if (!/\.md$/i.test(rel)) refuse(`workerBrief ${rel} is not a Markdown file`, 'expected a .md file of the substrate');
  let normalised = rel;
  try {
    normalised = files.normalise(rel);
  } catch (err) {
    refuse(
      `workerBrief ${rel} is not a path inside the substrate: ${(err as Error).message}`,
      'expected a relative path inside the substrate',
    );
  }
  if (!files.isFrozen(normalised))
    refuse(
      `workerBrief ${rel} is not a frozen path of the substrate`,
      'expected a path matched by `frozen`, so candidates cannot change it',
    );
  let text = '';
  try {
    text = files.readWhole(normalised);
  } catch (err) {
    refuse(`workerBrief ${rel} cannot be read in the sandbox: ${(err as Error).message}`, 'expected an existing file');
  }
  if (Buffer.byteLength(text, 'utf8') > MAX_WORKER_BRIEF_BYTES)
    refuse(
      `workerBrief ${rel} is larger than ${MAX_WORKER_BRIEF_BYTES} bytes`,
      `at most ${MAX_WORKER_BRIEF_BYTES} bytes`,
    );
  if (text.trim() === '') refuse(`workerBrief ${rel} is empty`, 'expected the rules workers follow');
  return briefOf('substrate', normalised, text);
}
