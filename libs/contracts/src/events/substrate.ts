import { z } from 'zod';
import { defineEvent } from '../envelope';
import { Axis } from '../recipe';
import { Sha256, Slug } from '../ids';

export const SubstrateSnapshotted = defineEvent(
  'SubstrateSnapshotted',
  { owners: ['substrate'], description: 'A substrate directory was frozen into a content-addressed snapshot.' },
  z
    .object({
      snapshotId: Sha256,
      name: z.string(),
      version: z.string(),
      snapshotPath: z.string(),
      files: z.number().int().min(0),
      bytes: z.number().int().min(0),
      frozenSha256: z.record(z.string(), Sha256),
    })
    .strict(),
);

export const CandidateForked = defineEvent(
  'CandidateForked',
  { owners: ['substrate'], description: 'A sandbox was forked from the snapshot for one candidate.' },
  z
    .object({
      round: z.number().int().min(1),
      candidateId: Slug,
      index: z.number().int().min(0),
      axis: Axis,
      isAnchor: z.boolean(),
      seeds: z.array(z.number().int()).min(1),
      snapshotId: Sha256,
      sandboxPath: z.string().min(1),
      policyRevision: z.number().int().min(0),
    })
    .strict(),
);

export const FrozenPathViolated = defineEvent(
  'FrozenPathViolated',
  { owners: ['substrate'], description: 'A sandbox broke the frozen contract; the candidate is invalidated.' },
  z
    .object({
      round: z.number().int().min(1),
      candidateId: Slug,
      path: z.string(),
      kind: z.enum(['frozen-modified', 'frozen-deleted', 'symlink-escape', 'symlink-into-frozen', 'path-escape']),
      detail: z.string(),
      checkedAt: z.enum(['before-evaluation', 'round-close', 'on-demand']),
    })
    .strict(),
);

export const SandboxCollected = defineEvent(
  'SandboxCollected',
  { owners: ['substrate'], description: 'A sandbox no job uses any more was deleted by the retention policy.' },
  z.object({ candidateId: Slug, sandboxPath: z.string(), bytesFreed: z.number().int().min(0) }).strict(),
);
