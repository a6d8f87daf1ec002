/**
 * What a refusal's message says, read from Kaggle's own words. A 400 from CreateSubmission means many things (the
 * allowance used up, a competition not joined, a wrong competition name, a description it will not take), so the
 * status alone never decides; where the words are not specific the client asks GetCompetition and
 * GetSubmissionLimits (see KaggleCompetitionClient.explainSubmissionRefusal).
 */
export type RefusalReading =
  | 'quota-exceeded'
  | 'not-joined'
  | 'competition-not-found'
  | 'invalid-description'
  | 'submissions-disabled'
  | 'unspecific';

const READINGS: ReadonlyArray<[Exclude<RefusalReading, 'unspecific'>, RegExp]> = [
  [
    'quota-exceeded',
    new RegExp(
      [
        'allowance',
        'submission limit',
        'daily limit',
        '(maximum|max|too many) (number of )?(daily )?submissions',
        'no (more )?submissions (left|remaining)',
      ].join('|'),
      'i',
    ),
  ],
  ['not-joined', /rules|join(ed)? (the|this) competition|not (yet )?(joined|entered)|must (first )?(join|enter)/i],
  [
    'competition-not-found',
    /competition\b.*\b(not found|does not exist|unknown)|(no such|unknown|invalid) competition/i,
  ],
  ['invalid-description', /description/i],
  [
    'submissions-disabled',
    /submissions? (are |is )?(disabled|closed|not accepted)|competition (has )?(ended|closed)|deadline/i,
  ],
];

export function readRefusal(message: string): RefusalReading {
  for (const [reading, pattern] of READINGS) if (pattern.test(message)) return reading;
  return 'unspecific';
}
