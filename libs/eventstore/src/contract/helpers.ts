import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CampaignPaused, createEvent, type EventEnvelope } from '@aevo/contracts';
import type { EventStore, StoredEvent } from '../port';

/** What the suite needs from an adapter under test. */
export interface EventStoreContractHarness {
  /** A store on fresh, empty storage (its own schema, database or namespace). */
  store: EventStore;
  /** A second, independent instance on the same storage (as another process would see it). */
  openAnother(): Promise<EventStore>;
  /**
   * Tries to change and to remove a stored event behind the store's back (e.g. raw SQL). Both must be refused by
   * the storage itself; omit only for a backend whose API has no way to try.
   */
  tamper?: { update(eventId: string): Promise<void>; delete(eventId: string): Promise<void> };
  /** Closes what the harness opened and drops the storage. */
  teardown(): Promise<void>;
}

/** What each group of contract cases gets from the suite: jest's `it`, the store under test and fresh names. */
export interface ContractContext {
  it(name: string, fn: () => Promise<void>, timeout?: number): void;
  timeout: number;
  /** The store under test (set in beforeAll: read it inside a case). */
  readonly store: EventStore;
  readonly harness: EventStoreContractHarness;
  /** A second instance on the same storage, closed by the suite. */
  another(): Promise<EventStore>;
  /** The suite's campaign id. */
  campaign: string;
  /** A fresh stream id starting with `label`. */
  stream(label: string): string;
}

export const suffix = () => randomBytes(4).toString('hex');

/** A registered, valid event for `streamId` (the suite uses the contracts' real schemas). */
export function contractEvent(streamId: string, campaignId: string, reason = 'contract'): EventEnvelope {
  return createEvent(CampaignPaused, { reason }, { campaignId, streamId, source: 'orchestrator' });
}

export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function rejectsWith<T>(p: Promise<unknown>, cls: new (...args: never[]) => T): Promise<T> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    return err as T;
  }
  assert.fail(`expected a ${cls.name}, but the call succeeded`);
}

export const envelopeOf = (e: StoredEvent): EventEnvelope => {
  const { position: _p, streamVersion: _v, ...env } = e;
  return env;
};
