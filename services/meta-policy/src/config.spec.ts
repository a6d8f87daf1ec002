import { metaPolicySettingsFromEnv, resolveConstitutionPath } from './config';

describe('metaPolicySettingsFromEnv', () => {
  it('resolves relative constitution paths against AEVO_CONSTITUTIONS_ROOT (default: the working directory)', () => {
    const s = metaPolicySettingsFromEnv({}, '/srv/aevo');
    expect(s).toEqual({ constitutionsRoot: '/srv/aevo', claude: null });
    expect(resolveConstitutionPath(s.constitutionsRoot, 'deploy/constitutions/default.yaml')).toBe('/srv/aevo/deploy/constitutions/default.yaml');
    expect(resolveConstitutionPath(s.constitutionsRoot, '/etc/aevo/c.yaml')).toBe('/etc/aevo/c.yaml');
    expect(metaPolicySettingsFromEnv({ AEVO_CONSTITUTIONS_ROOT: 'conf' }, '/srv/aevo').constitutionsRoot).toBe('/srv/aevo/conf');
  });
  it('configures the Claude meta agent only with an API key, and names a bad limit', () => {
    expect(metaPolicySettingsFromEnv({ ANTHROPIC_API_KEY: 'k' }, '/x').claude).toEqual({ model: 'claude-sonnet-4-5', apiKey: 'k', baseURL: undefined, maxTokens: 8000 });
    expect(() => metaPolicySettingsFromEnv({ ANTHROPIC_API_KEY: 'k', AEVO_META_MAX_TOKENS: 'lots' }, '/x')).toThrow(/AEVO_META_MAX_TOKENS: expected a positive integer, got "lots"/);
  });
});
