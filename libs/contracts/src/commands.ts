import { z } from 'zod';
import { DomainError, IssueDetail, zodIssues } from './errors';
import { ServiceName } from './envelope';

export interface CommandDefinition<N extends string = string, S extends z.ZodType = z.ZodType> {
  name: N;
  /** The service whose queue group answers `aevo.cmd.<name>`. */
  handler: ServiceName;
  payload: S;
  description: string;
}

const registry = new Map<string, CommandDefinition>();

export function defineCommand<N extends string, S extends z.ZodType>(
  name: N,
  opts: { handler: ServiceName; description: string },
  payload: S,
): CommandDefinition<N, S> {
  if (registry.has(name)) throw new Error(`command ${name} defined twice`);
  const def = { name, handler: opts.handler, payload, description: opts.description };
  registry.set(name, def as unknown as CommandDefinition);
  return def;
}

export function commandDefinitions(): CommandDefinition[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}
export function commandDefinition(name: string): CommandDefinition | undefined {
  return registry.get(name);
}

/** What travels on `aevo.cmd.<name>`. `commandId` makes retries idempotent. */
export const CommandEnvelope = z
  .object({
    commandId: z
      .string()
      .min(8)
      .max(100)
      .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-"'),
    name: z.string().min(1),
    issuedBy: z.string().min(1).max(100).default('cli'),
    correlationId: z.string().max(100).nullable().default(null),
    payload: z.unknown(),
  })
  .strict();
export type CommandEnvelope<N extends string = string, P = unknown> = Omit<
  z.infer<typeof CommandEnvelope>,
  'name' | 'payload'
> & {
  name: N;
  payload: P;
};
export type CommandOf<D extends CommandDefinition> = CommandEnvelope<D['name'], z.infer<D['payload']>>;

export const CommandReply = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), commandId: z.string(), duplicate: z.boolean().default(false), result: z.unknown() }),
  z.object({
    ok: z.literal(false),
    commandId: z.string().nullable(),
    error: z.object({
      code: z.string(),
      message: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })),
    }),
  }),
]);
export type CommandReply = z.infer<typeof CommandReply>;

/**
 * Validates a raw command (already JSON-decoded) for the subject's command name.
 * Throws DomainError('INVALID_COMMAND', …) whose issues name every offending field.
 */
export function parseCommand(subjectName: string, raw: unknown): CommandEnvelope {
  const def = registry.get(subjectName);
  if (!def)
    throw new DomainError('UNKNOWN_COMMAND', `unknown command "${subjectName}"`, [
      { path: 'name', message: 'not a registered command' },
    ]);
  const env = CommandEnvelope.safeParse(raw);
  const issues: IssueDetail[] = [];
  if (!env.success) issues.push(...zodIssues(env.error));
  else if (env.data.name !== subjectName)
    issues.push({ path: 'name', message: `expected "${subjectName}" (the subject's command), got "${env.data.name}"` });
  const payloadSource = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>).payload : undefined;
  const payload = def.payload.safeParse(payloadSource);
  if (!payload.success) issues.push(...zodIssues(payload.error, 'payload'));
  if (issues.length > 0 || !env.success || !payload.success)
    throw new DomainError(
      'INVALID_COMMAND',
      `${subjectName} rejected: ${issues.length} invalid field(s)`,
      dedupe(issues),
    );
  return { ...env.data, name: subjectName, payload: payload.data };
}

function dedupe(issues: IssueDetail[]): IssueDetail[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}|${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function errorReply(commandId: string | null, err: unknown): CommandReply {
  if (err instanceof DomainError)
    return { ok: false, commandId, error: { code: err.code, message: err.message, issues: err.issues } };
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, commandId, error: { code: 'INTERNAL', message, issues: [] } };
}
