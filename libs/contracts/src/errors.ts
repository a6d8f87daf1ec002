import type { z } from 'zod';

export interface IssueDetail {
  /** Dotted path of the offending field, e.g. "payload.budgets.gpuSeconds". */
  path: string;
  message: string;
}

/** A refusal that names what was wrong; carried back to the caller as a structured error reply. */
export class DomainError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly issues: IssueDetail[] = [],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function zodIssues(error: z.ZodError, prefix = ''): IssueDetail[] {
  return error.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter((p) => p !== '').join('.') || '(root)',
    message: i.message,
  }));
}

export function describeIssues(issues: IssueDetail[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ');
}
