import { randomBytes } from 'node:crypto';
import { runEventStoreContractTests } from '../src';
import { KurrentDbEventStore } from '../src/kurrentdb/kurrentdb-event-store';
import { KurrentDbProtocolFake } from '../src/kurrentdb/testing/protocol-fake';

jest.setTimeout(120_000);

// Through the real client (its grpc-js path for append and subscribe, its Rust bridge for reads) against the
// protocol-level fake. No `tamper` hook: KurrentDB has no API that updates an event, and deleting a stream is an
// operation the server allows an admin, so "the storage refuses both" cannot be claimed for it.
runEventStoreContractTests('KurrentDbEventStore (protocol-level fake)', async () => {
  const fake = await KurrentDbProtocolFake.start();
  const namespace = `t${randomBytes(4).toString('hex')}`;
  const open = () =>
    KurrentDbEventStore.open({ connectionString: fake.connectionString, namespace, pollIntervalMs: 500 });
  const store = await open();
  return {
    store,
    openAnother: open,
    async teardown() {
      await store.close();
      await fake.stop();
    },
  };
});
