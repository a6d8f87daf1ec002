import { randomBytes } from 'node:crypto';
import { runEventStoreContractTests } from '../src';
import { KurrentDbEventStore } from '../src/kurrentdb/kurrentdb-event-store';

jest.setTimeout(120_000);

/**
 * The same contract suite against a real KurrentDB server, when an operator has one:
 *   AEVO_TEST_KURRENTDB_URL='kurrentdb://127.0.0.1:2113?tls=false' \
 *     npx jest -c libs/eventstore/jest.config.js kurrentdb-real-server
 * Each run writes under a fresh namespace (`t<hex>:…`), so it needs no empty server and leaves its streams behind.
 */
const url = process.env.AEVO_TEST_KURRENTDB_URL;

if (url) {
  runEventStoreContractTests(`KurrentDbEventStore (real server at ${url})`, async () => {
    const namespace = `t${randomBytes(4).toString('hex')}`;
    const open = () => KurrentDbEventStore.open({ connectionString: url, namespace });
    const store = await open();
    return { store, openAnother: open, teardown: () => store.close() };
  });
} else {
  describe.skip(
    'EventStore contract: KurrentDbEventStore against a real server — NOT RUN: ' +
      'AEVO_TEST_KURRENTDB_URL is not set (no KurrentDB server on this machine)',
    () => {
      it('runs the contract suite when AEVO_TEST_KURRENTDB_URL=kurrentdb://host:2113?tls=false is set', () =>
        undefined);
    },
  );
  // eslint-disable-next-line no-console
  console.log(
    'kurrentdb-real-server.spec: not run — set AEVO_TEST_KURRENTDB_URL=kurrentdb://host:2113?tls=false to ' +
      'run the contract suite against a real KurrentDB server',
  );
}
