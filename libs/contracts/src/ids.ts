import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** RFC 9562 UUIDv7: 48-bit Unix-ms timestamp, then random bits; sorts by creation time. */
export function uuidv7(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  const ms = BigInt(now);
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const Uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'expected a lowercase UUID');
export const Uuidv7 = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'expected a UUIDv7');

/** Identifiers that appear in subjects and stream ids: no dots, spaces or wildcards. */
export const Slug = z
  .string()
  .min(1)
  .max(120)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'expected letters, digits, "_" or "-" (no dots, spaces or wildcards)');

export const CampaignId = Slug;
export const CandidateId = Slug;
export const JobId = Slug;
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a hex sha256');
export const StreamId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_:-]*$/, 'expected a stream id like "campaign-abc" or "job:abc"');
export const IsoTime = z.iso.datetime({ offset: true });

/** Deterministic ids derived from campaign content, so that a re-run with the same seed yields the same ids. */
export const candidateIdOf = (campaignId: string, round: number, index: number): string =>
  `${campaignId}-r${round}-c${index}`;

/**
 * Ids other services derive from a campaign id, each at its widest (round ≤ 1000, candidate index ≤ 512, worker
 * step ≤ 999999, evaluation checkpoint index ≤ 999), with the limit of the schema it must pass. A campaign id is
 * capped so that none of them can outgrow its schema mid-campaign (StartCampaign checks it; a longer id would be
 * accepted and then stall at the first derived id). `c` is the widest candidate id of the campaign id.
 */
const WIDEST = { round: 1000, index: 512, step: 999_999, checkpoint: 999 } as const;
const widestCandidate = (campaignId: string) => candidateIdOf(campaignId, WIDEST.round, WIDEST.index);
export const DERIVED_IDS: ReadonlyArray<{ name: string; limit: number; of: (campaignId: string) => string }> = [
  { name: 'candidate id', limit: 120, of: widestCandidate },
  {
    name: 'worker job id (<candidate>-s<step>-prep|train)',
    limit: 120,
    of: (id) => `${widestCandidate(id)}-s${WIDEST.step}-train`,
  },
  {
    name: 'evaluation job id (<candidate>-s<step>-eval-eval-<i>)',
    limit: 120,
    of: (id) => `${widestCandidate(id)}-s${WIDEST.step}-eval-eval-${WIDEST.checkpoint}`,
  },
  { name: 'predict job id (sub-<candidate>-predict)', limit: 120, of: (id) => `sub-${widestCandidate(id)}-predict` },
  {
    name: 'cancel command id (abort-<job id>)',
    limit: 100,
    of: (id) => `abort-${widestCandidate(id)}-s${WIDEST.step}-eval-eval-${WIDEST.checkpoint}`,
  },
  { name: 'unseal command id (unseal-<campaign>)', limit: 100, of: (id) => `unseal-${id}` },
  {
    name: 'evaluation stream id',
    limit: 200,
    of: (id) => `evaluation:${id}:${widestCandidate(id)}-s${WIDEST.step}-eval`,
  },
  {
    name: 'substrate fork key (store command id)',
    limit: 200,
    of: (id) => `substrate:fork:${id}:${widestCandidate(id)}`,
  },
  { name: 'collector deadline stream id', limit: 200, of: (id) => `collector-deadline-${id}-r${WIDEST.round}` },
];

/**
 * The longest campaign id whose every derived id stays within its limit (computed, so a new entry above tightens it).
 */
export const MAX_CAMPAIGN_ID_LENGTH = ((): number => {
  let n = 120;
  while (n > 1 && DERIVED_IDS.some((d) => d.of('x'.repeat(n)).length > d.limit)) n--;
  return n;
})();

/** A campaign id as StartCampaign accepts it: a Slug short enough for every id derived from it. */
export const NewCampaignId = Slug.max(
  MAX_CAMPAIGN_ID_LENGTH,
  `at most ${MAX_CAMPAIGN_ID_LENGTH} characters, so that the ids derived from it (candidates, jobs, ` +
    `streams) stay valid`,
);
