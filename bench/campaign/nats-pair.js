'use strict';
/*
 * A control cluster's hub and one compute cluster's leaf on loopback, for one benchmark run: two nats-server
 * processes (Debian's 2.9.10 here; AEVO_NATS_SERVER_BIN overrides) with the generated users and least-privilege
 * permissions of the run's subject prefix and stream (tools/nats-auth-config.js), configured by
 * tools/nats-leaf-config.js exactly as test/cluster configures them. The hub's JetStream domain is `hub`, the leaf's
 * `c1`; the leaf link is password-protected.
 */
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');

const ROOT = path.resolve(__dirname, '../..');
const COMPUTE_DOMAIN = 'c1';
const { renderHubConfig, renderLeafConfig } = require(path.join(ROOT, 'tools/nats-leaf-config.js'));
const { freePort, sleep, startNatsServer } = require(path.join(ROOT, 'tools/nats-process.js'));

/**
 * Starts the hub and the leaf for `run` (its prefix and stream) under run.dir/nats; resolves once the leaf link is
 * up. Returns { hub, leaf, credentialsDir, stop }.
 */
async function startNatsPair(run) {
  const dir = path.join(run.dir, 'nats');
  const auth = path.join(dir, 'auth');
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'tools/nats-auth-config.js'), '--out', auth, '--prefix', run.prefix, '--stream', run.stream],
    { cwd: ROOT, stdio: 'pipe' },
  );
  const leafCredentials = { user: 'leaf-c1', password: randomBytes(18).toString('base64url') };
  const include = '../auth/nats-server.conf';
  const [hubPort, leafPort, leafLinkPort] = [await freePort(), await freePort(), await freePort()];
  const hub = await startNatsServer(
    'hub',
    path.join(dir, 'hub'),
    renderHubConfig({
      port: hubPort,
      leafPort: leafLinkPort,
      storeDir: path.join(dir, 'hub', 'js'),
      include,
      leafCredentials,
    }),
    hubPort,
  );
  const leaf = await startNatsServer(
    `leaf ${COMPUTE_DOMAIN}`,
    path.join(dir, COMPUTE_DOMAIN),
    renderLeafConfig({
      domain: COMPUTE_DOMAIN,
      port: leafPort,
      hub: `nats-leaf://127.0.0.1:${leafLinkPort}`,
      storeDir: path.join(dir, COMPUTE_DOMAIN, 'js'),
      include,
      leafCredentials,
    }),
    leafPort,
  ).catch(async (err) => {
    await hub.stop();
    throw err;
  });
  const deadline = Date.now() + 30_000;
  while (!/Leafnode connection created/i.test(hub.log())) {
    if (Date.now() > deadline) {
      await Promise.all([hub.stop(), leaf.stop()]);
      throw new Error(`the leaf link did not come up within 30 s:\n${hub.log().slice(-2000)}`);
    }
    await sleep(200);
  }
  return {
    hub,
    leaf,
    credentialsDir: path.join(auth, 'credentials'),
    stop: () => Promise.all([leaf.stop(), hub.stop()]),
  };
}

module.exports = { startNatsPair, COMPUTE_DOMAIN };
