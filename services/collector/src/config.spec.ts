import { collectorSettingsFromEnv } from './config';

describe('collectorSettingsFromEnv', () => {
  it('defaults to a six-hour deadline, a five-second tick and no prose', () => {
    expect(collectorSettingsFromEnv({})).toEqual({
      deadlineSeconds: 21600,
      tickMs: 5000,
      claimSeconds: 300,
      prose: { kind: 'off' },
    });
  });
  it('names the variable that is wrong', () => {
    expect(() => collectorSettingsFromEnv({ AEVO_COLLECTOR_DEADLINE_SECONDS: '-3' })).toThrow(
      /AEVO_COLLECTOR_DEADLINE_SECONDS: expected a positive integer, got "-3"/,
    );
    expect(() => collectorSettingsFromEnv({ AEVO_COLLECTOR_PROSE: 'gpt' })).toThrow(
      /AEVO_COLLECTOR_PROSE: expected "off" or "claude"/,
    );
    expect(() => collectorSettingsFromEnv({ AEVO_COLLECTOR_PROSE: 'claude' })).toThrow(/needs ANTHROPIC_API_KEY/);
  });
  it('configures the Claude pass from the environment', () => {
    expect(
      collectorSettingsFromEnv({
        AEVO_COLLECTOR_PROSE: 'claude',
        ANTHROPIC_API_KEY: 'k',
        ANTHROPIC_BASE_URL: 'http://127.0.0.1:1',
      }).prose,
    ).toEqual({
      kind: 'claude',
      model: 'claude-sonnet-5-5',
      apiKey: 'k',
      baseURL: 'http://127.0.0.1:1',
      maxTokens: 2000,
    });
  });
  it('refuses an AEVO_COLLECTOR_MODEL the installed SDK does not know or has retired, naming the variable', () => {
    const env = { AEVO_COLLECTOR_PROSE: 'claude', ANTHROPIC_API_KEY: 'k' };
    const now = new Date('2026-12-07T08:00:00Z');
    expect(collectorSettingsFromEnv({ ...env, AEVO_COLLECTOR_MODEL: 'claude-haiku-4-5' }, now).prose).toMatchObject({
      model: 'claude-haiku-4-5',
    });
    expect(() => collectorSettingsFromEnv({ ...env, AEVO_COLLECTOR_MODEL: 'claude-sonnet-4-5' }, now)).toThrow(
      'AEVO_COLLECTOR_MODEL: Claude model claude-sonnet-4-5 was retired on 2026-11-30; use a current one, ' +
        'e.g. claude-sonnet-5-5',
    );
    expect(() => collectorSettingsFromEnv({ ...env, AEVO_COLLECTOR_MODEL: 'claude-test' }, now)).toThrow(
      /^AEVO_COLLECTOR_MODEL: unknown Claude model "claude-test"/,
    );
  });
});
