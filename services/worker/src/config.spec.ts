import { workerSettingsFromEnv } from './config';

describe('worker settings: the Claude model', () => {
  it('defaults to a current model of the installed SDK', () => {
    const s = workerSettingsFromEnv({});
    expect(s.claude).toMatchObject({
      model: 'claude-sonnet-5-5',
      sdkMaxRetries: 2,
      retryPatienceSeconds: 900,
      clearContextAtTokens: 60_000,
      cacheTtl: '1h',
    });
  });

  it('refuses to start with a retired or unknown model, or a bad cache TTL, naming each', () => {
    expect(() => workerSettingsFromEnv({ AEVO_CLAUDE_MODEL: 'claude-sonnet-4-5' })).toThrow(
      /AEVO_CLAUDE_MODEL: Claude model claude-sonnet-4-5 was retired on 2026-11-30/,
    );
    expect(() => workerSettingsFromEnv({ AEVO_CLAUDE_MODEL: 'claude-loopback' })).toThrow(
      /AEVO_CLAUDE_MODEL: unknown Claude model "claude-loopback"/,
    );
    expect(() => workerSettingsFromEnv({ AEVO_CLAUDE_CACHE_TTL: '2h' })).toThrow(
      /AEVO_CLAUDE_CACHE_TTL: expected "1h" or "5m"/,
    );
    expect(
      workerSettingsFromEnv({ AEVO_CLAUDE_MODEL: 'claude-opus-4-7', AEVO_CLAUDE_SDK_MAX_RETRIES: '0' }).claude,
    ).toMatchObject({ model: 'claude-opus-4-7', sdkMaxRetries: 0 });
  });
});
