// Cross-service end-to-end (test/e2e) and chaos (test/chaos) suites: real PostgreSQL and nats-server, the built
// services as child processes. tools/test-all.sh runs this after every project's own tests, with --runInBand.
module.exports = {
  ...require('../jest.preset.js'),
  displayName: 'e2e',
  rootDir: __dirname,
  testTimeout: 15 * 60_000,
};
