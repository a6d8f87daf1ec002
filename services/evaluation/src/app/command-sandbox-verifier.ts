import * as path from 'node:path';
import { SandboxVerification, VerifySandbox, sha256Hex } from '@aevo/contracts';
import type { CommandClient } from '@aevo/messaging';
import type { Verification } from '../domain/evaluation';
import type { SandboxToVerify, SandboxVerifier } from './sandbox-verifier';

/** Transport-level failures: the substrate service did not answer, so the check must be retried, not judged. */
const TRANSIENT = new Set(['TIMEOUT', 'NO_RESPONDERS', 'INTERNAL']);

export class SandboxVerificationUnavailable extends Error {}

/**
 * Verifies through the substrate service's `VerifySandbox` command, which hashes the frozen paths against the
 * snapshot and records FrozenPathViolated itself. The sandbox the request names must be the candidate's own.
 */
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
    if (!reply.ok) {
      if (TRANSIENT.has(reply.error.code)) throw new SandboxVerificationUnavailable(`VerifySandbox ${reply.error.code}: ${reply.error.message}`);
      return { verifiedBy: 'substrate-service', ok: false, violations: [`VerifySandbox refused (${reply.error.code}): ${reply.error.message}`] };
    }
    const parsed = SandboxVerification.safeParse(reply.result);
    if (!parsed.success) throw new SandboxVerificationUnavailable(`VerifySandbox answered an unexpected result: ${parsed.error.issues[0]?.message}`);
    const v = parsed.data;
    const violations = v.violations.map((x) => `${x.path}: ${x.kind} (${x.detail})`);
    if (path.resolve(v.sandboxPath) !== path.resolve(s.sandboxPath))
      violations.push(`sandboxPath: the request names ${s.sandboxPath}, but candidate ${s.candidateId}'s sandbox is ${v.sandboxPath}`);
    if (!v.valid && violations.length === 0) violations.push(`candidate ${s.candidateId} was invalidated by an earlier frozen-path violation`);
    return violations.length === 0 ? { verifiedBy: 'substrate-service', ok: true } : { verifiedBy: 'substrate-service', ok: false, violations };
  }
}
