import { rendezvousEnv, sharedRendezvousEnv } from './rendezvous';

const rdv = { masterAddr: '127.0.0.1', masterPort: 40123, worldSize: 3 };

describe('rendezvousEnv', () => {
  it('gives each rank the shared address and its own RANK and NODE_RANK, one process per node', () => {
    expect(rendezvousEnv(rdv, 2)).toEqual({
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: '40123',
      WORLD_SIZE: '3',
      RANK: '2',
      NODE_RANK: '2',
      LOCAL_RANK: '0',
      LOCAL_WORLD_SIZE: '1',
    });
    expect([0, 1, 2].map((r) => rendezvousEnv(rdv, r).RANK)).toEqual(['0', '1', '2']);
  });

  it('leaves RANK and NODE_RANK out of the shared part', () => {
    expect(sharedRendezvousEnv(rdv)).not.toHaveProperty('RANK');
    expect(sharedRendezvousEnv(rdv)).not.toHaveProperty('NODE_RANK');
  });

  it('refuses a rank outside the world, a bad port or an empty address, naming the variable', () => {
    expect(() => rendezvousEnv(rdv, 3)).toThrow(/RANK must be an integer 0\.\.2, got 3/);
    expect(() => rendezvousEnv(rdv, -1)).toThrow(/RANK/);
    expect(() => rendezvousEnv({ ...rdv, masterPort: 0 }, 0)).toThrow(/MASTER_PORT/);
    expect(() => rendezvousEnv({ ...rdv, masterAddr: '' }, 0)).toThrow(/MASTER_ADDR/);
    expect(() => sharedRendezvousEnv({ ...rdv, worldSize: 0 })).toThrow(/WORLD_SIZE/);
  });
});
