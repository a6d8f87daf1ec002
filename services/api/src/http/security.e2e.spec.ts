import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as fc from 'fast-check';
import { PostgresEventStore } from '@aevo/eventstore';
import { sampleCampaignLog } from '@aevo/projections';
import { createTestDb, eventually, type TestDb } from '@aevo/testkit';
import { startApi } from '../main';
import { DASHBOARD_HTML } from './dashboard-page';
import { OPEN_API_OPT_OUT } from './security';

jest.setTimeout(120_000);

// Valid campaign ids that are Object.prototype members, and keys that name no campaign (one is not even a valid id).
const CAMPAIGNS = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'];
const UNKNOWN = [
  '__proto__',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  'prototype',
];

/** A raw GET, so the Host header is exactly what the test says (fetch would set its own). */
function raw(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(url);
  const all: Record<string, string> = { host: u.host, ...headers };
  // An empty host means "send none" (an HTTP/1.0-style request).
  const noHost = all.host === '';
  if (noHost) delete all.host;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: 'GET', headers: all, setHost: !noHost },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('api: prototype-named ids, security headers, Host allow-list and bearer token', () => {
  let db: TestDb;
  let api: Awaited<ReturnType<typeof startApi>>;

  beforeAll(async () => {
    db = await createTestDb();
    const writer = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    for (const [i, id] of CAMPAIGNS.entries())
      for (const e of sampleCampaignLog({ campaignId: id, seed: i + 1, rounds: 1, candidatesPerRound: 2 }))
        await writer.append(e.streamId, 'any', [e]);
    await writer.close();
    api = await startApi({
      port: 0,
      databaseUrl: db.url,
      dbSchema: db.schema,
      quiet: true,
      token: null,
      allowedHosts: [],
    });
    await eventually(async () => JSON.parse((await raw(api.url, '/healthz')).body).caughtUp === true);
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it(
    'answers every campaign route for ids named after Object.prototype ' +
      'members: 200 for campaigns, 404 otherwise, never 500',
    async () => {
      const list = JSON.parse((await raw(api.url, '/api/campaigns')).body) as Array<{ campaignId: string }>;
      expect(list.map((c) => c.campaignId).sort()).toEqual([...CAMPAIGNS].sort());
      const routes = ['', '/candidates', '/candidates?round=1', '/policies', '/jobs', '/rounds/1/evidence'];
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...CAMPAIGNS, ...UNKNOWN), fc.constantFrom(...routes), async (id, route) => {
          const r = await raw(api.url, `/api/campaigns/${id}${route}`);
          const body = JSON.parse(r.body);
          if (!CAMPAIGNS.includes(id)) {
            expect(r.status).toBe(404);
            expect(body.code).toBe('UNKNOWN_CAMPAIGN');
          } else if (route === '/rounds/1/evidence') {
            expect(r.status).toBe(404);
            expect(body.code).toBe('NO_EVIDENCE');
          } else {
            expect(r.status).toBe(200);
            if (route === '') expect(body).toMatchObject({ campaignId: id, status: 'completed' });
            if (route.startsWith('/candidates'))
              expect(body.map((c: { candidateId: string }) => c.candidateId)).toEqual([`${id}-r1-c0`, `${id}-r1-c1`]);
            if (route === '/policies') expect(body.revisions).toHaveLength(1);
          }
          const events = await raw(api.url, `/api/events?campaign=${id}&limit=5`);
          expect(events.status).toBe(200);
          expect(JSON.parse(events.body).length).toBe(CAMPAIGNS.includes(id) ? 5 : 0);
        }),
        { numRuns: 60 },
      );
    },
  );

  it(
    'sends security headers (CSP admitting only the dashboard ' + 'script, nosniff, no framing) and no X-Powered-By',
    async () => {
      const script = /<script>([\s\S]*?)<\/script>/.exec(DASHBOARD_HTML)?.[1] as string;
      const hash = `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
      for (const path of ['/', '/api/campaigns', '/api/campaigns/nope', '/healthz']) {
        const r = await raw(api.url, path);
        expect(r.headers['x-powered-by']).toBeUndefined();
        expect(r.headers['x-content-type-options']).toBe('nosniff');
        expect(r.headers['x-frame-options']).toBe('DENY');
        const csp = String(r.headers['content-security-policy']);
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).toContain(`script-src 'self' ${hash}`);
        expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
        expect(csp).toContain("default-src 'self'");
      }
    },
  );

  it('serves loopback Host names and refuses any other (DNS rebinding) with 421', async () => {
    const port = new URL(api.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'LOCALHOST'])
      expect((await raw(api.url, '/api/campaigns', { host })).status).toBe(200);
    for (const host of [
      `evil.example:${port}`,
      'attacker.test',
      `127.0.0.1.nip.io:${port}`,
      'localhost.evil.example',
    ]) {
      const r = await raw(api.url, '/api/campaigns', { host });
      expect(r.status).toBe(421);
      expect(JSON.parse(r.body).code).toBe('HOST_NOT_ALLOWED');
      expect(r.headers['x-powered-by']).toBeUndefined();
    }
    // No Host at all: Node's server already answers 400 before the guard would.
    expect([400, 421]).toContain((await raw(api.url, '/api/campaigns', { host: '' })).status);
  });

  it('adds the configured host names (AEVO_API_ALLOWED_HOSTS) to the allow-list', async () => {
    const other = await startApi({
      port: 0,
      databaseUrl: db.url,
      dbSchema: db.schema,
      quiet: true,
      token: null,
      env: { AEVO_API_ALLOWED_HOSTS: 'aevo.internal, Dash.Example' },
    });
    try {
      for (const host of ['aevo.internal:8080', 'dash.example', '127.0.0.1'])
        expect((await raw(other.url, '/healthz', { host })).status).toBe(200);
      expect((await raw(other.url, '/healthz', { host: 'aevo.internal.evil' })).status).toBe(421);
    } finally {
      await other.close();
    }
  });

  it(
    'with a token, requires it on every request: Bearer header, ' + 'or the cookie that opening /?token= sets',
    async () => {
      const token = 'api-test-token-5f2c8e';
      const guarded = await startApi({ port: 0, databaseUrl: db.url, dbSchema: db.schema, quiet: true, token });
      try {
        for (const path of ['/', '/healthz', '/api/campaigns', '/api/stream', '/api/campaigns/constructor']) {
          const r = await raw(guarded.url, path);
          expect(r.status).toBe(401);
          expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
          expect(r.body).not.toContain(token);
        }
        expect((await raw(guarded.url, '/api/campaigns', { authorization: 'Bearer wrong' })).status).toBe(401);
        expect((await raw(guarded.url, '/?token=wrong')).status).toBe(401);
        const ok = await raw(guarded.url, '/api/campaigns/constructor', { authorization: `Bearer ${token}` });
        expect(ok.status).toBe(200);
        expect(JSON.parse(ok.body).campaignId).toBe('constructor');
        const login = await raw(guarded.url, `/?token=${token}`);
        expect(login.status).toBe(303);
        expect(login.headers.location).toBe('/');
        const cookie = String(login.headers['set-cookie']?.[0]).split(';')[0];
        expect(String(login.headers['set-cookie']?.[0])).toMatch(/HttpOnly; SameSite=Strict/);
        const page = await raw(guarded.url, '/', { cookie });
        expect(page.status).toBe(200);
        expect(page.body).toContain('<title>aevo');
        expect((await raw(guarded.url, '/api/campaigns', { cookie })).status).toBe(200);
        // The Host check comes first, token or not.
        expect(
          (await raw(guarded.url, '/api/campaigns', { authorization: `Bearer ${token}`, host: 'evil.example' })).status,
        ).toBe(421);
      } finally {
        await guarded.close();
      }
    },
  );

  it('refuses to listen beyond loopback without a token unless explicitly opted out', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10']) {
      await expect(
        startApi({ host, port: 0, databaseUrl: db.url, dbSchema: db.schema, quiet: true, env: {} }),
      ).rejects.toThrow(/beyond loopback\) without a token/);
      await expect(
        startApi({
          host,
          port: 0,
          databaseUrl: db.url,
          dbSchema: db.schema,
          quiet: true,
          env: { AEVO_API_NO_TOKEN: 'yes' },
        }),
      ).rejects.toThrow(/AEVO_API_TOKEN/);
    }
    const open = await startApi({
      host: '0.0.0.0',
      port: 0,
      databaseUrl: db.url,
      dbSchema: db.schema,
      quiet: true,
      env: { AEVO_API_NO_TOKEN: OPEN_API_OPT_OUT },
    });
    try {
      const url = `http://127.0.0.1:${new URL(open.url).port}`;
      expect((await raw(url, '/healthz')).status).toBe(200);
    } finally {
      await open.close();
    }
    const withToken = await startApi({
      host: '0.0.0.0',
      port: 0,
      databaseUrl: db.url,
      dbSchema: db.schema,
      quiet: true,
      env: { AEVO_API_TOKEN: 'env-token-1234' },
    });
    try {
      const url = `http://127.0.0.1:${new URL(withToken.url).port}`;
      expect((await raw(url, '/healthz')).status).toBe(401);
      expect((await raw(url, '/healthz', { authorization: 'Bearer env-token-1234' })).status).toBe(200);
    } finally {
      await withToken.close();
    }
  });
});
