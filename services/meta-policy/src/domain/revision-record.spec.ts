import { DeciderSpecification } from '@aevo/testkit';
import { revisionRecordDecider, type RecordRevision, type RevisionRecordEvent } from './revision-record';

const fellBack: RecordRevision['fellBack'] = {
  round: 1,
  pass: 'meta-agent',
  fallback: 'rules',
  model: 'claude-opus-4-8',
  reason: 'not-configured',
  errorClass: null,
  status: null,
  errorType: null,
  requestId: null,
  detail: 'no Claude meta agent is configured (ANTHROPIC_API_KEY)',
};
// The decider records what it is given without reading it: a refusal stands for any decided event.
const refused: RevisionRecordEvent = {
  type: 'ConstitutionViolationRefused',
  data: { round: 1, rule: 'proposal-invalid', detail: 'not JSON', proposal: null },
};

const spec = DeciderSpecification(revisionRecordDecider);

describe('a round revision’s one-shot stream', () => {
  it('records the decision on an empty stream, the fall-back first', () => {
    spec
      .given([])
      .when({ type: 'RecordRevision', fellBack, decided: [refused] })
      .then([{ type: 'ClaudeFellBack', data: fellBack }, refused]);
  });
  it('records only the decided events when nothing fell back', () => {
    spec
      .given([])
      .when({ type: 'RecordRevision', fellBack: null, decided: [refused] })
      .then([refused]);
  });
  it('records nothing once the round holds a decision (a redelivery or a second replica)', () => {
    spec
      .given([refused])
      .when({ type: 'RecordRevision', fellBack, decided: [refused] })
      .thenNothing();
  });
});
