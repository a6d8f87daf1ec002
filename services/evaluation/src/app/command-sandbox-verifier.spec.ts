import { verificationFromReply, SandboxVerificationUnavailable } from './command-sandbox-verifier';

const s = { candidateId: 'c1-r1-c2', sandboxPath: '/aevo/sandboxes/c1-r1-c2' };
const snapshotId = 'b'.repeat(64);
const ok = (result: unknown) => ({ ok: true as const, commandId: 'x', duplicate: false, result });
const refused = (code: string, message = 'm') => ({
  ok: false as const,
  commandId: 'x',
  error: { code, message, issues: [] },
});

describe('reading a VerifySandbox reply', () => {
  it('passes a valid sandbox that is the candidate’s own', () => {
    expect(
      verificationFromReply(
        ok({
          candidateId: s.candidateId,
          sandboxPath: s.sandboxPath + '/',
          snapshotId,
          valid: true,
          violations: [],
          recorded: 0,
        }),
        s,
      ),
    ).toEqual({
      verifiedBy: 'substrate-service',
      ok: true,
      snapshotId,
    });
  });

  it('lists each violation, and an earlier invalidation', () => {
    const v = verificationFromReply(
      ok({
        candidateId: s.candidateId,
        sandboxPath: s.sandboxPath,
        snapshotId,
        valid: false,
        violations: [{ path: 'harness/evaluate.py', kind: 'frozen-modified', detail: 'sha256 differs' }],
        recorded: 1,
      }),
      s,
    );
    expect(v).toEqual({
      verifiedBy: 'substrate-service',
      ok: false,
      violations: ['harness/evaluate.py: frozen-modified (sha256 differs)'],
    });
    expect(
      verificationFromReply(
        ok({
          candidateId: s.candidateId,
          sandboxPath: s.sandboxPath,
          snapshotId,
          valid: false,
          violations: [],
          recorded: 0,
        }),
        s,
      ),
    ).toMatchObject({
      ok: false,
      violations: ['candidate c1-r1-c2 was invalidated by an earlier frozen-path violation'],
    });
  });

  it('refuses a request whose sandbox is not the candidate’s', () => {
    expect(
      verificationFromReply(
        ok({
          candidateId: s.candidateId,
          sandboxPath: '/aevo/sandboxes/other',
          snapshotId,
          valid: true,
          violations: [],
          recorded: 0,
        }),
        s,
      ),
    ).toMatchObject({
      ok: false,
      violations: [
        expect.stringMatching(
          /^sandboxPath: the request names \/aevo\/sandboxes\/c1-r1-c2, but .* is \/aevo\/sandboxes\/other$/,
        ),
      ],
    });
  });

  it('retries transport failures and judges other refusals', () => {
    expect(() => verificationFromReply(refused('NO_RESPONDERS'), s)).toThrow(SandboxVerificationUnavailable);
    expect(() => verificationFromReply(refused('TIMEOUT'), s)).toThrow(/VerifySandbox TIMEOUT/);
    expect(verificationFromReply(refused('UNKNOWN_CANDIDATE', 'no sandbox for c1-r1-c2'), s)).toEqual({
      verifiedBy: 'substrate-service',
      ok: false,
      violations: ['VerifySandbox refused (UNKNOWN_CANDIDATE): no sandbox for c1-r1-c2'],
    });
    expect(() => verificationFromReply(ok({ nope: 1 }), s)).toThrow(/unexpected result/);
  });
});
