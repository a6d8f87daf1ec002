import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { SecretScrubber, secretValuesFromEnv } from './secrets';
import { StreamScrubber, scrubLogFile } from './scrub-stream';

// Fake values made up for these tests; none is a real credential.
const KEY = 'f4ke-KAGGLE-key-0123456789abcdef';
const DB_PASSWORD = 'p@ss/w0rd-of-the-db';
const SEED = 281474976710655; // the leaderboard's seed is a number

const scrubberFor = () =>
  SecretScrubber.fromEnv({
    env: {
      KAGGLE_KEY: KEY,
      AEVO_DATABASE_URL: `postgres://aevo:${encodeURIComponent(DB_PASSWORD)}@db.internal:5432/aevo`,
      PATH: '/usr/bin:/bin',
    },
    extra: [SEED],
  });

/** Every form of `value` a hostile job might print, and the check that none survives. */
function formsOf(value: string): string[] {
  const b = Buffer.from(value);
  return [
    value,
    b.toString('base64'),
    b.toString('base64url'),
    b.toString('hex'),
    b.toString('hex').toUpperCase(),
    encodeURIComponent(value),
  ];
}

const TOKENS: Record<string, string> = {
  anthropic: 'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdefAA',
  openai: 'sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe',
  github: 'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789',
  githubPat: 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz',
  aws: 'AKIAIOSFODNN7EXAMPLE',
  slack: 'xoxb-1234567890-0987654321-AbCdEfGhIjKl',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  bearer: 'AbCdEf0123456789.ghIJkl-mnop',
  nkey: 'SUAMLK2ZNL35WSMW37E7UD4VZ7ELPEW7BZ6X4PXRWTN6U3R6YYR4XBSA4M',
};
const PEM_BODY = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj';

const ORDINARY = [
  'step 100/2000 loss=0.43125 lr=3.0e-04 grad_norm=1.2345 tokens/s=10234.5',
  `sha256 ${createHash('sha256').update('checkpoint').digest('hex')}`,
  `candidate ${randomUUID()} round 3`,
  'saved checkpoints/step-000100/checkpoint.pt (task-7f3e2a9b1c4d5e6f7a8b9c0d1e2f3a4b)',
  'using scikit sk-learn-compatible splitter, max_new_tokens=256 pad_token: <|endoftext|>',
  'fetching https://example.org/data/train.jsonl?split=dev#frag and git@github.com:org/repo.git',
  'eval accuracy 0.8125 on 1234 prompts; best step 000400; DIVERGED never',
  'Authorization header not set; bearer of good news',
  'md5 d41d8cd98f00b204e9800998ecf8427e crc 0x1f2e3d4c',
];

describe('SecretScrubber', () => {
  it('takes configured secrets from the environment and never shows them', () => {
    // Given an environment with named, suffixed and listed secrets, short values and plain settings
    const env = {
      ANTHROPIC_API_KEY: 'anthropic-value-1',
      MY_SERVICE_TOKEN: 'token-value-22',
      SOME_PASSWORD: 'password-value-333',
      CUSTOM_THING: 'custom-value-4444',
      AEVO_SECRET_ENV: 'CUSTOM_THING',
      SHORT_KEY: 'short',
      AEVO_NATS_URL: 'nats://natstoken-55555@nats:4222',
      AEVO_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
      AEVO_HOME: '/var/lib/aevo-home',
    };
    // When the values are collected
    const values = secretValuesFromEnv(env, false);
    const s = new SecretScrubber(values);
    // Then the secrets are there, the settings and the too-short value are not
    for (const v of [
      'anthropic-value-1',
      'token-value-22',
      'password-value-333',
      'custom-value-4444',
      'natstoken-55555',
    ])
      expect(values).toContain(v);
    expect(values).not.toContain('/var/lib/aevo-home');
    expect(values).not.toContain('postgres');
    expect(s.scrub('key short here')).toBe('key short here');
    // And the scrubber prints as a count only
    expect(inspect(s)).toBe('SecretScrubber { secrets: 5 }');
    expect(JSON.stringify(s)).toBe('{"secrets":5}');
  });

  it('reads the token from the file KAGGLE_API_TOKEN names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scrub-tok-'));
    const file = join(dir, 'token');
    writeFileSync(file, 'kaggle-token-from-a-file\n', { mode: 0o600 });
    expect(
      new SecretScrubber(secretValuesFromEnv({ KAGGLE_API_TOKEN: file })).scrub('t=kaggle-token-from-a-file.'),
    ).toBe('t=[redacted:secret].');
  });

  it('redacts configured values in every printed encoding, and token shapes', () => {
    // Given job output that prints the key, the database password and the seed in many forms, and foreign tokens
    const s = scrubberFor();
    const lines = [
      ...formsOf(KEY).map((f) => `leak: ${f}`),
      ...formsOf(DB_PASSWORD).map((f) => `db=${f};`),
      `seed ${SEED} done`,
      `Authorization: Basic ${Buffer.from(`user:${KEY}`).toString('base64')}`,
      `{"key": ${JSON.stringify(`x"${KEY}`)}}`,
      `payload ${Buffer.from(`{"kaggle":"${KEY}","n":1}`).toString('base64')}`,
      ...Object.values(TOKENS).map((t) =>
        t === TOKENS.bearer ? `curl -H "Authorization: Bearer ${t}"` : `token ${t} end`,
      ),
      'conn postgres://admin:hunter2hunter2@10.0.0.5/db',
      'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'config {"api_key": "abcdef0123456789", "password": "correct-horse"}',
      '-----BEGIN RSA PRIVATE KEY-----',
      PEM_BODY,
      PEM_BODY,
      '-----END RSA PRIVATE KEY-----',
    ];
    // When it is scrubbed
    const out = s.scrub(lines.join('\n'));
    // Then no form of any secret survives
    for (const f of [
      ...formsOf(KEY),
      ...formsOf(DB_PASSWORD),
      String(SEED),
      ...Object.values(TOKENS),
      'hunter2hunter2',
      'wJalrXUtnFEMI',
      'abcdef0123456789',
      'correct-horse',
      PEM_BODY,
    ])
      expect(out).not.toContain(f);
    expect(out).not.toContain(Buffer.from(`user:${KEY}`).toString('base64'));
    // And the markers say what was there, keeping the context readable
    expect(out).toContain('Authorization: Bearer [redacted:bearer-token]');
    expect(out).toContain('postgres://[redacted:url-credentials]@10.0.0.5/db');
    expect(out).toContain('AWS_SECRET_ACCESS_KEY=[redacted:assignment]');
    expect(out).toContain('[redacted:private-key]');
    expect(out).toContain(`token [redacted:anthropic-key] end`);
    expect(out).toContain(`token [redacted:jwt] end`);
    expect(out).toContain(`seed [redacted:secret] done`);
  });

  it('finds an encoded value wrapped over lines (base64 -w76, xxd -p)', () => {
    const long = `${KEY}-${KEY}-${KEY}`;
    const s = new SecretScrubber([long]);
    const b64 = Buffer.from(`prefix ${long} suffix`).toString('base64');
    const hex = Buffer.from(long).toString('hex');
    const wrapped = (t: string, w: number) => t.match(new RegExp(`.{1,${w}}`, 'g'))!.join('\n');
    for (const text of [wrapped(b64, 76), wrapped(hex, 60)]) {
      const out = s.scrub(`before\n${text}\nafter`);
      expect(out).toMatch(/^before\n[\s\S]*\[redacted:secret\][\s\S]*\nafter$/);
      // What remains besides before/after and the marker: the few characters encoding "prefix " and " suffix".
      expect(out.replace(/before|after|\[redacted:secret\]|\n/g, '').length).toBeLessThanOrEqual(24);
    }
  });

  it('redacts a fragment of a value cut at either edge of the text, not shorter coincidences', () => {
    const s = new SecretScrubber([KEY]);
    expect(s.scrub(`last line ${KEY.slice(0, 12)}`)).toBe('last line [redacted:secret]');
    expect(s.scrub(`${KEY.slice(-9)} first line`)).toBe('[redacted:secret] first line');
    expect(s.scrub(`ends f4ke-`)).toBe('ends f4ke-'); // 5 characters: below the edge minimum
    expect(s.scrub(`${KEY.slice(0, 12)} mid`, { fragmentEnd: true })).toBe(`${KEY.slice(0, 12)} mid`);
  });

  it('leaves ordinary training output alone', () => {
    // Given a scrubber with secrets configured and log lines with numbers, hashes, ids and paths
    const s = scrubberFor();
    // When / Then nothing changes
    for (const line of ORDINARY) expect(s.scrub(line)).toBe(line);
    const sha = createHash('sha256').update(KEY).digest('hex');
    expect(s.scrub(`sha256 of the key: ${sha}`)).toBe(`sha256 of the key: ${sha}`);
  });

  it('a stream cut anywhere gives the same text as scrubbing it whole', () => {
    const s = scrubberFor();
    const pieces = [
      ...ORDINARY,
      ...formsOf(KEY),
      ...Object.values(TOKENS),
      `Authorization: Bearer ${TOKENS.bearer}`,
      '-----BEGIN PRIVATE KEY-----',
      PEM_BODY,
      '-----END PRIVATE KEY-----',
      Buffer.from(`${KEY}${KEY}${KEY}`).toString('base64').slice(0, 76),
      Buffer.from(`${KEY}${KEY}${KEY}`).toString('base64').slice(76),
      '\n',
      ' ',
    ];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...pieces), { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.constantFrom('\n', ' ', ''),
        (picked, cuts, sep) => {
          const text = picked.join(sep);
          const at = [...new Set(cuts.map((c) => (text.length === 0 ? 0 : c % text.length)))].sort((a, b) => a - b);
          const st = new StreamScrubber(s);
          let out = '';
          let prev = 0;
          for (const c of [...at, text.length]) {
            out += st.push(text.slice(prev, c));
            prev = c;
          }
          out += st.end();
          expect(out).toBe(s.scrub(text, { fragmentEnd: true }));
        },
      ),
      // The example once found (a PEM header glued to a bearer token): the stream released "Bearer " and so no
      // longer recognised the token behind it.
      {
        numRuns: 500,
        examples: [[[`Authorization: Bearer ${TOKENS.bearer}`, '-----BEGIN PRIVATE KEY-----', '\n'], [], '']],
      },
    );
  });
});

describe('scrubLogFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scrub-file-'));

  it('rewrites a log in place, 0600, with no form of a secret left and ordinary lines intact', async () => {
    // Given a finished job's log (larger than one read, with secrets near read boundaries) readable by others
    const s = scrubberFor();
    const file = join(dir, 'job.log');
    const filler = ORDINARY.join('\n') + '\n';
    let text = '';
    while (text.length < 600_000) text += filler + `leak ${formsOf(KEY)[text.length % 6]} ${TOKENS.anthropic}\n`;
    text += `killed mid-print: ${KEY.slice(0, 10)}`;
    writeFileSync(file, text);
    chmodSync(file, 0o644);
    // When it is scrubbed
    const { redactions } = await scrubLogFile(file, s);
    // Then nothing of the secret is left, the ordinary lines are, and only the log is in the directory
    const out = readFileSync(file, 'utf8');
    for (const f of [...formsOf(KEY), TOKENS.anthropic, KEY.slice(0, 10)]) expect(out).not.toContain(f);
    for (const line of ORDINARY) expect(out).toContain(line);
    expect(redactions).toBeGreaterThan(100);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['job.log']);
  });

  it('catches a value in a line longer than what a stream holds back', async () => {
    const s = new SecretScrubber([KEY]);
    const file = join(dir, 'one-line.log');
    // No newline for megabytes: the stream must cut inside the line; the values straddle the read size (64 KiB)
    // and the hold limit (256 KiB).
    const pad = 'x'.repeat(256 * 1024 - 7);
    writeFileSync(file, `${pad}${KEY}${pad}${pad}${pad}${KEY}${'y'.repeat(3_000_000)}`);
    await scrubLogFile(file, s);
    const out = readFileSync(file, 'utf8');
    expect(out).not.toContain(KEY.slice(0, 12));
    expect(out).not.toContain(KEY.slice(-12));
    expect(out.split('[redacted:secret]').length).toBe(3);
  });

  it('leaves a log with nothing to redact in place (the same file), made 0600', async () => {
    const file = join(dir, 'clean.log');
    writeFileSync(file, `${ORDINARY.join('\n')}\n`);
    chmodSync(file, 0o644);
    const inode = statSync(file).ino;
    await expect(scrubLogFile(file, scrubberFor())).resolves.toEqual({ redactions: 0 });
    expect(statSync(file).ino).toBe(inode);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`${ORDINARY.join('\n')}\n`);
  });

  it('leaves a missing log missing', async () => {
    await expect(scrubLogFile(join(dir, 'nope.log'), scrubberFor())).resolves.toEqual({ redactions: 0 });
    expect(readdirSync(dir)).not.toContain('nope.log');
  });
});
