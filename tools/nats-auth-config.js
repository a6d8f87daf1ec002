#!/usr/bin/env node
// NATS users and least-privilege permissions, generated from libs/messaging/src/auth/permissions.ts.
//
//   node tools/nats-auth-config.js                 rewrite deploy/nats/permissions.json
//                                  (checked in; prefix aevo, stream AEVO_EVENTS)
//   node tools/nats-auth-config.js --check         exit 1 when deploy/nats/permissions.json is stale
//   node tools/nats-auth-config.js --out DIR [--store-dir D] [--host H] [--port N] [--monitor-port N]
//                                  [--prefix P] [--stream S] [--rotate]
//       writes DIR/nats-server.conf and DIR/credentials/<user>.json (both 0600; passwords from crypto.randomBytes).
//       Passwords already in DIR/credentials are kept unless --rotate, so running services keep working.
//       Start the server with: nats-server -c DIR/nats-server.conf ; give each service
//       AEVO_NATS_CREDENTIALS_FILE=DIR/credentials/<service>.json (the relay: .../relay.json).
// Passwords never appear on a command line or in the output.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const root = path.resolve(__dirname, '..');

function usage(msg) {
  console.error(`nats-auth-config: ${msg}`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opts = { check: false, rotate: false };
const valued = {
  '--out': 'out',
  '--store-dir': 'storeDir',
  '--host': 'host',
  '--port': 'port',
  '--monitor-port': 'monitorPort',
  '--prefix': 'prefix',
  '--stream': 'stream',
};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--check') opts.check = true;
  else if (a === '--rotate') opts.rotate = true;
  else if (valued[a]) {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    opts[valued[a]] = args[++i];
  } else usage(`unknown argument ${a}`);
}
for (const k of ['port', 'monitorPort'])
  if (opts[k] !== undefined && !/^\d+$/.test(opts[k]))
    usage(`--${k === 'port' ? 'port' : 'monitor-port'} expects a number`);

// Compiles only the auth module (and config/subjects), so that the tool works while other files of the lib are being
// edited.
if (!fs.existsSync(path.join(root, 'libs/contracts/dist/index.js')))
  usage('build libs/contracts first (npx nx run-many -t build)');
execFileSync('npx', ['tsc', '-p', 'libs/messaging/tsconfig.auth-tool.json'], { cwd: root, stdio: 'inherit' });
const auth = require(path.join(root, 'libs/messaging/dist/auth-tool/auth/index.js'));

const checkedIn = path.join(root, 'deploy/nats/permissions.json');
const text = auth.permissionsFileText(auth.natsPermissions());
if (opts.check) {
  const current = fs.existsSync(checkedIn) ? fs.readFileSync(checkedIn, 'utf8') : null;
  if (current !== text) {
    console.error(
      `deploy/nats/permissions.json is ${current === null ? 'missing' : 'stale'}: run node ` +
        `tools/nats-auth-config.js and commit it`,
    );
    process.exit(1);
  }
  console.log('deploy/nats/permissions.json is up to date');
  process.exit(0);
}

if (opts.out === undefined) {
  fs.mkdirSync(path.dirname(checkedIn), { recursive: true });
  const changed = !fs.existsSync(checkedIn) || fs.readFileSync(checkedIn, 'utf8') !== text;
  if (changed) fs.writeFileSync(checkedIn, text);
  console.log(`deploy/nats/permissions.json ${changed ? 'written' : 'unchanged'}`);
  process.exit(0);
}

const r = auth.provisionNatsAuth(opts.out, {
  prefix: opts.prefix ?? process.env.AEVO_SUBJECT_PREFIX ?? 'aevo',
  stream: opts.stream ?? process.env.AEVO_STREAM ?? 'AEVO_EVENTS',
  host: opts.host,
  port: opts.port !== undefined ? Number(opts.port) : undefined,
  monitorPort: opts.monitorPort !== undefined ? Number(opts.monitorPort) : undefined,
  storeDir: opts.storeDir,
  rotate: opts.rotate === true,
});
console.log(
  `wrote ${r.configFile} and ${r.users} credential files in ${r.credentialsDir} (${r.kept} passwords ` +
    `kept, ${r.users - r.kept} new)`,
);
