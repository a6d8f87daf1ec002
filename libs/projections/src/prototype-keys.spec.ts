import * as fc from 'fast-check';
import { contentHash, type EventEnvelope } from '@aevo/contracts';
import { asStoredEvents, sampleCampaignLog } from './sample-log';
import { ProjectionSet } from './replay';

/** Names an object inherits from Object.prototype (and the setter-backed one), the keys external ids must not hit. */
export const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
];

const prototypeNames = () => Object.getOwnPropertyNames(Object.prototype).sort().join(',');

/**
 * The sample log with the campaign id and some candidate, job and submission ids replaced by the given keys
 * (whole string values only, so the log stays internally consistent; streams keep their names). Positions are
 * fresh, as replay reads them.
 */
function renamedLog(
  keys: { campaign: string; candidate: string; job: string; submission: string },
  extra: EventEnvelope[] = [],
) {
  const log = [...sampleCampaignLog({ campaignId: 'camp', seed: 5, rounds: 2, candidatesPerRound: 3 }), ...extra];
  const job = (log.find((e) => e.type === 'JobRequested')?.data as { spec: { jobId: string } }).spec.jobId;
  const rename = new Map([
    ['camp', keys.campaign],
    ['camp-r1-c1', keys.candidate],
    [job, keys.job],
    ['camp-r1-s0', keys.submission],
  ]);
  // JSON.parse makes "__proto__" an own key, as it is in events read from the store.
  const text = JSON.stringify(log, (_k, v) => (typeof v === 'string' && rename.has(v) ? rename.get(v) : v));
  return asStoredEvents(JSON.parse(text) as EventEnvelope[]);
}

/** A policy revision, a refusal and an evidence record for round 1 (only the fields the projections read). */
function policyEvents(log: EventEnvelope[]): EventEnvelope[] {
  const started = log.find((e) => e.type === 'CampaignStarted') as EventEnvelope & {
    data: { initialPolicy: Record<string, unknown> };
  };
  const base = {
    id: '',
    schemaVersion: 1,
    streamId: 'campaign-camp',
    campaignId: 'camp',
    causationId: null,
    correlationId: null,
    time: started.time,
    source: 'meta-policy',
  };
  const policy = {
    ...started.data.initialPolicy,
    revision: 1,
    forRound: 2,
    standingRecipe: { lr: 0.002, steps: 200, constructor: 1, toString: { valueOf: 2 } },
  };
  const evidence = { round: 1, calibration: { proxyDecoupling: { flagged: false } }, surprises: [], prose: null };
  return [
    {
      ...base,
      id: '00000000-0000-7000-8000-000000000001',
      type: 'RoundEvidenceRecorded',
      source: 'collector',
      data: { round: 1, evidenceSha256: 'a'.repeat(64), trigger: 'all-in', evidence },
    },
    {
      ...base,
      id: '00000000-0000-7000-8000-000000000002',
      type: 'ConstitutionViolationRefused',
      data: { round: 1, rule: 'hasOwnProperty', detail: 'toString' },
    },
    {
      ...base,
      id: '00000000-0000-7000-8000-000000000003',
      type: 'PolicyRevised',
      data: { round: 1, policy, policySha256: contentHash(policy), evidenceSha256: 'a'.repeat(64), proposer: 'rules' },
    },
  ] as unknown as EventEnvelope[];
}

const replayAll = (events: ReturnType<typeof renamedLog>) => {
  const set = new ProjectionSet().applyAll(events);
  const results = set.results();
  const snap = (name: string) => results.find((r) => r.name === name)?.snapshot as Record<string, unknown>;
  return { results, snap };
};

const hasOwn = (o: unknown, k: string) =>
  o !== null && typeof o === 'object' && Object.prototype.hasOwnProperty.call(o, k);

describe('projections with ids that are Object.prototype names', () => {
  const sample = sampleCampaignLog({ campaignId: 'camp', seed: 5, rounds: 2, candidatesPerRound: 3 });
  const extra = policyEvents(sample);
  const key = fc.constantFrom(...PROTOTYPE_KEYS);
  const keys = fc
    .uniqueArray(key, { minLength: 4, maxLength: 4 })
    .map(([campaign, candidate, job, submission]) => ({ campaign, candidate, job, submission }));

  it(
    'fold, snapshot and hash every built-in projection, keeping each id ' +
      'as an own key and Object.prototype untouched',
    () => {
      const before = prototypeNames();
      fc.assert(
        fc.property(keys, (k) => {
          const log = renamedLog(k, extra);
          const { results, snap } = replayAll(log);
          // Replay twice: the same log hashes the same.
          expect(replayAll(log).results.map((r) => r.hash)).toEqual(results.map((r) => r.hash));
          expect(prototypeNames()).toBe(before);
          const campaigns = snap('campaigns');
          expect(hasOwn(campaigns, k.campaign)).toBe(true);
          expect((campaigns[k.campaign] as { status: string }).status).toBe('completed');
          expect(hasOwn((snap('event-counts') as { byCampaign: object }).byCampaign, k.campaign)).toBe(true);
          const history = snap('policy-history')[k.campaign] as {
            revisions: Array<{ revision: number; changes: string[] }>;
            refusals: unknown[];
          };
          expect(history.revisions.map((r) => r.revision)).toEqual([0, 1]);
          expect(history.revisions[1].changes).toEqual(
            expect.arrayContaining([
              'standing recipe: constructor set to 1',
              'standing recipe: toString.valueOf set to 2',
            ]),
          );
          expect(history.refusals).toHaveLength(1);
          expect(hasOwn(snap('round-evidence')[k.campaign], '1')).toBe(true);
          expect((snap('candidates')[k.candidate] as { status: string }).status).toBe('completed');
          expect((snap('candidates')[k.candidate] as { submissions: string[] }).submissions).toEqual([k.submission]);
          expect(hasOwn(snap('jobs'), k.job)).toBe(true);
          expect(hasOwn(snap('rounds'), `${k.campaign}/0001`)).toBe(true);
          // What the hash covers is what JSON shows (a null-prototype record serialises like a plain one).
          for (const r of results)
            expect(Object.keys(JSON.parse(JSON.stringify(r.snapshot)))).toEqual(Object.keys(r.snapshot as object));
        }),
        { numRuns: 40 },
      );
    },
  );

  it('hash an ordinary log exactly as before (null-prototype records serialise like plain objects)', () => {
    const log = asStoredEvents(sample);
    const { results } = replayAll(log);
    for (const r of results) expect(r.hash).toBe(contentHash(JSON.parse(JSON.stringify(r.snapshot))));
  });
});
