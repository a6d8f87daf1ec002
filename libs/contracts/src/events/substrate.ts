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
      /** sha256 of the sandbox recipe file after the standing recipe was applied. */
      recipeSha256: Sha256.optional(),
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
      /**
       * frozen-modified: content, mode or type of a pinned file changed; frozen-deleted: it is gone;
       * frozen-added: a new file appeared under a frozen glob (e.g. a module shadowing the harness);
       * symlink-escape / symlink-into-frozen: a new symlink resolves outside the sandbox / onto a frozen path;
       * path-escape: a requested path leaves the sandbox, or a hard link / device node reaches outside it.
       */
      kind: z.enum(['frozen-modified', 'frozen-deleted', 'frozen-added', 'symlink-escape', 'symlink-into-frozen', 'path-escape']),
      detail: z.string(),
      checkedAt: z.enum(['before-evaluation', 'round-close', 'on-demand']),
    })
    .strict(),
);

export const SubstrateRejected = defineEvent(
  'SubstrateRejected',
  { owners: ['substrate'], description: 'The campaign’s substrate does not honour the contract; nothing can be forked from it.' },
  z
    .object({
      substratePath: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() }).strict()).min(1),
    })
    .strict(),
);

export const SandboxCollected = defineEvent(
  'SandboxCollected',
  { owners: ['substrate'], description: 'A sandbox no job uses any more was deleted by the retention policy.' },
  z.object({ candidateId: Slug, sandboxPath: z.string(), bytesFreed: z.number().int().min(0) }).strict(),
);

export const ViolationKind = FrozenPathViolated.data.shape.kind;
export type ViolationKind = z.infer<typeof ViolationKind>;
export const CheckedAt = FrozenPathViolated.data.shape.checkedAt;
export type CheckedAt = z.infer<typeof CheckedAt>;

/** Reply `result` of the VerifySandbox command. */
export const SandboxVerification = z
  .object({
    candidateId: Slug,
    sandboxPath: z.string(),
    /** The snapshot the sandbox was forked from: its pinned paths are what an evaluate job mounts. */
    snapshotId: Sha256,
    /** False when this check found a violation or the candidate was invalidated before. */
    valid: z.boolean(),
    violations: z.array(z.object({ path: z.string(), kind: ViolationKind, detail: z.string() }).strict()),
    /** FrozenPathViolated events this check appended (violations seen before are not recorded twice). */
    recorded: z.number().int().min(0),
  })
  .strict();
export type SandboxVerification = z.infer<typeof SandboxVerification>;
