import * as http from 'node:http';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { startApi } from './main';

jest.setTimeout(60_000);

const get = (port: number, path: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (d) => (body += String(d)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });

describe('api probes and metrics', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it(
    'serves /healthz, /readyz and /metrics on their own port, outside ' +
      'the bearer-token guard, and stops with the api',
    async () => {
      const api = await startApi({
        port: 0,
        databaseUrl: db.url,
        dbSchema: db.schema,
        quiet: true,
        token: 'a-token-the-probes-do-not-have',
        healthPort: 0,
        metricsPort: 0,
        env: { AEVO_HEALTH_HOST: '127.0.0.1' },
      });
      const healthPort = api.healthPort as number;
      const metricsPort = api.metricsPort as number;
      try {
        expect(await get(healthPort, '/healthz')).toEqual({ status: 200, body: '{"status":"up"}' });
        const ready = await get(healthPort, '/readyz');
        expect(ready.status).toBe(200);
        expect(JSON.parse(ready.body)).toEqual({
          status: 'ready',
          failing: [],
          checks: { store: 'ok', migrations: 'ok' },
        });
        const metrics = await get(metricsPort, '/metrics');
        expect(metrics.status).toBe(200);
        expect(metrics.body).toMatch(/process_resident_memory_bytes\{service="api"\} \d+/);
      } finally {
        await api.close();
      }
      await expect(get(healthPort, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    },
  );

  it('serves nothing extra when neither port is set', async () => {
    const api = await startApi({
      port: 0,
      databaseUrl: db.url,
      dbSchema: db.schema,
      quiet: true,
      env: { AEVO_API_TOKEN: '' },
    });
    try {
      expect(api.healthPort).toBeNull();
      expect(api.metricsPort).toBeNull();
    } finally {
      await api.close();
    }
  });
});
