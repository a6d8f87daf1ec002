import { z } from 'zod';
import { PrescribedRun } from '../research';
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
      /** Carried from the plan: the run's prescribed change (confirmation or probe). */
      prescribed: PrescribedRun.optional(),
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
      kind: z.enum([
        'frozen-modified',
        'frozen-deleted',
        'frozen-added',
        'symlink-escape',
        'symlink-into-frozen',
        'path-escape',
      ]),
      detail: z.string(),
      checkedAt: z.enum(['before-evaluation', 'round-close', 'on-demand']),
    })
    .strict(),
);

export const SubstrateRejected = defineEvent(
  'SubstrateRejected',
  {
    owners: ['substrate'],
    description: 'The campaign’s substrate does not honour the contract; nothing can be forked from it.',
  },
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

/** At most this many damaged files are listed in one SnapshotDamaged (a NATS message has a size limit). */
export const SNAPSHOT_DAMAGE_FILES_MAX = 100;

export const SnapshotDamaged = defineEvent(
  'SnapshotDamaged',
  {
    owners: ['substrate'],
    description:
      'The campaign’s snapshot no longer matched its SubstrateSnapshotted: it was quarantined and rebuilt ' +
      'from the source (same id), or the source no longer matches either and the campaign cannot go on.',
  },
  z
    .object({
      snapshotId: Sha256,
      /**
       * Each difference: `path` is snapshot-relative (`.` the snapshot directory, `../<snapshotId>.json` its
       * record); `expected` is the pinned sha256 (or the expected kind, mode or absence); `actual` is the sha256
       * found, `missing`, `not a regular file`, or what was found instead.
       */
      files: z
        .array(z.object({ path: z.string().min(1), expected: z.string(), actual: z.string() }).strict())
        .min(1)
        .max(SNAPSHOT_DAMAGE_FILES_MAX),
      /** Damaged files not listed (beyond SNAPSHOT_DAMAGE_FILES_MAX). */
      moreFiles: z.number().int().min(0),
      /**
       * The use that found it: taking the snapshot (an existing copy was reused), forking a round, or verifying a
       * sandbox.
       */
      detectedAt: z.enum(['snapshot', 'fork', 'verify']),
      outcome: z.enum(['rebuilt', 'unrecoverable']),
      /** Where the damaged copy was moved (read-only, kept for forensics); null when nothing was left to move. */
      quarantinedAt: z.string().nullable(),
      /**
       * What the campaign's source directory snapshots as now; null when it no longer loads. Equal to snapshotId when
       * rebuilt.
       */
      sourceSnapshotId: Sha256.nullable(),
    })
    .strict(),
);

/** One line naming the damaged files, shared by the substrate service's log and the orchestrator's abort reason. */
export function snapshotDamageReason(d: z.infer<typeof SnapshotDamaged.data>): string {
  const short = (v: string) => (/^[0-9a-f]{64}$/.test(v) ? `${v.slice(0, 12)}…` : v);
  const files = d.files.map((f) => `${f.path} (expected ${short(f.expected)}, found ${short(f.actual)})`).join(', ');
  const more = d.moreFiles > 0 ? ` and ${d.moreFiles} more` : '';
  const source =
    d.outcome === 'rebuilt'
      ? 'rebuilt from the source'
      : d.sourceSnapshotId === null
        ? 'the source no longer loads, so it cannot be rebuilt'
        : `the source now snapshots as ${d.sourceSnapshotId.slice(0, 12)}…, so it cannot be rebuilt`;
  return `snapshot ${d.snapshotId.slice(0, 12)}… damaged (found at ${d.detectedAt}): ${files}${more}; ${source}`;
}

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
