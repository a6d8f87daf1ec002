import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainSummary } from '@aevo/contracts';
import { loadSubstrate, renderEntrypoint } from '@aevo/substrate-kit';

/**
 * Runs the substrate's prepare-data and train entrypoints in `sandbox` (a fork of a substrate), as a worker's jobs
 * would, on the CPU at size tiny: data in `runs/seed-1/data`, checkpoints in `runs/seed-1/ckpt` whatever the seed.
 * Returns the checkpoints the train summary lists, relative to the sandbox, in its order. Throws (with the
 * entrypoint's output) when an entrypoint fails.
 */
export function trainInSandbox(sandbox: string, seed = 1): string[] {
  const { manifest } = loadSubstrate(sandbox);
  const values = {
    sandbox,
    recipe: path.join(sandbox, manifest.recipe),
    data_dir: path.join(sandbox, 'runs/seed-1/data'),
    base_checkpoint: path.join(sandbox, manifest.baseCheckpoint),
    checkpoints_dir: path.join(sandbox, 'runs/seed-1/ckpt'),
    seed,
    size: 'tiny',
    device: 'cpu',
  };
  for (const ep of ['prepare-data', 'train'] as const) {
    const argv = renderEntrypoint(manifest, ep, values);
    execFileSync(argv[0], argv.slice(1), { cwd: sandbox, stdio: 'pipe' });
  }
  const summary = TrainSummary.parse(
    JSON.parse(fs.readFileSync(path.join(sandbox, 'runs/seed-1/ckpt/train-summary.json'), 'utf8')),
  );
  return summary.checkpoints.map((c) => `runs/seed-1/ckpt/${c}`);
}
