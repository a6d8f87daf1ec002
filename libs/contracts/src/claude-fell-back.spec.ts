import { ClaudeFellBack, claudeErrorFacts } from './events/claude';

describe('ClaudeFellBack', () => {
  it('takes the class, status, API error type and request id an SDK error carries, and cuts the detail', () => {
    class OverloadedError extends Error {
      readonly status = 529;
      readonly type = 'overloaded_error';
      readonly requestID = 'req_1';
    }
    expect(claudeErrorFacts(new OverloadedError('529 Overloaded'))).toEqual({
      errorClass: 'OverloadedError',
      status: 529,
      errorType: 'overloaded_error',
      requestId: 'req_1',
      detail: '529 Overloaded',
    });
    expect(claudeErrorFacts(new TypeError('x'.repeat(5000)))).toEqual({
      errorClass: 'TypeError',
      status: null,
      errorType: null,
      requestId: null,
      detail: 'x'.repeat(1000),
    });
    expect(claudeErrorFacts('boom')).toMatchObject({ errorClass: 'string', detail: 'boom' });
  });

  it('is a strict record: a reason outside the three is refused', () => {
    const base = {
      round: 1,
      pass: 'meta-agent',
      fallback: 'rules',
      model: 'claude-sonnet-5-5',
      errorClass: null,
      status: null,
      errorType: null,
      requestId: null,
      detail: '',
    };
    expect(ClaudeFellBack.data.safeParse({ ...base, reason: 'not-configured' }).success).toBe(true);
    expect(ClaudeFellBack.data.safeParse({ ...base, reason: 'bored' }).success).toBe(false);
    expect(ClaudeFellBack.data.safeParse({ ...base, reason: 'api-error', extra: 1 }).success).toBe(false);
  });
});
