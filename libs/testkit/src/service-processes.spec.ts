import { serviceProcessEnv } from './service-processes';

describe('serviceProcessEnv', () => {
  const db = { url: 'postgres://db', schema: 'aevo_t_0000', drop: async () => undefined };
  const names = { url: 'nats://n', subjectPrefix: 't0000.aevo', stream: 'AEVO_T_0000' };
  const saved = process.env.AEVO_RELAY;
  afterEach(() => {
    if (saved === undefined) delete process.env.AEVO_RELAY;
    else process.env.AEVO_RELAY = saved;
  });

  it('names the suite’s NATS prefix, stream and schema, and turns the embedded relay off (the harness relays)', () => {
    expect(serviceProcessEnv(db, names, { EXTRA: 'x' })).toMatchObject({
      AEVO_NATS_URL: 'nats://n',
      AEVO_SUBJECT_PREFIX: 't0000.aevo',
      AEVO_STREAM: 'AEVO_T_0000',
      AEVO_DATABASE_URL: 'postgres://db',
      AEVO_DB_SCHEMA: 'aevo_t_0000',
      AEVO_RELAY: 'off',
      EXTRA: 'x',
    });
  });

  it('leaves AEVO_RELAY unset with processRelay, even when the runner set it off', () => {
    process.env.AEVO_RELAY = 'off';
    const env = serviceProcessEnv(db, names, {}, true);
    expect('AEVO_RELAY' in env).toBe(false);
    expect(env.AEVO_STREAM).toBe('AEVO_T_0000');
  });
});
