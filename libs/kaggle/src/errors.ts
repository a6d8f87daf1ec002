import type { KaggleSubmissionLimits } from './wire';

/** Every failure of the Kaggle client is one of these, so callers can map them to events without string matching. */
export class KaggleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Missing or unusable credentials/configuration (nothing was sent). */
export class KaggleConfigError extends KaggleError {}

/** The API answered with a non-2xx status. */
export class KaggleApiError extends KaggleError {
  constructor(
    public readonly method: string,
    public readonly status: number,
    /** The server's own message (JSON `message`, or the start of the body). */
    public readonly serverMessage: string,
    /** What the answer's Retry-After asked for, in ms; null where it had none. */
    public readonly retryAfterMs: number | null = null,
    message?: string,
  ) {
    super(message ?? `Kaggle ${method} failed with HTTP ${status}: ${serverMessage}`);
  }
}

/** 401, or a 403 that names no other cause: the token or username/key was refused. */
export class KaggleAuthError extends KaggleApiError {}

/** The competition named does not exist (or this account cannot see it). */
export class KaggleCompetitionNotFoundError extends KaggleApiError {
  constructor(
    method: string,
    status: number,
    serverMessage: string,
    public readonly competitionName: string,
  ) {
    super(
      method,
      status,
      serverMessage,
      null,
      `Kaggle ${method}: no competition named ${JSON.stringify(competitionName)} (HTTP ${status}: ${serverMessage})`,
    );
  }
}

/** The account has not joined the competition (its rules are accepted on kaggle.com, never through the API). */
export class KaggleNotJoinedError extends KaggleApiError {
  constructor(
    method: string,
    status: number,
    serverMessage: string,
    public readonly competitionName: string,
  ) {
    super(
      method,
      status,
      serverMessage,
      null,
      `Kaggle ${method}: this account has not joined competition ${JSON.stringify(competitionName)}; ` +
        `accept its rules on kaggle.com (HTTP ${status}: ${serverMessage})`,
    );
  }
}

export type SubmissionRefusalReason = 'quota-exceeded' | 'invalid-description' | 'submissions-disabled' | 'unknown';

/** CreateSubmission refused the submission for a reason other than auth, membership or a wrong competition name. */
export class KaggleSubmissionRefusedError extends KaggleApiError {
  constructor(
    method: string,
    status: number,
    serverMessage: string,
    public readonly reason: SubmissionRefusalReason,
    /** What GetSubmissionLimits answered while the refusal was explained; null where it was not asked or not served. */
    public readonly limits: KaggleSubmissionLimits | null,
    detail: string,
  ) {
    super(
      method,
      status,
      serverMessage,
      null,
      `Kaggle ${method} refused the submission (${reason}): ${detail} (HTTP ${status}: ${serverMessage})`,
    );
  }
}

/**
 * The allowance is used up: Kaggle's answer says so and GetSubmissionLimits does not contradict it, or
 * GetSubmissionLimits reports nothing allowed now. Never inferred from the status code alone.
 */
export class KaggleQuotaExceededError extends KaggleSubmissionRefusedError {}

/** A response did not have the documented shape; `field` names the offending field. */
export class KaggleProtocolError extends KaggleError {
  constructor(
    public readonly method: string,
    public readonly field: string,
    detail: string,
  ) {
    super(`Kaggle ${method} returned an unexpected response: ${field}: ${detail}`);
  }
}

/** The request never got an HTTP answer (connection refused, reset, timed out). */
export class KaggleNetworkError extends KaggleError {
  constructor(
    public readonly method: string,
    cause: unknown,
  ) {
    super(`Kaggle ${method} could not be reached: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** Polling gave up before the submission reached COMPLETE or ERROR. */
export class KagglePollTimeoutError extends KaggleError {
  constructor(
    public readonly ref: string,
    public readonly lastStatus: string,
    public readonly waitedMs: number,
    public readonly polls: number,
  ) {
    super(`Kaggle submission ${ref} still ${lastStatus} after ${polls} polls over ${Math.round(waitedMs / 1000)} s`);
  }
}
