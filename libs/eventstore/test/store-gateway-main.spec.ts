import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestDb, NATS_URL, randomSuffix, type TestDb } from '@aevo/testkit';
import { gatewayNotReady, startGatewayHealthServer } from '../src/remote/gateway-health';

jest.setTimeout(60_000);

const MAIN = path.resolve(__dirname, '..', 'dist', 'store-gateway-main.js');

const parseLogLine = (raw: string): Record<string, unknown> | null => {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};

/** The gateway's process as a Deployment runs it: its probes answer, and SIGTERM stops it cleanly. */
describe('store-gateway-main (the process)', () => {
  let db: TestDb;
  let child: ChildProcess | null = null;
  let out = '';

  beforeAll(async () => {
    if (!fs.existsSync(MAIN)) throw new Error(`not built: ${MAIN} — run npx nx run @aevo/eventstore:build`);
    db = await createTestDb('aevo_gwmain');
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await db?.drop();
  });

  const start = (env: NodeJS.ProcessEnv): Promise<{ line: Record<string, unknown>; exit: Promise<number | null> }> => {
    out = '';
    const proc = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        AEVO_DATABASE_URL: db.url,
        AEVO_DB_SCHEMA: db.schema,
        AEVO_NATS_URL: NATS_URL,
        AEVO_SUBJECT_PREFIX: `g${randomSuffix()}`,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    return new Promise((resolve, reject) => {
      // Each stream has its own buffer, and only whole lines count: a loaded machine delivers a line in several
      // chunks, and stdout's and stderr's chunks interleave. A line that is not JSON (a Node warning on stderr) is
      // not the gateway's log and is skipped.
      const reader = (stream: NodeJS.ReadableStream) => {
        let pending = '';
        const onData = (d: Buffer) => {
          out += String(d);
          pending += String(d);
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const raw of lines) {
            const line = parseLogLine(raw);
            if (line && (line.msg === 'serving' || line.level === 'error')) {
              stream.off('data', onData);
              return resolve({ line, exit });
            }
          }
        };
        stream.on('data', onData);
      };
      if (proc.stdout) reader(proc.stdout);
      if (proc.stderr) reader(proc.stderr);
      exit.then((code) => reject(new Error(`exited ${code} before serving:\n${out}`)));
    });
  };

  it('serves /healthz and /readyz on AEVO_HEALTH_PORT and stops on SIGTERM with exit 0', async () => {
    const { line, exit } = await start({ AEVO_HEALTH_PORT: '0', AEVO_HEALTH_HOST: '127.0.0.1' });
    expect(line.msg).toBe('serving');
    const probes = String(line.probes);
    const base = /^(http:\/\/127\.0\.0\.1:\d+)\/healthz/.exec(probes)?.[1];
    expect(base).toBeDefined();
    const live = await fetch(`${base}/healthz`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    child!.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('refuses a bad AEVO_HEALTH_PORT at start-up, naming the variable', async () => {
    const { line, exit } = await start({ AEVO_HEALTH_PORT: '80a' });
    expect(line.level).toBe('error');
    expect(String(line.error)).toContain('AEVO_HEALTH_PORT must be an integer port');
    expect(await exit).toBe(1);
  });

  it('has no probes without AEVO_HEALTH_PORT', async () => {
    const { line, exit } = await start({});
    expect(line.probes).toBe('off');
    child!.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});

describe('gateway readiness', () => {
  it('is not ready while NATS is closed, the store refuses, or the store hangs', async () => {
    const answers = { natsOpen: () => true, storeAnswers: async () => 7 };
    expect(await gatewayNotReady(answers)).toBeNull();
    expect(await gatewayNotReady({ ...answers, natsOpen: () => false })).toBe('the NATS connection is closed');
    expect(
      await gatewayNotReady({ ...answers, storeAnswers: () => Promise.reject(new Error('connection refused')) }),
    ).toBe('the event store refused a read: connection refused');
    expect(await gatewayNotReady({ ...answers, storeAnswers: () => new Promise(() => undefined) }, 50)).toBe(
      'the event store did not answer within 50 ms',
    );
  });

  it('answers 503 with the reason on /readyz while not ready', async () => {
    const server = await startGatewayHealthServer(
      { natsOpen: () => true, storeAnswers: () => Promise.reject(new Error('no route to host')) },
      0,
      '127.0.0.1',
    );
    try {
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        status: 'not ready',
        reason: 'the event store refused a read: no route to host',
      });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
