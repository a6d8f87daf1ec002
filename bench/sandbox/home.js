'use strict';
/*
 * An AEVO_HOME laid out the way the local executor's isolation expects it, for benchmarks that run jobs:
 * a read-only snapshot at `<home>/snapshots/<id>` (what the substrate service leaves) and sandboxes forked from it
 * under `<home>/sandboxes/`. Jobs whose spec names that snapshot can then be planned and mounted by bubblewrap.
 */
const fs = require('node:fs');
const path = require('node:path');
const { createHash } = require('node:crypto');

/** Copies a substrate directory into `<home>/snapshots/<sha256 of its path>` and makes it read-only; returns its id. */
function placeSnapshot(substrateDir, home) {
  const snapshotId = createHash('sha256').update(fs.realpathSync(substrateDir)).digest('hex');
  const snapshotPath = path.join(home, 'snapshots', snapshotId);
  fs.mkdirSync(path.dirname(snapshotPath), { recursive: true });
  fs.cpSync(substrateDir, snapshotPath, {
    recursive: true,
    filter: (p) => !/(^|\/)(node_modules|\.git)(\/|$)/.test(p),
  });
  readOnly(snapshotPath);
  return { snapshotId, snapshotPath };
}

/**
 * A sandbox: a plain copy of the snapshot under `<home>/sandboxes/` (the fork's hard links don't change a job's cost).
 */
function forkSandbox(snapshotPath, home, name) {
  const sandboxPath = path.join(home, 'sandboxes', name);
  fs.mkdirSync(path.dirname(sandboxPath), { recursive: true });
  fs.cpSync(snapshotPath, sandboxPath, { recursive: true });
  writable(sandboxPath);
  return sandboxPath;
}

function readOnly(p) {
  const st = fs.lstatSync(p);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    for (const n of fs.readdirSync(p)) readOnly(path.join(p, n));
    fs.chmodSync(p, 0o555);
  } else fs.chmodSync(p, st.mode & 0o111 ? 0o555 : 0o444);
}

function writable(p) {
  const st = fs.lstatSync(p);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    fs.chmodSync(p, 0o755);
    for (const n of fs.readdirSync(p)) writable(path.join(p, n));
  } else fs.chmodSync(p, st.mode & 0o111 ? 0o755 : 0o644);
}

/** rm -rf that also works on the read-only snapshot when not running as root. */
function removeHome(home) {
  try {
    writable(home);
  } catch {
    /* partly gone already */
  }
  fs.rmSync(home, { recursive: true, force: true });
}

module.exports = { placeSnapshot, forkSandbox, removeHome };
