import {
  canonicalJson,
  DomainError,
  parseCommand,
  sha256Hex,
  type CommandEnvelope,
  type CommandReply,
} from '@aevo/contracts';

const COMMAND_RESULT = Symbol.for('aevo.commandResult');

/** What a command handler returns to set `duplicate` on the reply; a plain value means `{ duplicate: false }`. */
export interface CommandResult<T = unknown> {
  readonly [COMMAND_RESULT]: true;
  readonly result: T;
  readonly duplicate: boolean;
}

export function commandResult<T>(result: T, opts: { duplicate?: boolean } = {}): CommandResult<T> {
  return { [COMMAND_RESULT]: true, result, duplicate: opts.duplicate ?? false };
}

export function isCommandResult(v: unknown): v is CommandResult {
  return v !== null && typeof v === 'object' && (v as Record<symbol, unknown>)[COMMAND_RESULT] === true;
}

export function okReply(commandId: string, value: unknown): CommandReply {
  if (isCommandResult(value)) return { ok: true, commandId, duplicate: value.duplicate, result: value.result ?? null };
  return { ok: true, commandId, duplicate: false, result: value ?? null };
}

/** Duck-typed so that a DomainError from another copy of @aevo/contracts (dist vs sources) still maps to its code. */
function isDomainError(err: unknown): err is DomainError {
  if (err instanceof DomainError) return true;
  if (err === null || typeof err !== 'object') return false;
  const e = err as Record<string, unknown>;
  return typeof e.code === 'string' && typeof e.message === 'string' && Array.isArray(e.issues);
}

/** Maps any thrown value to a structured error reply: DomainErrors keep their code and issues, the rest is INTERNAL. */
export function errorReplyOf(commandId: string | null, err: unknown): CommandReply & { ok: false } {
  if (isDomainError(err)) {
    const issues = err.issues.map((i) => ({ path: String(i.path), message: String(i.message) }));
    return { ok: false, commandId, error: { code: err.code, message: err.message, issues } };
  }
  const message =
    err instanceof Error
      ? err.message
      : err !== null && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string'
        ? (err as { message: string }).message
        : String(err);
  return { ok: false, commandId, error: { code: 'INTERNAL', message, issues: [] } };
}

/** The caller's commandId if it is a plausible string, so that even a rejected request can be correlated. */
export function claimedCommandId(raw: unknown): string | null {
  if (raw === null || typeof raw !== 'object') return null;
  const id = (raw as Record<string, unknown>).commandId;
  return typeof id === 'string' && id.length > 0 && id.length <= 200 ? id : null;
}

export type DecodedCommand =
  { ok: true; command: CommandEnvelope } | { ok: false; reply: CommandReply & { ok: false } };

/** Decodes and validates a request on `<prefix>.cmd.<name>`. Never throws. */
export function decodeCommandRequest(name: string, data: Uint8Array): DecodedCommand {
  let raw: unknown;
  const text = Buffer.from(data).toString('utf8');
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      reply: errorReplyOf(
        null,
        new DomainError('INVALID_JSON', `${name} rejected: the request is not JSON (${(err as Error).message})`, [
          { path: '(root)', message: 'expected a JSON command envelope' },
        ]),
      ),
    };
  }
  try {
    return { ok: true, command: parseCommand(name, raw) };
  } catch (err) {
    return { ok: false, reply: errorReplyOf(claimedCommandId(raw), err) };
  }
}

/**
 * What a commandId is bound to: the command's name and its validated body (defaults applied), hashed. Handlers pass
 * it with the commandId to the store (`handle`'s `fingerprint`), so that the same id sent with another body,
 * campaign or command is refused (IDEMPOTENCY_CONFLICT) rather than answered with the first command's outcome.
 */
export function commandFingerprint(command: Pick<CommandEnvelope, 'name' | 'payload'>): string {
  return sha256Hex(canonicalJson({ name: command.name, payload: command.payload }));
}
