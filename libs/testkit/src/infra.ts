import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export const PG_URL =
  process.env.AEVO_TEST_DATABASE_URL ?? process.env.AEVO_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const NATS_URL = process.env.AEVO_TEST_NATS_URL ?? process.env.AEVO_NATS_URL ?? 'nats://127.0.0.1:4222';

export const randomSuffix = (n = 8) => randomBytes(n).toString('hex').slice(0, n);

export interface TestDb {
  url: string;
  /** A fresh PostgreSQL schema owned by this test suite. */
  schema: string;
  drop(): Promise<void>;
}

/** Creates an isolated schema so suites can run in parallel against one server. */
export async function createTestDb(prefix = 'aevo_t'): Promise<TestDb> {
  const schema = `${prefix}_${randomSuffix()}`;
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  return {
    url: PG_URL,
    schema,
    async drop() {
      const c = new Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

export interface TestNatsNames {
  url: string;
  /** Subject prefix for this suite, e.g. "t1a2b3c4d.aevo" (events on `<prefix>.evt.>`). */
  subjectPrefix: string;
  /** JetStream stream name for this suite. */
  stream: string;
}

export function createTestNatsNames(): TestNatsNames {
  const id = randomSuffix();
  return { url: NATS_URL, subjectPrefix: `t${id}.aevo`, stream: `AEVO_T_${id.toUpperCase()}` };
}

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes (no timing assertion: it fails only on the
 * deadline).
 */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 20000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as T;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${lastErr ? `: ${String(lastErr)}` : ''}`);
}
