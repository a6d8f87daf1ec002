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
  ) {
    super(`Kaggle ${method} failed with HTTP ${status}: ${serverMessage}`);
  }
}

/** 401/403: the token or username/key was refused. */
export class KaggleAuthError extends KaggleApiError {}

/** HTTP 400 from CreateSubmission: the competition's submission allowance is used up. */
export class KaggleQuotaExceededError extends KaggleApiError {}

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
