import * as path from 'node:path';
import { SandboxVerification, VerifySandbox, sha256Hex, type CommandReply } from '@aevo/contracts';
import type { CommandClient } from '@aevo/messaging';
import type { Verification } from '../domain/evaluation';
import type { SandboxToVerify, SandboxVerifier } from './sandbox-verifier';

/** Transport-level failures: the substrate service did not answer, so the check must be retried, not judged. */
const TRANSIENT = new Set(['TIMEOUT', 'NO_RESPONDERS', 'INTERNAL']);

export class SandboxVerificationUnavailable extends Error {}

/**
 * Reads the substrate service's answer to VerifySandbox. A refusal for a reason other than transport counts as a
 * failed verification; the sandbox the request names must be the candidate's own (else a worker could have its
 * own directory evaluated in place of the verified one).
 */
export function verificationFromReply(
  reply: CommandReply,
  s: Pick<SandboxToVerify, 'candidateId' | 'sandboxPath'>,
): Verification {
  if (!reply.ok) {
    if (TRANSIENT.has(reply.error.code))
      throw new SandboxVerificationUnavailable(`VerifySandbox ${reply.error.code}: ${reply.error.message}`);
    return {
      verifiedBy: 'substrate-service',
      ok: false,
      violations: [`VerifySandbox refused (${reply.error.code}): ${reply.error.message}`],
    };
  }
  const parsed = SandboxVerification.safeParse(reply.result);
  if (!parsed.success)
    throw new SandboxVerificationUnavailable(
      `VerifySandbox answered an unexpected result: ` +
        `${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const v = parsed.data;
  const violations = v.violations.map((x) => `${x.path}: ${x.kind} (${x.detail})`);
  if (v.candidateId !== s.candidateId)
    violations.push(`candidateId: asked about ${s.candidateId}, the answer is about ${v.candidateId}`);
  if (path.resolve(v.sandboxPath) !== path.resolve(s.sandboxPath))
    violations.push(
      `sandboxPath: the request names ${s.sandboxPath}, but candidate ${s.candidateId}'s sandbox is ${v.sandboxPath}`,
    );
  if (!v.valid && violations.length === 0)
    violations.push(`candidate ${s.candidateId} was invalidated by an earlier frozen-path violation`);
  return violations.length === 0
    ? { verifiedBy: 'substrate-service', ok: true, snapshotId: v.snapshotId }
    : { verifiedBy: 'substrate-service', ok: false, violations };
}

/** Verifies through the substrate service's `VerifySandbox` command (which records FrozenPathViolated itself). */
export class CommandSandboxVerifier implements SandboxVerifier {
  constructor(
    private readonly client: Pick<CommandClient, 'send'>,
    private readonly timeoutMs = 120_000,
  ) {}

  async verify(s: SandboxToVerify): Promise<Verification> {
    // Deterministic id: a redelivered evaluation re-asks with the same command and gets the same answer.
    const commandId = `verify-${sha256Hex(`${s.campaignId}/${s.reason}`).slice(0, 40)}`;
    const reply = await this.client.send(
      VerifySandbox,
      { campaignId: s.campaignId, candidateId: s.candidateId, checkedAt: 'before-evaluation', paths: s.paths },
      { commandId, timeoutMs: this.timeoutMs },
    );
    return verificationFromReply(reply, s);
  }
}
