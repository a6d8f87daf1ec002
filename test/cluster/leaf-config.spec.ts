// tools/nats-leaf-config.js: the configurations it writes are accepted by the machine's nats-server (`-t`), with and
// without the generated users included, and bad input is refused naming the option.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { natsPermissions, NATS_USERS, randomNatsPassword, renderNatsAuthConfig } from '@aevo/messaging';
import { NATS_SERVER } from './nats-procs';

const TOOL = path.join(__dirname, '../../tools/nats-leaf-config.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderHubConfig, renderLeafConfig } = require(TOOL) as {
  renderHubConfig: (o: Record<string, unknown>) => string;
  renderLeafConfig: (o: Record<string, unknown>) => string;
};

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-leaf-config-'));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const tool = (...args: string[]) => spawnSync(process.execPath, [TOOL, ...args], { cwd: dir, encoding: 'utf8' });
const serverAccepts = (conf: string) => spawnSync(NATS_SERVER, ['-t', '-c', conf], { encoding: 'utf8' });

describe('nats-leaf-config', () => {
  it('writes a hub and a leaf config that nats-server accepts, with the generated users and a leaf credential', () => {
    const passwords = Object.fromEntries(NATS_USERS.map((u) => [u, randomNatsPassword()]));
    const auth = renderNatsAuthConfig(natsPermissions('aevo', 'AEVO_EVENTS'), passwords, { storeDir: '/nonexistent' });
    fs.mkdirSync(path.join(dir, 'auth'));
    fs.writeFileSync(path.join(dir, 'auth', 'nats-server.conf'), auth);
    fs.writeFileSync(path.join(dir, 'leaf.json'), JSON.stringify({ user: 'leaf-c1', password: randomNatsPassword() }));
    const common = ['--include', 'auth/nats-server.conf', '--leaf-credentials', 'leaf.json'];
    const hub = tool('hub', '--out', 'hub', '--port', '14222', '--leaf-port', '17422', ...common);
    expect(hub.stderr).toBe('');
    const leaf = tool('leaf', '--out', 'c1', '--domain', 'c1', '--hub', 'nats-leaf://hub.example:17422', ...common);
    expect(leaf.stderr).toBe('');
    for (const role of ['hub', 'c1']) {
      const conf = path.join(dir, role, 'nats-server.conf');
      expect(fs.statSync(conf).mode & 0o777).toBe(0o600);
      const text = fs.readFileSync(conf, 'utf8');
      expect(text).toContain(`domain: "${role}"`);
      expect(text).toContain('include "../auth/nats-server.conf"');
      const t = serverAccepts(conf);
      expect(`${t.stdout}${t.stderr}`).toMatch(/is valid/);
    }
    expect(fs.readFileSync(path.join(dir, 'c1', 'nats-server.conf'), 'utf8')).toMatch(
      /url: "nats-leaf:\/\/leaf-c1:[^@"]+@hub.example:17422"/,
    );
  });

  it('refuses what would make a broken topology, naming the option', () => {
    const hub = 'nats-leaf://127.0.0.1:7422';
    expect(() => renderLeafConfig({ domain: 'hub', hub, storeDir: '/s' })).toThrow(/--domain hub is the hub's/);
    expect(() => renderLeafConfig({ domain: 'c.1', hub, storeDir: '/s' })).toThrow(/--domain "c.1"/);
    expect(() => renderLeafConfig({ domain: 'c1', hub: 'http://x:1', storeDir: '/s' })).toThrow(/--hub http/);
    expect(() => renderLeafConfig({ domain: 'c1', hub: 'nats-leaf://u:p@x:1', storeDir: '/s' })).toThrow(
      /--leaf-credentials, not in the URL/,
    );
    expect(() => renderHubConfig({ leafPort: 70000, storeDir: '/s' })).toThrow(/--leaf-port 70000/);
    expect(tool('leaf', '--out', 'x', '--domain', 'c2').stderr).toMatch(/leaf needs --domain and --hub/);
    expect(tool('edge', '--out', 'x').status).toBe(2);
  });

  it('writes no authorization without credentials (loopback tests only)', () => {
    const text = renderHubConfig({ port: 4300, leafPort: 7500, storeDir: '/s' });
    expect(text).toContain('no authorization');
    expect(text).not.toMatch(/authorization \{/);
    expect(text).toMatch(/leafnodes \{\n {2}host: "127.0.0.1"\n {2}port: 7500\n\}/);
  });
});
