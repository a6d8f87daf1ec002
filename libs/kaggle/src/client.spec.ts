import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KaggleAuthError,
  KaggleCompetitionClient,
  KaggleConfigError,
  KagglePollTimeoutError,
  KaggleProtocolError,
  KaggleQuotaExceededError,
  LoopbackKaggleServer,
  credentialsFromEnv,
  type LoopbackKaggleOptions,
} from './index';

const COMP = 'wonderland-reasoning';
const TOKEN = 'kgat_test_token_123';
const noSleep = { sleep: async () => undefined, initialDelayMs: 10 };

describe('KaggleCompetitionClient against a loopback CompetitionApiService', () => {
  let server: LoopbackKaggleServer;
  const start = async (opts: LoopbackKaggleOptions = {}) => {
    server = await new LoopbackKaggleServer({ token: TOKEN, competitionName: COMP, ...opts }).start();
    return new KaggleCompetitionClient({ baseUrl: server.baseUrl, credentials: { kind: 'token', token: TOKEN } });
  };
  afterEach(async () => server?.stop());

  it('uploads, creates the submission and polls PENDING → COMPLETE with the public score', async () => {
    const client = await start({ pendingReads: 2, judge: (c) => ({ status: 'COMPLETE', publicScore: c.toString().split('\n').length / 10 }) });
    const content = Buffer.from('id,answer\n1,XXXVIII\n2,10010111\n');
    const { ref } = await client.submitFile({ competitionName: COMP, fileName: 'submission.csv', content, description: 'aevo sub-1', lastModifiedEpochSeconds: 1700000000 });
    expect(ref).toBe('40000001');

    expect(server.calls.map((c) => c.method)).toEqual(['ApiStartSubmissionUpload', 'ApiCreateSubmission']);
    expect(server.calls[0].body).toEqual({ competitionName: COMP, fileName: 'submission.csv', contentLength: content.length, lastModifiedEpochSeconds: 1700000000 });
    expect(server.calls[1].body).toEqual({ competitionName: COMP, blobFileTokens: expect.stringMatching(/^[0-9a-f]{24}$/), submissionDescription: 'aevo sub-1' });
    expect(server.calls.every((c) => c.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(server.submissions[0].content.equals(content)).toBe(true);

    const seen: string[] = [];
    const done = await client.waitForSubmission(ref, COMP, { ...noSleep, onPoll: (s) => seen.push(s.status) });
    expect(seen).toEqual(['PENDING', 'PENDING']);
    expect(done).toMatchObject({ ref, status: 'COMPLETE', publicScore: 0.4, privateScore: null, description: 'aevo sub-1' });
  });

  it('accepts legacy username/key as HTTP Basic', async () => {
    server = await new LoopbackKaggleServer({ basic: { username: 'alice', key: 'k3y' }, competitionName: COMP }).start();
    const client = new KaggleCompetitionClient({ baseUrl: server.baseUrl, credentials: { kind: 'basic', username: 'alice', key: 'k3y' } });
    await client.submitFile({ competitionName: COMP, fileName: 's.csv', content: Buffer.from('id,answer\n1,a\n'), description: 'd' });
    expect(server.calls[0].authorization).toBe(`Basic ${Buffer.from('alice:k3y').toString('base64')}`);
    expect(await client.listSubmissions({ competitionName: COMP })).toHaveLength(1);
  });

  it('turns 401 into KaggleAuthError and creates nothing', async () => {
    await start();
    const bad = new KaggleCompetitionClient({ baseUrl: server.baseUrl, credentials: { kind: 'token', token: 'wrong' } });
    const err = await bad.submitFile({ competitionName: COMP, fileName: 's.csv', content: Buffer.from('x'), description: 'd' }).catch((e) => e);
    expect(err).toBeInstanceOf(KaggleAuthError);
    expect(err).toMatchObject({ status: 401, method: 'ApiStartSubmissionUpload' });
    expect(err.message).toMatch(/invalid or missing credentials/);
    expect(server.submissions).toHaveLength(0);
  });

  it('turns the 400 of an exhausted allowance into KaggleQuotaExceededError with the server message', async () => {
    const client = await start({ allowance: 1 });
    const file = { competitionName: COMP, fileName: 's.csv', content: Buffer.from('id,answer\n1,a\n'), description: 'd' };
    await client.submitFile(file);
    const err = await client.submitFile(file).catch((e) => e);
    expect(err).toBeInstanceOf(KaggleQuotaExceededError);
    expect(err.serverMessage).toMatch(/daily Submission allowance \(1\)/);
    expect(server.submissions).toHaveLength(1);
  });

  it('reports ERROR with the error description', async () => {
    const client = await start({ pendingReads: 1, judge: () => ({ status: 'ERROR', errorDescription: 'Submission must have 2 rows' }) });
    const { ref } = await client.submitFile({ competitionName: COMP, fileName: 's.csv', content: Buffer.from('id\n'), description: 'd' });
    const done = await client.waitForSubmission(ref, COMP, noSleep);
    expect(done).toMatchObject({ status: 'ERROR', errorDescription: 'Submission must have 2 rows', publicScore: null });
  });

  it('falls back to ListSubmissions where GetSubmission is not served, and rides out 503s', async () => {
    const client = await start({ withoutGetSubmission: true, pendingReads: 1, failNext: { ApiListSubmissions: 2 } });
    const { ref } = await client.submitFile({ competitionName: COMP, fileName: 's.csv', content: Buffer.from('id,answer\n'), description: 'd' });
    const done = await client.waitForSubmission(ref, COMP, noSleep);
    expect(done.status).toBe('COMPLETE');
    const methods = server.calls.map((c) => c.method).slice(2);
    expect(methods[0]).toBe('ApiGetSubmission');
    expect(methods.filter((m) => m === 'ApiListSubmissions').length).toBeGreaterThanOrEqual(3);
  });

  it('backs off exponentially up to the cap and gives up at the bound', async () => {
    const client = await start({ pendingReads: 1000 });
    const { ref } = await client.submitFile({ competitionName: COMP, fileName: 's.csv', content: Buffer.from('x'), description: 'd' });
    const waits: number[] = [];
    const err = await client
      .waitForSubmission(ref, COMP, { initialDelayMs: 100, factor: 2, maxDelayMs: 500, maxWaitMs: 2000, sleep: async (ms) => void waits.push(ms) })
      .catch((e) => e);
    expect(waits).toEqual([100, 200, 400, 500, 500]);
    expect(err).toBeInstanceOf(KagglePollTimeoutError);
    expect(err.message).toMatch(/still PENDING after 6 polls/);
  });

  it('names the field of a malformed response', async () => {
    const bad = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 't' })));
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    try {
      const client = new KaggleCompetitionClient({ baseUrl: `http://127.0.0.1:${(bad.address() as AddressInfo).port}`, credentials: { kind: 'token', token: 'x' } });
      const err = await client.startSubmissionUpload({ competitionName: COMP, fileName: 'a', contentLength: 1, lastModifiedEpochSeconds: 1 }).catch((e) => e);
      expect(err).toBeInstanceOf(KaggleProtocolError);
      expect(err.field).toBe('createUrl');
    } finally {
      await new Promise((r) => bad.close(r));
    }
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => new KaggleCompetitionClient({ baseUrl: 'ftp://x', credentials: { kind: 'token', token: 't' } })).toThrow(/baseUrl: expected http or https/);
    expect(() => new KaggleCompetitionClient({ baseUrl: 'nope', credentials: { kind: 'token', token: 't' } })).toThrow(KaggleConfigError);
  });
});

describe('credentialsFromEnv', () => {
  it('prefers KAGGLE_API_TOKEN, reading it from a file when it names one', () => {
    expect(credentialsFromEnv({ KAGGLE_API_TOKEN: 'abc', KAGGLE_USERNAME: 'u', KAGGLE_KEY: 'k' })).toEqual({ kind: 'token', token: 'abc' });
    const file = join(mkdtempSync(join(tmpdir(), 'kgl-')), 'token');
    writeFileSync(file, 'from-file\n');
    expect(credentialsFromEnv({ KAGGLE_API_TOKEN: file })).toEqual({ kind: 'token', token: 'from-file' });
  });
  it('falls back to the legacy pair and names what is missing', () => {
    expect(credentialsFromEnv({ KAGGLE_USERNAME: 'u', KAGGLE_KEY: 'k' })).toEqual({ kind: 'basic', username: 'u', key: 'k' });
    expect(() => credentialsFromEnv({ KAGGLE_USERNAME: 'u' })).toThrow(/needs both KAGGLE_USERNAME and KAGGLE_KEY \(only KAGGLE_USERNAME is set\)/);
    expect(() => credentialsFromEnv({})).toThrow(/set KAGGLE_API_TOKEN/);
  });
});
