import type { ServiceName } from '@aevo/contracts';

/** Where a service connects and how its subjects and stream are named. */
export interface MessagingConfig {
  service: ServiceName;
  /** One or more servers, comma separated. */
  natsUrl: string;
  /** Subjects are `<prefix>.evt.<campaignId>.<EventType>` and `<prefix>.cmd.<CommandName>`. */
  subjectPrefix: string;
  stream: string;
  databaseUrl: string;
  dbSchema: string;
}

export const DEFAULTS = {
  natsUrl: 'nats://127.0.0.1:4222',
  subjectPrefix: 'aevo',
  stream: 'AEVO_EVENTS',
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
  dbSchema: 'aevo',
} as const;

const SUBJECT_TOKENS = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const STREAM_NAME = /^[A-Za-z0-9_-]+$/;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * Resolves the configuration: explicit options first, then the environment, then defaults. Throws naming each bad
 * value.
 */
export function resolveMessagingConfig(
  service: ServiceName,
  overrides: Partial<Omit<MessagingConfig, 'service'>> = {},
  env: NodeJS.ProcessEnv = process.env,
): MessagingConfig {
  const cfg: MessagingConfig = {
    service,
    natsUrl: overrides.natsUrl ?? env.AEVO_NATS_URL ?? DEFAULTS.natsUrl,
    subjectPrefix: overrides.subjectPrefix ?? env.AEVO_SUBJECT_PREFIX ?? DEFAULTS.subjectPrefix,
    stream: overrides.stream ?? env.AEVO_STREAM ?? DEFAULTS.stream,
    databaseUrl: overrides.databaseUrl ?? env.AEVO_DATABASE_URL ?? DEFAULTS.databaseUrl,
    dbSchema: overrides.dbSchema ?? env.AEVO_DB_SCHEMA ?? DEFAULTS.dbSchema,
  };
  const problems: string[] = [];
  if (!SUBJECT_TOKENS.test(cfg.subjectPrefix))
    problems.push(
      `AEVO_SUBJECT_PREFIX "${cfg.subjectPrefix}": expected dot-separated tokens of letters, digits, "_" or "-"`,
    );
  if (!STREAM_NAME.test(cfg.stream)) problems.push(`AEVO_STREAM "${cfg.stream}": expected letters, digits, "_" or "-"`);
  if (!SCHEMA_NAME.test(cfg.dbSchema))
    problems.push(`AEVO_DB_SCHEMA "${cfg.dbSchema}": expected a lowercase SQL identifier`);
  if (cfg.natsUrl.trim() === '') problems.push('AEVO_NATS_URL: expected a nats:// URL');
  if (problems.length > 0) throw new Error(`invalid messaging configuration: ${problems.join('; ')}`);
  return cfg;
}

export const natsServers = (url: string): string[] =>
  url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/**
 * A positive integer setting: `dflt` when the variable is unset or empty, else the variable's value; anything else
 * is refused naming the variable (services' config.ts read their numeric settings through this).
 */
export function positiveIntSetting(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  const v = raw === undefined || raw === '' ? dflt : Number(raw);
  if (!Number.isInteger(v) || v <= 0)
    throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}
