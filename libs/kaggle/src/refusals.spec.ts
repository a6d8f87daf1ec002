import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KaggleApiError,
  KaggleCompetitionClient,
  KaggleCompetitionNotFoundError,
  KaggleNotJoinedError,
  KaggleQuotaExceededError,
  KaggleSubmissionRefusedError,
  LoopbackKaggleServer,
  credentialsFromEnv,
  type KaggleClientOptions,
  type LoopbackKaggleOptions,
} from './index';

const COMP = 'wonderland-reasoning';
const TOKEN = 'kgat_test_token_123';
const file = (description = 'aevo c1 c1-r1-s1') => ({
  competitionName: COMP,
  fileName: 's.csv',
  content: Buffer.from('id,answer\n1,a\n'),
  description,
});

describe('KaggleCompetitionClient reading refusals from the loopback CompetitionApiService', () => {
  let server: LoopbackKaggleServer;
  let sleeps: number[];
  const start = async (opts: LoopbackKaggleOptions = {}, client: Partial<KaggleClientOptions> = {}) => {
    server = await new LoopbackKaggleServer({ token: TOKEN, competitionName: COMP, ...opts }).start();
    sleeps = [];
    return new KaggleCompetitionClient({
      baseUrl: server.baseUrl,
      credentials: { kind: 'token', token: TOKEN },
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
      ...client,
    });
  };
  const methods = () => server.calls.map((c) => c.method);
  afterEach(async () => server?.stop());

  describe('refusals are read from the body, never from the status alone', () => {
    it('a 400 for a wrong competition is KaggleCompetitionNotFoundError, not quota', async () => {
      for (const bareErrors of [false, true]) {
        const client = await start({ bareErrors });
        const err = await client.submitFile({ ...file(), competitionName: 'wonderland-reasoninq' }).catch((e) => e);
        expect(server.calls.find((c) => c.method === 'CreateSubmission')?.status).toBe(400);
        expect(err).toBeInstanceOf(KaggleCompetitionNotFoundError);
        expect(err).not.toBeInstanceOf(KaggleQuotaExceededError);
        expect(err.message).toMatch(/no competition named "wonderland-reasoninq"/);
        await server.stop();
      }
    });

    it('a not-joined 400 is KaggleNotJoinedError and says so', async () => {
      for (const bareErrors of [false, true]) {
        const client = await start({ joined: false, bareErrors });
        const err = await client.submitFile(file()).catch((e) => e);
        expect(err).toBeInstanceOf(KaggleNotJoinedError);
        expect(err.message).toMatch(
          /has not joined competition "wonderland-reasoning"; accept its rules on kaggle.com/,
        );
        expect(methods().includes('GetCompetition')).toBe(bareErrors); // the bare 400 is explained by GetCompetition
        await server.stop();
      }
    });

    it('a used-up allowance is quota, confirmed with GetSubmissionLimits', async () => {
      for (const bareErrors of [false, true]) {
        const client = await start({ allowance: 1, bareErrors });
        await client.submitFile(file('first'));
        const err = await client.submitFile(file('second')).catch((e) => e);
        expect(err).toBeInstanceOf(KaggleQuotaExceededError);
        expect(err.limits).toEqual({ numToday: 1, numTotal: 1, numAllowedNow: 0, limitedByTotal: false });
        expect(err.message).toMatch(/1 submitted today, 0 allowed now/);
        if (!bareErrors) expect(err.serverMessage).toMatch(/daily Submission allowance \(1\)/);
        expect(server.submissions).toHaveLength(1);
        await server.stop();
      }
    });

    it('takes the quota message alone where GetSubmissionLimits is not served', async () => {
      const client = await start({ allowance: 0, withoutSubmissionLimits: true });
      const err = await client.submitFile(file()).catch((e) => e);
      expect(err).toBeInstanceOf(KaggleQuotaExceededError);
      expect(err).toMatchObject({ limits: null });
      expect(err.message).toMatch(/GetSubmissionLimits not served, so unconfirmed/);
    });

    it('an unexplained 400 with allowance left stays a refusal of unknown reason', async () => {
      const client = await start({ bareErrors: true });
      const upload = await client.startSubmissionUpload({
        competitionName: COMP,
        fileName: 's.csv',
        contentLength: 3,
        lastModifiedEpochSeconds: 1,
      });
      const raw = await client
        .createSubmission({ competitionName: COMP, blobFileTokens: upload.token, submissionDescription: 'x' })
        .catch((e) => e);
      const err = await client.explainSubmissionRefusal(raw, COMP);
      expect(err).toBeInstanceOf(KaggleSubmissionRefusedError);
      expect(err).not.toBeInstanceOf(KaggleQuotaExceededError);
      expect(err).toMatchObject({ reason: 'unknown', limits: { numAllowedNow: 5 } });
    });

    it(
      'does not take a quota-like message for quota where ' + 'GetSubmissionLimits reports submissions allowed now',
      async () => {
        const client = await start({ allowance: 5 });
        const answered = new KaggleApiError(
          'CreateSubmission',
          400,
          'Submission not allowed: Your team has used its daily Submission allowance (5) today.',
        );
        const err = await client.explainSubmissionRefusal(answered, COMP);
        expect(err).not.toBeInstanceOf(KaggleQuotaExceededError);
        expect(err).toMatchObject({ reason: 'unknown', limits: { numAllowedNow: 5 } });
        expect(err.message).toMatch(/reads as a used-up allowance, but GetSubmissionLimits reports 5 allowed now/);
      },
    );

    it('sends descriptions Kaggle accepts: no `/`, bounded, still distinct', async () => {
      const client = await start();
      const a = await client.submitFile(file('aevo c1/c1-r1-s1'));
      const b = await client.submitFile(file('aevo c1/c1-r1-s2'));
      expect(a.description).toMatch(/^aevo c1-c1-r1-s1 #[0-9a-f]{10}$/);
      expect(b.description).not.toBe(a.description);
      const long = await client.submitFile(file('x'.repeat(500)));
      expect(long.description.length).toBeLessThanOrEqual(100);
      expect(server.submissions.map((s) => s.description)).toEqual([a.description, b.description, long.description]);

      // Unsanitised, the loopback refuses it the way the real service reportedly does, and the refusal says why.
      const upload = await client.startSubmissionUpload({
        competitionName: COMP,
        fileName: 's.csv',
        contentLength: 1,
        lastModifiedEpochSeconds: 1,
      });
      await client.uploadBlob(upload.createUrl, Buffer.from('x'));
      const raw = await client
        .createSubmission({ competitionName: COMP, blobFileTokens: upload.token, submissionDescription: 'aevo c1/s1' })
        .catch((e) => e);
      expect(await client.explainSubmissionRefusal(raw, COMP)).toMatchObject({ reason: 'invalid-description' });
    });
  });
});

describe('credentialsFromEnv', () => {
  it('prefers KAGGLE_API_TOKEN, reading it from a file when it names one', () => {
    expect(credentialsFromEnv({ KAGGLE_API_TOKEN: 'abc', KAGGLE_USERNAME: 'u', KAGGLE_KEY: 'k' })).toEqual({
      kind: 'token',
      token: 'abc',
    });
    const f = join(mkdtempSync(join(tmpdir(), 'kgl-')), 'token');
    writeFileSync(f, 'from-file\n');
    expect(credentialsFromEnv({ KAGGLE_API_TOKEN: f })).toEqual({ kind: 'token', token: 'from-file' });
  });
  it('falls back to the legacy pair and names what is missing', () => {
    expect(credentialsFromEnv({ KAGGLE_USERNAME: 'u', KAGGLE_KEY: 'k' })).toEqual({
      kind: 'basic',
      username: 'u',
      key: 'k',
    });
    expect(() => credentialsFromEnv({ KAGGLE_USERNAME: 'u' })).toThrow(
      /needs both KAGGLE_USERNAME and KAGGLE_KEY \(only KAGGLE_USERNAME is set\)/,
    );
    expect(() => credentialsFromEnv({})).toThrow(/set KAGGLE_API_TOKEN/);
  });
});
