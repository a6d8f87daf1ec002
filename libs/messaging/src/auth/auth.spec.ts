import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as contracts from '@aevo/contracts';
import { ACCESS, declaredDurables, natsPermissions, NATS_USERS, type NatsAccessSpec } from './permissions';
import { renderNatsAuthConfig } from './nats-config';
import { natsAuthFor, randomNatsPassword, writeNatsCredentialsFile } from './credentials';

const ROOT = path.resolve(__dirname, '../../../..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !/\.(spec|test)\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

/** `<user>` → identifiers matched by `re` in its source (services/<user>/src, libs/cli/src for the CLI). */
function scan(re: RegExp): Map<string, Set<string>> {
  const roots: Array<[string, string]> = fs
    .readdirSync(path.join(ROOT, 'services'))
    .filter((s) => fs.existsSync(path.join(ROOT, 'services', s, 'src')))
    .map((s) => [s, path.join(ROOT, 'services', s, 'src')]);
  roots.push(['cli', path.join(ROOT, 'libs/cli/src')]);
  const found = new Map<string, Set<string>>();
  for (const [user, dir] of roots)
    for (const f of sourceFiles(dir))
      for (const m of fs.readFileSync(f, 'utf8').matchAll(re)) {
        if (!found.has(user)) found.set(user, new Set());
        found.get(user)!.add(m[1]);
      }
  return found;
}

const exported = contracts as unknown as Record<string, { type?: string; name?: string; handler?: string } | undefined>;
const sorted = (m: Map<string, Set<string>>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, [...v].sort()]).sort(([a], [b]) => String(a).localeCompare(String(b))));

describe('the NATS access declaration matches the code', () => {
  it('declares exactly the events each service handles with @OnEvent / @EventPattern', () => {
    const inCode = new Map<string, Set<string>>();
    // `@OnEvent(Def, …)` or `@OnEvent([DefA, DefB], …)`.
    for (const [user, found] of scan(/@OnEvent\(\s*(\[[^\]]*\]|[A-Za-z0-9_]+)/g)) {
      const ids = [...found].flatMap((f) => f.replace(/[[\]\s]/g, '').split(',')).filter((id) => id !== '');
      inCode.set(user, new Set(ids.map((id) => exported[id]?.type ?? `unresolved:${id}`)));
    }
    for (const [user, types] of scan(/@EventPattern\(\s*'([A-Za-z0-9_]+)'/g))
      for (const t of types) (inCode.get(user) ?? inCode.set(user, new Set()).get(user)!).add(t);
    const declared = new Map(Object.entries(ACCESS.consumes).map(([u, ts]) => [u, new Set(ts)]));
    expect(sorted(declared)).toEqual(sorted(inCode));
  });

  it('declares exactly the commands each service and the CLI send', () => {
    const inCode = new Map<string, Set<string>>();
    for (const re of [/\.send\(\s*([A-Z][A-Za-z0-9_]+)\s*,/g, /sendCommand\(\s*io\s*,\s*([A-Z][A-Za-z0-9_]+)\s*,/g])
      for (const [user, ids] of scan(re))
        for (const id of ids)
          (inCode.get(user) ?? inCode.set(user, new Set()).get(user)!).add(exported[id]?.name ?? `unresolved:${id}`);
    const declared = new Map(Object.entries(ACCESS.sends).map(([u, ns]) => [u, new Set(ns)]));
    expect(sorted(declared)).toEqual(sorted(inCode));
  });

  it('derives command handlers from the contracts', () => {
    const decl = natsPermissions('aevo', 'S');
    for (const c of contracts.commandDefinitions()) {
      const handlers = decl.users.filter((u) => u.subscribe.allow.includes(`aevo.cmd.${c.name}`)).map((u) => u.user);
      expect(handlers).toEqual([c.handler]);
    }
  });
});

describe('natsPermissions', () => {
  const decl = natsPermissions('p.q', 'S1');
  const user = (n: string) => decl.users.find((u) => u.user === n)!;

  it('lets only the store gateway answer the store port, and only compute-cluster services ask it', () => {
    const gw = user('store-gateway');
    expect(gw.subscribe.allow).toEqual(expect.arrayContaining(['p.q.store.append', 'p.q.store.readAll']));
    expect(gw.subscribe.allow).not.toContain('p.q.store.head');
    expect(gw.publish.allow).toEqual(['p.q.store.head']);
    expect(gw.publish.deny).toContain('p.q.evt.>');
    expect(gw.allowResponses).toBe(true);
    for (const client of ACCESS.storeClients) {
      expect(user(client).publish.allow).toEqual(
        expect.arrayContaining(['p.q.store.append', 'p.q.store.headPosition']),
      );
      expect(user(client).publish.allow).not.toContain('p.q.store.head');
      expect(user(client).subscribe.allow).toContain('p.q.store.head');
    }
    for (const other of ['orchestrator', 'collector', 'meta-policy', 'api', 'relay'])
      expect(user(other).publish.allow.filter((s) => s.startsWith('p.q.store.'))).toEqual([]);
    expect(() => natsPermissions('p', 'S', { ...ACCESS, storeClients: ['nobody' as never] })).toThrow(
      'storeClients: "nobody" is not a ServiceName',
    );
  });

  it('has one user per service plus the relay and the store gateway, each with its own inbox', () => {
    expect(decl.users.map((u) => u.user).sort()).toEqual(
      [...contracts.ServiceName.options, 'relay', 'store-gateway'].sort(),
    );
    expect(NATS_USERS).toContain('api');
    for (const u of decl.users) expect(u.subscribe.allow).toContain(`_INBOX_${u.user}.>`);
  });

  it('lets only the relay publish events', () => {
    for (const u of decl.users) {
      const mayPublishEvents = u.publish.allow.some((s) => s.startsWith('p.q.evt') || s === '>');
      expect([u.user, mayPublishEvents]).toEqual([u.user, u.user === 'relay']);
      if (u.user !== 'relay') expect(u.publish.deny).toContain('p.q.evt.>');
    }
  });

  it('grants a consumer its own durables only, with the filter pinned', () => {
    const d = user('dispatch');
    expect(d.publish.allow).toEqual(
      expect.arrayContaining([
        '$JS.API.CONSUMER.CREATE.S1.dispatch__JobRequested.p.q.evt.*.JobRequested',
        '$JS.API.CONSUMER.MSG.NEXT.S1.dispatch__JobRequested',
        '$JS.ACK.S1.dispatch__JobRequested.>',
      ]),
    );
    expect(d.publish.allow.filter((s) => s.includes('CONSUMER') && !s.includes('dispatch__'))).toEqual([]);
    expect(d.publish.allow.some((s) => /STREAM\.(DELETE|PURGE|UPDATE)/.test(s))).toBe(false);
    expect(d.allowResponses).toBe(true); // handles CancelJob
  });

  it('denies everything to a user with nothing to publish (an empty allow list would mean "all")', () => {
    expect(user('api').publish).toEqual({ allow: [], deny: expect.arrayContaining(['>']) });
  });

  it('keeps the auditor off every service durable', () => {
    const cli = user('cli');
    for (const { durable } of declaredDurables())
      expect(cli.publish.deny).toContain(`$JS.API.CONSUMER.MSG.NEXT.S1.${durable}`);
  });

  it('refuses an unknown event type or command', () => {
    const bad: NatsAccessSpec = {
      ...ACCESS,
      consumes: { dispatch: ['NoSuchEvent'] },
      sends: { cli: ['NoSuchCommand'] },
    };
    expect(() => natsPermissions('aevo', 'S', bad)).toThrow(/NoSuchEvent.*NoSuchCommand/);
  });
});

describe('renderNatsAuthConfig', () => {
  it('writes quoted subjects, passwords and allow_responses for handlers', () => {
    const decl = natsPermissions();
    const creds = Object.fromEntries(decl.users.map((u) => [u.user, `pw-${u.user}`]));
    const text = renderNatsAuthConfig(decl, creds, { storeDir: '/var/lib/nats', port: 4333 });
    expect(text).toContain('store_dir: "/var/lib/nats"');
    expect(text).toContain('port: 4333');
    expect(text).toContain('"$JS.API.INFO"');
    expect(text).toMatch(/user: "dispatch"\n\s+password: "pw-dispatch"[\s\S]*?allow_responses: true/);
  });

  it('needs a password for every user', () => {
    expect(() => renderNatsAuthConfig(natsPermissions(), {}, { storeDir: '/x' })).toThrow(/no password for NATS user/);
  });
});

describe('natsAuthFor', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-nats-cred-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is empty without the variable (no authorization, as before)', () => {
    expect(natsAuthFor({}, 'dispatch')).toEqual({});
  });

  it('reads user and password and derives the inbox prefix', () => {
    const pw = randomNatsPassword();
    const file = writeNatsCredentialsFile(dir, { user: 'dispatch', password: pw });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(natsAuthFor({ AEVO_NATS_CREDENTIALS_FILE: file }, 'dispatch')).toEqual({
      user: 'dispatch',
      pass: pw,
      inboxPrefix: '_INBOX_dispatch',
    });
    expect(natsAuthFor({ OTHER: file }, 'dispatch', 'OTHER').user).toBe('dispatch');
  });

  it(
    'takes <user>.json from AEVO_NATS_CREDENTIALS_DIR when no file is named, ' + 'and refuses one holding another user',
    () => {
      const pw = randomNatsPassword();
      writeNatsCredentialsFile(dir, { user: 'worker', password: pw });
      expect(natsAuthFor({ AEVO_NATS_CREDENTIALS_DIR: dir }, 'worker')).toEqual({
        user: 'worker',
        pass: pw,
        inboxPrefix: '_INBOX_worker',
      });
      fs.copyFileSync(path.join(dir, 'worker.json'), path.join(dir, 'relay.json'));
      expect(() => natsAuthFor({ AEVO_NATS_CREDENTIALS_DIR: dir }, 'relay')).toThrow(
        /relay\.json holds the credentials of "worker", expected "relay"/,
      );
      expect(() => natsAuthFor({ AEVO_NATS_CREDENTIALS_DIR: dir }, 'cli')).toThrow(
        /AEVO_NATS_CREDENTIALS_DIR=.*cli\.json.*ENOENT/,
      );
    },
  );

  it('refuses a file that group or others can read', () => {
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ user: 'dispatch', password: 'x' }));
    fs.chmodSync(file, 0o640);
    expect(() => natsAuthFor({ AEVO_NATS_CREDENTIALS_FILE: file }, 'dispatch')).toThrow(
      /AEVO_NATS_CREDENTIALS_FILE=.*readable by group or others \(mode 640\); chmod 600/,
    );
  });

  it('names the variable when the file is missing or malformed', () => {
    expect(() => natsAuthFor({ AEVO_NATS_CREDENTIALS_FILE: path.join(dir, 'none') }, 'dispatch')).toThrow(
      /AEVO_NATS_CREDENTIALS_FILE=.*ENOENT/,
    );
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ user: 'dispatch' }), { mode: 0o600 });
    expect(() => natsAuthFor({ AEVO_NATS_CREDENTIALS_FILE: file }, 'dispatch')).toThrow(
      /AEVO_NATS_CREDENTIALS_FILE=.*expected JSON \{"user"/,
    );
    fs.writeFileSync(file, 'user=dispatch');
    expect(() => natsAuthFor({ AEVO_NATS_CREDENTIALS_FILE: file }, 'dispatch')).toThrow(
      /AEVO_NATS_CREDENTIALS_FILE=.*expected JSON/,
    );
  });
});
