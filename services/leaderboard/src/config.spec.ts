import 'reflect-metadata';
import { UNSANDBOXED_OPT_IN } from '@aevo/executors';
import { leaderboardConfigFromEnv } from './config';

describe('leaderboardConfigFromEnv', () => {
  it('sandboxes generate and score unless AEVO_UNSANDBOXED_JOBS holds exactly the opt-in value', () => {
    expect(leaderboardConfigFromEnv({}).unsandboxed).toBe(false);
    expect(leaderboardConfigFromEnv({ AEVO_UNSANDBOXED_JOBS: UNSANDBOXED_OPT_IN }).unsandboxed).toBe(true);
    expect(() => leaderboardConfigFromEnv({ AEVO_UNSANDBOXED_JOBS: '1' })).toThrow(
      /AEVO_UNSANDBOXED_JOBS: to run the leaderboard's commands without a sandbox set it to/,
    );
    expect(leaderboardConfigFromEnv({ AEVO_BWRAP: '/opt/bwrap' }).bwrapPath).toBe('/opt/bwrap');
  });
});
