import { createHash } from 'node:crypto';

/**
 * Kaggle has been reported to answer CreateSubmission with 400 for a description holding a `/`, and publishes no
 * grammar for it; so we send only characters no description has been refused for, and keep it short.
 */
export const MAX_DESCRIPTION_LENGTH = 100;

const OUTSIDE_SAFE_SET = /[^A-Za-z0-9 _.,:;=+#()-]/g;

/**
 * The description sent for `text`: characters outside [A-Za-z0-9 _.,:;=+#()-] become `-`, whitespace runs one space,
 * at most MAX_DESCRIPTION_LENGTH characters. Where that changed anything, a short hash of the original is appended so
 * two different texts never end up as the same description (the duplicate check compares descriptions).
 * Deterministic: the same text always gives the same description.
 */
export function sanitizeSubmissionDescription(text: string, maxLength: number = MAX_DESCRIPTION_LENGTH): string {
  if (maxLength < 20) throw new RangeError(`maxLength: expected at least 20, got ${maxLength}`);
  const cleaned = text.normalize('NFKC').replace(/\s+/g, ' ').trim().replace(OUTSIDE_SAFE_SET, '-');
  if (!cleaned) throw new RangeError('a submission description needs at least one character');
  if (cleaned === text && cleaned.length <= maxLength) return cleaned;
  const tag = ` #${createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 10)}`;
  return cleaned.slice(0, maxLength - tag.length).trimEnd() + tag;
}
