import { resolveObservabilityPorts, type ObservabilityPorts } from '@aevo/messaging';

/** The api's settings: the only reader of the environment in the service (ESLint-enforced). */
export interface ApiConfig {
  host: string;
  port: number;
  databaseUrl: string;
  dbSchema: string;
  /** Bearer token required on every request (AEVO_API_TOKEN); null: none. */
  token: string | null;
  /** Host header names accepted besides loopback and the bind address (AEVO_API_ALLOWED_HOSTS, comma-separated). */
  allowedHosts: string[];
  /** AEVO_API_NO_TOKEN: the explicit opt-out that lets the API listen beyond loopback without a token. */
  noTokenOptOut: string | null;
  /** `/healthz` and `/readyz` (AEVO_HEALTH_PORT) and `/metrics` (AEVO_METRICS_PORT) on their own port; null: off. */
  observability: ObservabilityPorts;
  /** The environment the secret scrubber reads its secrets from (every *_TOKEN, *_KEY, … value). */
  secretsEnv: NodeJS.ProcessEnv;
  /** The environment the event store selection reads (AEVO_EVENT_STORE: postgres, kurrentdb or remote, and theirs). */
  storeEnv: NodeJS.ProcessEnv;
}

function port(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  const v = raw === undefined || raw === '' ? dflt : Number(raw);
  if (!Number.isInteger(v) || v < 0 || v > 65535)
    throw new Error(`${name}: expected a port number (0-65535), got ${JSON.stringify(raw)}`);
  return v;
}

/** Overrides a caller (a test, `startApi`) gives; each wins over its variable. */
export type ApiConfigOverrides = Partial<Omit<ApiConfig, 'secretsEnv' | 'storeEnv' | 'observability'>> & {
  healthPort?: number | null;
  metricsPort?: number | null;
};

/** Reads the api's settings from `env`; a bad value is refused naming the variable. */
export function apiConfig(env: NodeJS.ProcessEnv = process.env, overrides: ApiConfigOverrides = {}): ApiConfig {
  return {
    host: overrides.host ?? env.AEVO_API_HOST ?? '127.0.0.1',
    port: overrides.port ?? port(env, 'AEVO_API_PORT', 3000),
    databaseUrl: overrides.databaseUrl ?? env.AEVO_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    dbSchema: overrides.dbSchema ?? env.AEVO_DB_SCHEMA ?? 'aevo',
    token: overrides.token !== undefined ? overrides.token : env.AEVO_API_TOKEN || null,
    allowedHosts: overrides.allowedHosts ?? (env.AEVO_API_ALLOWED_HOSTS ?? '').split(',').filter((h) => h.trim()),
    noTokenOptOut: overrides.noTokenOptOut !== undefined ? overrides.noTokenOptOut : (env.AEVO_API_NO_TOKEN ?? null),
    observability: resolveObservabilityPorts(
      { healthPort: overrides.healthPort, metricsPort: overrides.metricsPort },
      env,
    ),
    secretsEnv: env,
    storeEnv: env,
  };
}
