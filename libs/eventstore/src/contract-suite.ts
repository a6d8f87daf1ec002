import { randomBytes } from 'node:crypto';
import type { EventStore } from './port';
import { appendContractCases } from './contract/append-cases';
import { followContractCases } from './contract/follow-cases';
import type { ContractContext, EventStoreContractHarness } from './contract/helpers';

export { contractEvent, type EventStoreContractHarness } from './contract/helpers';

export interface EventStoreContractOptions {
  /** Jest timeout per test (default 60 s: the suite must stay green on a busy 2-core machine). */
  timeoutMs?: number;
}

interface JestLike {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>, timeout?: number): void;
  beforeAll(fn: () => Promise<void>, timeout?: number): void;
  afterAll(fn: () => Promise<void>, timeout?: number): void;
}

const suffix = () => randomBytes(4).toString('hex');

/**
 * The behaviour every EventStore adapter must show, as a jest suite. Call it at the top level of a spec file:
 *   runEventStoreContractTests('postgres', async () => ({ store, openAnother, tamper, teardown }));
 * It reads jest's globals only when called, so importing this module outside jest is harmless. The cases live in
 * contract/append-cases.ts and contract/follow-cases.ts.
 */
export function runEventStoreContractTests(
  name: string,
  factory: () => Promise<EventStoreContractHarness>,
  options: EventStoreContractOptions = {},
): void {
  const { describe, it, beforeAll, afterAll } = globalThis as unknown as JestLike;
  if (typeof describe !== 'function')
    throw new Error('runEventStoreContractTests must be called inside a jest test file');
  const timeout = options.timeoutMs ?? 60_000;

  describe(`EventStore contract: ${name}`, () => {
    let h: EventStoreContractHarness;
    const others: EventStore[] = [];

    beforeAll(async () => {
      h = await factory();
    }, timeout);
    afterAll(async () => {
      for (const o of others) await o.close();
      await h?.teardown();
    }, timeout);

    const ctx: ContractContext = {
      it,
      timeout,
      get store() {
        return h.store;
      },
      get harness() {
        return h;
      },
      another: async () => {
        const o = await h.openAnother();
        others.push(o);
        return o;
      },
      campaign: `c${suffix()}`,
      stream: (label) => `${label}-${suffix()}`,
    };
    appendContractCases(ctx);
    followContractCases(ctx);
  });
}
