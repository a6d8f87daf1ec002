import { DomainError } from '@aevo/contracts';
import { executeTool, isDependencyOutage } from './handlers';
import type { ToolHost } from './host';

/** A host whose jobs port fails every call with `err` (what the runtime's store gives while it is away). */
const hostFailingWith = (err: Error) =>
  ({
    jobs: {
      launch: async () => {
        throw err;
      },
    },
  }) as unknown as ToolHost;

describe('executeTool and outages', () => {
  it('lets a flagged store outage through (the step stays in flight) instead of answering the agent', async () => {
    const outage = Object.assign(new DomainError('STORE_UNAVAILABLE', 'event store gateway: no answer', []), {
      dependencyUnavailable: true,
    });
    expect(isDependencyOutage(outage)).toBe(true);
    await expect(executeTool(hostFailingWith(outage), 'launch_training', { seed: 1 }, 3, false, 50)).rejects.toBe(
      outage,
    );
  });

  it('answers any other domain refusal as a tool error the agent sees', async () => {
    const refusal = new DomainError('MISSING_VALUE', 'train needs {device}', [{ path: 'device', message: 'missing' }]);
    expect(isDependencyOutage(refusal)).toBe(false);
    const out = await executeTool(hostFailingWith(refusal), 'launch_training', { seed: 1 }, 3, false, 50);
    expect(out).toEqual({
      ok: false,
      output: {
        error: {
          code: 'MISSING_VALUE',
          message: 'train needs {device}',
          issues: [{ path: 'device', message: 'missing' }],
        },
      },
    });
  });
});
