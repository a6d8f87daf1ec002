import type { Verification } from '../domain/evaluation';

export interface SandboxToVerify {
  campaignId: string;
  candidateId: string;
  round: number;
  sandboxPath: string;
  /** Why it is verified (recorded by the verifier, e.g. "evaluation c1-r1-c2-eval-1"). */
  reason: string;
  /** Sandbox-relative paths about to be used (the checkpoints); each must stay inside the sandbox. */
  paths: string[];
}

/** Checks a sandbox's frozen paths against the snapshot's hashes before anything of it is evaluated. */
export interface SandboxVerifier {
  verify(sandbox: SandboxToVerify): Promise<Verification>;
}

export const SANDBOX_VERIFIER = Symbol('SANDBOX_VERIFIER');
