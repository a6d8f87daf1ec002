import { initialCampaignState, type CampaignState } from '../domain/campaign-state';
import { FoldedStates } from './folded-states';

const at = (status: CampaignState['status'], version: number) => ({
  state: { ...initialCampaignState(), status },
  version,
});

describe("the orchestrator's folded campaign states", () => {
  it('keeps the furthest version decided in this process', () => {
    const f = new FoldedStates();
    f.record('a', at('running', 5));
    f.record('a', at('running', 3)); // an older decision finishing late
    expect(f.get('a')?.version).toBe(5);
    f.record('a', at('paused', 8));
    expect(f.get('a')).toEqual(at('paused', 8));
  });

  it('forgets a campaign once it completed or was aborted', () => {
    const f = new FoldedStates();
    f.record('a', at('running', 5));
    f.record('b', at('running', 2));
    f.record('a', at('completed', 9));
    f.record('b', at('aborted', 3));
    expect([f.get('a'), f.get('b'), f.size]).toEqual([undefined, undefined, 0]);
  });

  it('holds at most `capacity` campaigns, forgetting the least recently decided', () => {
    const f = new FoldedStates(2);
    f.record('a', at('running', 1));
    f.record('b', at('running', 1));
    f.record('a', at('running', 2)); // a is now the most recent
    f.record('c', at('running', 1));
    expect([f.get('a')?.version, f.get('b'), f.get('c')?.version, f.size]).toEqual([2, undefined, 1, 2]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new FoldedStates(0)).toThrow('capacity must be an integer ≥ 1, got 0');
  });
});
