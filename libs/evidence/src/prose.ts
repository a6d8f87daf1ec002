import { z } from 'zod';
import { DomainError, EvidenceProse, RoundEvidence, canonicalJson, contentHash, zodIssues } from '@aevo/contracts';

/** Longest prose accepted per section; longer text is refused rather than truncated. */
export const MAX_SECTION_PROSE = 4000;

const ProseInput = EvidenceProse.superRefine((p, ctx) => {
  for (const [k, v] of Object.entries(p))
    if (typeof v === 'string' && v.length > MAX_SECTION_PROSE)
      ctx.addIssue({ code: 'custom', path: [k], message: `at most ${MAX_SECTION_PROSE} characters (got ${v.length})` });
});

/** The one tool the prose writer may call: it can only return text for the five sections. */
export const PROSE_TOOL = {
  name: 'record_section_prose',
  description:
    'Record a short plain-language reading of each of the five sections of the round evidence. Text only: ' +
    'the numbers in the record are fixed and cannot be changed.',
  input_schema: z.toJSONSchema(EvidenceProse) as { type: 'object'; [k: string]: unknown },
};

export const PROSE_SYSTEM_PROMPT =
  'You read the fixed five-section evidence record of one round of an autonomous post-training campaign and ' +
  'write two to four sentences per section for a human reviewer. Quote numbers exactly as given; do not add ' +
  'numbers that are not in the record. The leaderboard is authoritative; dev scores are a proxy. Reply only with ' +
  'the JSON object the output format describes.';

/** The user message for the prose pass: the record itself, canonical JSON, without any earlier prose. */
export const prosePrompt = (evidence: RoundEvidence): string =>
  `Round ${evidence.round} evidence (JSON):\n${canonicalJson({ ...evidence, prose: null })}`;

/** Validates an LLM's tool input as section prose; names each bad field. */
export function parseProse(raw: unknown): EvidenceProse {
  const r = ProseInput.safeParse(raw);
  if (!r.success)
    throw new DomainError(
      'INVALID_PROSE',
      'the prose pass returned something other than text for the five sections',
      zodIssues(r.error),
    );
  return Object.fromEntries(Object.entries(r.data).sort(([a], [b]) => a.localeCompare(b))) as EvidenceProse;
}

/** The evidence with `prose` attached; the numbers cannot change (checked). */
export function withProse(evidence: RoundEvidence, prose: EvidenceProse | null): RoundEvidence {
  const next = RoundEvidence.parse({ ...evidence, prose });
  if (contentHash({ ...next, prose: null }) !== contentHash({ ...evidence, prose: null }))
    throw new Error('attaching prose changed the evidence numbers');
  return next;
}

/** evidenceSha256 of a record: the content hash of the evidence, prose included. */
export const evidenceHash = (evidence: RoundEvidence): string => contentHash(evidence);
