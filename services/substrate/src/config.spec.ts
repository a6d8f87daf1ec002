import { substrateConfigFromEnv } from './config';
import { DEFAULT_GC_POLICY } from './domain/substrate';

describe('substrate service configuration', () => {
  it('reads its configuration from the environment and names a bad value', () => {
    expect(substrateConfigFromEnv({}, '/w')).toEqual({ home: '/w/.aevo', substrateRoot: '/w', gc: DEFAULT_GC_POLICY });
    expect(
      substrateConfigFromEnv(
        { AEVO_HOME: '/data/aevo', AEVO_GC_KEEP_ROUNDS: '5', AEVO_GC_KEEP_WINNERS: 'false' },
        '/w',
      ),
    ).toMatchObject({
      home: '/data/aevo',
      gc: { keepLastRounds: 5, keepWinners: false, keepInvalidated: true },
    });
    expect(() => substrateConfigFromEnv({ AEVO_GC_KEEP_ROUNDS: '0', AEVO_GC_KEEP_WINNERS: 'maybe' }, '/w')).toThrow(
      new RegExp(
        'AEVO_GC_KEEP_ROUNDS: expected an integer >= 1, got "0"; AEVO_GC_KEEP_WINNERS: ' +
          'expected true or false, got "maybe"',
      ),
    );
  });
});
