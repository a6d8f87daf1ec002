/** The message of anything thrown, for logs and dead letters (a non-Error object as JSON). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (err !== null && typeof err === 'object') {
    const m = (err as { message?: unknown }).message;
    if (typeof m === 'string') return m;
    try {
      return JSON.stringify(err);
    } catch {
      return String(err);
    }
  }
  return String(err);
}
