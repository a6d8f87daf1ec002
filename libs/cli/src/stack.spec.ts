import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalStack } from './stack';

/**
 * A stand-in service: prints the old "listening:" line at once, serves /readyz on AEVO_HEALTH_PORT with 503 until
 * the file `ready` appears next to it, and appends one line to `probes` per readiness request.
 */
const FAKE_SERVICE = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const dir = __dirname;
console.log('listening: 1 event consumer(s)');
http.createServer((req, res) => {
  fs.appendFileSync(path.join(dir, 'probes'), req.url + '\\n');
  const ready = fs.existsSync(path.join(dir, 'ready'));
  res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
  res.end(ready ? '{"status":"ready"}' : '{"status":"not ready","failing":["consumers"]}');
}).listen(Number(process.env.AEVO_HEALTH_PORT), process.env.AEVO_HEALTH_HOST);
process.on('SIGTERM', () => process.exit(0));
`;

describe('LocalStack readiness', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-stack-'));
  const dist = path.join(root, 'services', 'orchestrator', 'dist');
  beforeAll(() => {
    fs.mkdirSync(dist, { recursive: true });
    fs.writeFileSync(path.join(dist, 'main.js'), FAKE_SERVICE);
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it(
    'waits for /readyz to answer 200, not for the log line, and ' + 'names the failing check when it never does',
    async () => {
      const stack = new LocalStack({
        root,
        env: {},
        logDir: path.join(root, 'logs'),
        services: ['orchestrator'],
        restarts: 0,
      });
      await stack.start();
      try {
        expect(stack.readyzUrl('orchestrator')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/readyz$/);
        let resolved = false;
        const waiting = stack.waitReady(60_000).then(() => (resolved = true));
        // Probed twice after the "listening:" line was printed, and still waiting.
        const probes = () =>
          fs.existsSync(path.join(dist, 'probes'))
            ? fs.readFileSync(path.join(dist, 'probes'), 'utf8').trim().split('\n').length
            : 0;
        while (probes() < 2) await new Promise((r) => setTimeout(r, 50));
        expect(fs.readFileSync(stack.logPath('orchestrator'), 'utf8')).toContain('listening: ');
        expect(resolved).toBe(false);
        // A deadline that has passed: the 503 body, naming the failing check, is in the error.
        await expect(stack.waitReady(0)).rejects.toThrow(
          /not ready after 0 s: orchestrator \(\/readyz 503: .*"failing":\["consumers"\].*see /,
        );
        fs.writeFileSync(path.join(dist, 'ready'), '');
        await waiting;
        expect(resolved).toBe(true);
      } finally {
        await stack.stop(5000);
      }
    },
  );
});

/** A stand-in that is ready at once and exits with code 1 on GET /exit; a taken port crashes it (EADDRINUSE). */
const EXITING_SERVICE = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"status":"ready"}', () => {
    if (req.url === '/exit') server.close(() => process.exit(1));
  });
}).listen(Number(process.env.AEVO_HEALTH_PORT), process.env.AEVO_HEALTH_HOST);
process.on('SIGTERM', () => process.exit(0));
`;

describe('LocalStack restarts', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-stack-'));
  beforeAll(() => {
    for (const name of ['orchestrator', 'substrate']) {
      fs.mkdirSync(path.join(root, 'services', name, 'dist'), { recursive: true });
      fs.writeFileSync(path.join(root, 'services', name, 'dist', 'main.js'), EXITING_SERVICE);
    }
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('gives every service its own port, and a service that exited a fresh one (its old port may be taken)', async () => {
    const stack = new LocalStack({
      root,
      env: {},
      logDir: path.join(root, 'logs'),
      services: ['orchestrator', 'substrate'],
      restarts: 2,
    });
    const portOf = (url: string | undefined) => Number(/:(\d+)\/readyz$/.exec(url ?? '')?.[1]);
    const foreign = net.createServer();
    await stack.start();
    try {
      await stack.waitReady(30_000);
      const before = portOf(stack.readyzUrl('orchestrator'));
      expect(before).not.toBe(portOf(stack.readyzUrl('substrate')));
      // The orchestrator exits on its own, and another process takes its port at once.
      await fetch(`http://127.0.0.1:${before}/exit`);
      for (let i = 0; ; i++) {
        const bound = await new Promise<boolean>((resolve) => {
          foreign.once('error', () => resolve(false));
          foreign.listen(before, '127.0.0.1', () => resolve(true));
        });
        if (bound) break;
        if (i > 200) throw new Error(`port ${before} never freed`);
        await new Promise((r) => setTimeout(r, 10));
      }
      // Restarted on another port, and ready there (on the old one it would fail every restart).
      for (let i = 0; portOf(stack.readyzUrl('orchestrator')) === before; i++) {
        if (i > 300) throw new Error('not restarted');
        await new Promise((r) => setTimeout(r, 50));
      }
      await stack.waitReady(30_000);
      expect(portOf(stack.readyzUrl('orchestrator'))).not.toBe(before);
    } finally {
      foreign.close();
      await stack.stop(5000);
    }
  });
});
