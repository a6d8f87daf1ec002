import { constitutionCandidates, metaPolicySettingsFromEnv } from './config';

describe('metaPolicySettingsFromEnv', () => {
  it('looks a relative constitution path up under AEVO_CONSTITUTIONS_ROOT, AEVO_ROOT, then the cwd', () => {
    const s = metaPolicySettingsFromEnv({ AEVO_CONSTITUTIONS_ROOT: 'conf', AEVO_ROOT: '/srv/aevo' }, '/srv/aevo');
    expect(s.constitutionsRoots).toEqual(['/srv/aevo/conf', '/srv/aevo']);
    expect(constitutionCandidates(s.constitutionsRoots, 'deploy/constitutions/default.yaml')).toEqual([
      '/srv/aevo/conf/deploy/constitutions/default.yaml',
      '/srv/aevo/deploy/constitutions/default.yaml',
    ]);
    expect(constitutionCandidates(s.constitutionsRoots, '/etc/aevo/c.yaml')).toEqual(['/etc/aevo/c.yaml']);
    expect(metaPolicySettingsFromEnv({}, '/x')).toEqual({ constitutionsRoots: ['/x'], claude: null });
  });
  it('configures the Claude meta agent only with an API key, and names a bad limit', () => {
    expect(metaPolicySettingsFromEnv({ ANTHROPIC_API_KEY: 'k' }, '/x').claude).toEqual({
      model: 'claude-sonnet-5-5',
      apiKey: 'k',
      baseURL: undefined,
      maxTokens: 8000,
    });
    expect(() => metaPolicySettingsFromEnv({ ANTHROPIC_API_KEY: 'k', AEVO_META_MAX_TOKENS: 'lots' }, '/x')).toThrow(
      /AEVO_META_MAX_TOKENS: expected a positive integer, got "lots"/,
    );
  });
  it('refuses an AEVO_META_MODEL the installed SDK does not know or has retired, naming the variable', () => {
    const now = new Date('2026-12-07T08:00:00Z');
    expect(
      metaPolicySettingsFromEnv({ ANTHROPIC_API_KEY: 'k', AEVO_META_MODEL: 'claude-opus-4-8' }, '/x', now).claude
        ?.model,
    ).toBe('claude-opus-4-8');
    expect(() =>
      metaPolicySettingsFromEnv({ ANTHROPIC_API_KEY: 'k', AEVO_META_MODEL: 'claude-sonnet-4-5' }, '/x', now),
    ).toThrow(
      'AEVO_META_MODEL: Claude model claude-sonnet-4-5 was retired on 2026-11-30; ' +
        'use a current one, e.g. claude-sonnet-5-5',
    );
    expect(() =>
      metaPolicySettingsFromEnv({ ANTHROPIC_API_KEY: 'k', AEVO_META_MODEL: 'claude-test' }, '/x', now),
    ).toThrow(/^AEVO_META_MODEL: unknown Claude model "claude-test"/);
  });
});
