import * as fs from 'node:fs';
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
