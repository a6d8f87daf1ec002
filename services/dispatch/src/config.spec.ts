import { dispatcherFromEnv } from './config';

describe('dispatcher name', () => {
  it('is AEVO_DISPATCHER, else the JetStream domain, else unnamed', () => {
    expect(dispatcherFromEnv({ AEVO_DISPATCHER: 'gpu-east', AEVO_JS_DOMAIN: 'c1' })).toBe('gpu-east');
    expect(dispatcherFromEnv({ AEVO_JS_DOMAIN: 'c1' })).toBe('c1');
    expect(dispatcherFromEnv({})).toBeNull();
    expect(dispatcherFromEnv({ AEVO_DISPATCHER: '  ' })).toBeNull();
  });

  it('refuses a name JobQueued cannot hold, naming the variable', () => {
    expect(() => dispatcherFromEnv({ AEVO_DISPATCHER: 'east coast' })).toThrow(
      'AEVO_DISPATCHER="east coast": a dispatcher name must be letters, digits, "_" or "-", at most 32 characters',
    );
    expect(() => dispatcherFromEnv({ AEVO_JS_DOMAIN: 'x'.repeat(33) })).toThrow(/^AEVO_JS_DOMAIN="x{33}"/);
  });
});
