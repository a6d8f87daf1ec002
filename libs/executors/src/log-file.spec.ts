import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logHasDivergedLine, readLogTail } from './log-file';
import { SecretScrubber } from './secrets';
import { scrubLogFile } from './scrub-stream';

// A made-up value standing for a configured secret; never a real key.
const KEY = 'fake-test-api-key-9f8e7d6c5b4a3210';
const forms = (v: string) => [
  v,
  Buffer.from(v).toString('base64'),
  Buffer.from(v).toString('hex'),
  encodeURIComponent(v),
];
const TOKENS = [
  'sk-ant-api03-FakeFakeFake0123456789abcdef',
  'ghp_FakeFakeFakeFakeFakeFakeFake0123456789',
  'AKIAFAKEFAKEFAKE1234',
];

describe('readLogTail', () => {
  const dir = mkdtempSync(join(tmpdir(), 'log-tail-'));

  it('returns the last lines of a log', async () => {
    const file = join(dir, 'plain.log');
    writeFileSync(
      file,
      Array.from({ length: 100 }, (_, i) => `step ${i} loss=${(1 / (i + 1)).toFixed(4)}`).join('\n') + '\n',
    );
    expect(await readLogTail(file, 2)).toBe('step 98 loss=0.0101\nstep 99 loss=0.0100');
    expect(await readLogTail(join(dir, 'missing.log'))).toBe('');
  });

  it('scrubs configured secrets of this process by default', async () => {
    // Given a configured secret in this process's environment and a log that prints it
    const file = join(dir, 'env.log');
    writeFileSync(file, `loading\nkey=${KEY}\ndone\n`);
    process.env.AEVO_LOG_TAIL_TEST_KEY = KEY;
    try {
      // When the tail is read without an explicit scrubber
      const tail = await readLogTail(file);
      // Then the value is redacted
      expect(tail).toBe('loading\nkey=[redacted:secret]\ndone');
    } finally {
      delete process.env.AEVO_LOG_TAIL_TEST_KEY;
    }
  });

  it(
    'shows no fragment of a value that the tail cut goes through, ' + 'or one split by a CR or cut off at the end',
    async () => {
      const s = new SecretScrubber([KEY]);
      const file = join(dir, 'cut.log');
      // The value sits where the 30-character cut falls; a CR splits another; the last is cut off mid-print.
      writeFileSync(
        file,
        `${'x'.repeat(200_000)}\nfirst line ${KEY} end\nsplit ${KEY.slice(0, 9)}\r${KEY.slice(9)}\nkilled ` +
          `${KEY.slice(0, 14)}`,
      );
      const tail = await readLogTail(file, 50, 60, s);
      expect(tail.length).toBeLessThanOrEqual(60);
      for (let n = 6; n <= KEY.length; n++)
        for (let i = 0; i + n <= KEY.length; i += n) expect(tail).not.toContain(KEY.slice(i, i + n));
      expect(tail).toMatch(/split \[redacted:secret\]\nkilled \[redacted:secret\]$/);
    },
  );
});

describe('a job that prints a key', () => {
  it('leaves no trace of it in the tail, the log file or anywhere beside it', async () => {
    // Given a job (a real process writing to its log through an fd, as the local executor runs one) that prints a
    // configured key it should never have had, plainly and encoded, and token-shaped strings, among training output
    const dir = mkdtempSync(join(tmpdir(), 'job-leak-'));
    const log = join(dir, 'job-1.log');
    const script = `
      const [key, ...tokens] = process.argv.slice(1);
      for (let i = 0; i < 2000; i++) console.log('step ' + i + ' loss=' + (1 / (i + 1)).toFixed(5));
      console.log('KEY=' + key);
      console.error('b64', Buffer.from(key).toString('base64'), 'hex', Buffer.from(key).toString('hex'),
        'url', encodeURIComponent(key));
      console.log(tokens.join(' '));
      console.log('saved checkpoints/step-002000/checkpoint.pt');
      process.stdout.write('dying: ' + key.slice(0, 12));`;
    const fd = openSync(log, 'a', 0o600);
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['-e', script, KEY, ...TOKENS], { stdio: ['ignore', fd, fd] });
      child.on('close', (c) => resolve(c));
    });
    closeSync(fd);
    expect(code).toBe(0);
    const scrubber = new SecretScrubber([KEY]);
    // When the executor reads the tail for the terminal event and rewrites the finished job's log
    const tail = await readLogTail(log, 10, 8192, scrubber);
    const { redactions } = await scrubLogFile(log, scrubber);
    // Then neither the tail nor any file in the log directory holds any form of the key or a token
    const everything = [tail, ...readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8'))];
    expect(readdirSync(dir)).toEqual(['job-1.log']);
    for (const text of everything)
      for (const f of [...forms(KEY), KEY.slice(0, 12), ...TOKENS]) expect(text).not.toContain(f);
    expect(redactions).toBeGreaterThanOrEqual(8);
    // And the training output is intact, with what the executor looks for in a log
    expect(tail).toContain('saved checkpoints/step-002000/checkpoint.pt');
    expect(readFileSync(log, 'utf8')).toContain('step 1999 loss=0.00050\nKEY=[redacted:secret]\n');
    expect(await logHasDivergedLine(log)).toBe(false);
  });
});
