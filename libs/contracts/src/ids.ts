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

export const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'expected a lowercase UUID');
export const Uuidv7 = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'expected a UUIDv7');

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
