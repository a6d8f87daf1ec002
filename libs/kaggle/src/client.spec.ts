import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  KaggleApiError,
  KaggleAuthError,
  KaggleCompetitionClient,
  KaggleConfigError,
  KagglePollTimeoutError,
  KaggleProtocolError,
  LoopbackKaggleServer,
  Methods,
  SERVICE,
  type KaggleClientOptions,
  type LoopbackKaggleOptions,
} from './index';

const COMP = 'wonderland-reasoning';
const TOKEN = 'kgat_test_token_123';
const noSleep = { sleep: async () => undefined, initialDelayMs: 10 };
const file = (description = 'aevo c1 c1-r1-s1') => ({
  competitionName: COMP,
  fileName: 's.csv',
  content: Buffer.from('id,answer\n1,a\n'),
  description,
});

describe('KaggleCompetitionClient against the loopback CompetitionApiService', () => {
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

  describe('routes', () => {
    it('answers the service’s own method names and 404 to the Api-prefixed ones', async () => {
      const client = await start({ leaderboard: [{ teamId: 7, teamName: 'aevo', score: '0.51000' }] });
      const { ref } = await client.submitFile(file());
      await client.getSubmission(ref);
      await client.listSubmissions(COMP);
      await client.getLeaderboard(COMP);
      await client.getCompetition(COMP);
      await client.getSubmissionLimits(COMP);
      // The names of kagglesdk's CompetitionApiClient (competitions/services/competition_api_service.py;
      // GetSubmissionLimits from 0.1.35).
      const upstream = [
        'StartSubmissionUpload',
        'CreateSubmission',
        'GetSubmission',
        'ListSubmissions',
        'GetLeaderboard',
        'GetCompetition',
        'GetSubmissionLimits',
      ];
      expect(Object.values(Methods).sort()).toEqual([...upstream].sort());
      expect(new Set(methods())).toEqual(new Set([...upstream, 'upload']));
      expect([...LoopbackKaggleServer.routedMethods].sort()).toEqual([...upstream].sort());
      expect(server.calls.every((c) => c.status === 200)).toBe(true);

      for (const old of [
        'ApiStartSubmissionUpload',
        'ApiCreateSubmission',
        'ApiGetSubmission',
        'ApiListSubmissions',
        'ApiGetLeaderboard',
      ]) {
        const res = await fetch(`${server.baseUrl}/v1/${SERVICE}/${old}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({ competitionName: COMP }),
        });
        expect({ old, status: res.status }).toEqual({ old, status: 404 });
      }
    });

    it('refuses field names the request type does not have, as a protobuf JSON parser does', async () => {
      await start();
      const res = await fetch(`${server.baseUrl}/v1/${SERVICE}/ListSubmissions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ competitionName: COMP, page_size: 10 }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        code: 400,
        message: 'Invalid JSON payload received. Unknown name "page_size": Cannot find field.',
      });
    });
  });

  it('uploads, creates the submission and polls PENDING → COMPLETE with the public score', async () => {
    const client = await start({
      pendingReads: 2,
      judge: (c) => ({ status: 'COMPLETE', publicScore: c.toString().split('\n').length / 10 }),
    });
    const content = Buffer.from('id,answer\n1,XXXVIII\n2,10010111\n');
    const { ref, description } = await client.submitFile({
      competitionName: COMP,
      fileName: 'submission.csv',
      content,
      description: 'aevo sub-1',
      lastModifiedEpochSeconds: 1700000000,
    });
    expect(ref).toBe('40000001');
    expect(description).toBe('aevo sub-1');
    expect(methods()).toEqual(['StartSubmissionUpload', 'upload', 'CreateSubmission']);
    expect(server.calls[0].body).toEqual({
      competitionName: COMP,
      fileName: 'submission.csv',
      contentLength: content.length,
      lastModifiedEpochSeconds: 1700000000,
    });
    expect(server.calls[2].body).toEqual({
      competitionName: COMP,
      blobFileTokens: expect.stringMatching(/^[0-9a-f]{24}$/),
      submissionDescription: 'aevo sub-1',
    });
    expect(server.calls.filter((c) => c.method !== 'upload').every((c) => c.authorization === `Bearer ${TOKEN}`)).toBe(
      true,
    );
    expect(server.calls[1].authorization).toBeUndefined();
    expect(server.submissions[0].content.equals(content)).toBe(true);

    const seen: string[] = [];
    const done = await client.waitForSubmission(ref, COMP, { ...noSleep, onPoll: (s) => seen.push(s.status) });
    expect(seen).toEqual(['PENDING', 'PENDING']);
    expect(done).toMatchObject({
      ref,
      status: 'COMPLETE',
      publicScore: 0.4,
      privateScore: null,
      description: 'aevo sub-1',
    });
  });

  describe('429 and 503', () => {
    it('polls through 429s, waiting what Retry-After asks for', async () => {
      const client = await start({ pendingReads: 1, rateLimitNext: { GetSubmission: 3 }, retryAfterSeconds: 7 });
      const { ref } = await client.submitFile(file());
      const done = await client.waitForSubmission(ref, COMP, noSleep);
      expect(done.status).toBe('COMPLETE');
      expect(server.calls.filter((c) => c.method === 'GetSubmission').map((c) => c.status)).toEqual([
        429, 429, 429, 200, 200,
      ]);
      expect(sleeps).toEqual([7000, 7000, 7000]);
    });

    it('counts a 429 that outlasts the call’s retries as one more pending poll, not a failure', async () => {
      const client = await start(
        { pendingReads: 0, rateLimitNext: { GetSubmission: 2 }, retryAfterSeconds: 3 },
        { retry: { maxAttempts: 1 } },
      );
      const { ref } = await client.submitFile(file());
      const pollSleeps: number[] = [];
      const done = await client.waitForSubmission(ref, COMP, {
        initialDelayMs: 10,
        sleep: async (ms) => void pollSleeps.push(ms),
      });
      expect(done.status).toBe('COMPLETE');
      expect(pollSleeps).toEqual([3000, 3000]);
    });

    it(
      'backs off with jitter where no Retry-After is given, and ' + 'gives a long Retry-After back to the caller',
      async () => {
        const client = await start({ failNext: { GetCompetition: 3 } }, { retry: { baseDelayMs: 100 } });
        await client.getCompetition(COMP);
        expect(sleeps).toEqual([75, 150, 300]); // base·2^k, equal jitter at random() = 0.5
        await server.stop();
        const impatient = await start({ rateLimitNext: { GetCompetition: 1 }, retryAfterSeconds: 3600 });
        const err = await impatient.getCompetition(COMP).catch((e) => e);
        expect(err).toBeInstanceOf(KaggleApiError);
        expect(err).toMatchObject({ status: 429, retryAfterMs: 3_600_000 });
        expect(sleeps).toEqual([]);
      },
    );

    it('retries the upload PUT and, after a 503 from CreateSubmission, looks before it submits again', async () => {
      const client = await start({ failNext: { upload: 1, CreateSubmission: 1 } });
      const { ref, reused } = await client.submitFile(file());
      expect(reused).toBe(false);
      expect(server.submissions.map((s) => s.ref)).toEqual([ref]);
      expect(methods()).toEqual([
        'StartSubmissionUpload',
        'upload',
        'upload',
        'CreateSubmission',
        'ListSubmissions',
        'CreateSubmission',
      ]);
    });
  });

  describe('pagination', () => {
    const older = (n: number) => Array.from({ length: n }, (_, i) => ({ description: `aevo old ${i}` }));

    it(
      'finds a submission three pages down (the duplicate check) ' + 'with the page tokens the service returned',
      async () => {
        const client = await start({ preexisting: older(45), maxPageSize: 20 });
        const found = await client.findSubmission(COMP, (s) => s.description === 'aevo old 0');
        expect(found).toMatchObject({ description: 'aevo old 0', status: 'COMPLETE' });
        const lists = server.calls.filter((c) => c.method === 'ListSubmissions');
        expect(lists).toHaveLength(3);
        expect(lists[0].body).toEqual({ competitionName: COMP, pageSize: 50 });
        expect(lists[1].body).toEqual({ competitionName: COMP, pageSize: 50, pageToken: expect.any(String) });
        expect(await client.listSubmissions(COMP)).toHaveLength(45);
        expect(await client.findSubmission(COMP, (s) => s.description === 'never sent')).toBeUndefined();
      },
    );

    it('reads the whole leaderboard and refuses a listing that never ends', async () => {
      const leaderboard = Array.from({ length: 45 }, (_, i) => ({
        teamId: i + 1,
        teamName: `team ${i + 1}`,
        score: (0.9 - i / 100).toFixed(5),
      }));
      const client = await start({ leaderboard, maxPageSize: 20 });
      const all = await client.getLeaderboard(COMP);
      expect(all.map((e) => e.teamId)).toEqual(leaderboard.map((e) => e.teamId));
      expect(
        server.calls
          .filter((c) => c.method === 'GetLeaderboard')
          .map((c) => (c.body as { overridePublic: boolean }).overridePublic),
      ).toEqual([true, true, true]);

      const loop = createServer((_req, res) =>
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ submissions: [], nextPageToken: 'same' })),
      );
      await new Promise<void>((r) => loop.listen(0, '127.0.0.1', r));
      try {
        const c = new KaggleCompetitionClient({
          baseUrl: `http://127.0.0.1:${(loop.address() as AddressInfo).port}`,
          credentials: { kind: 'token', token: 'x' },
        });
        await expect(c.listSubmissions(COMP)).rejects.toThrow(/token "same" came back twice/);
      } finally {
        await new Promise((r) => loop.close(r));
      }
    });
  });

  it('accepts legacy username/key as HTTP Basic', async () => {
    server = await new LoopbackKaggleServer({
      basic: { username: 'alice', key: 'k3y' },
      competitionName: COMP,
    }).start();
    const client = new KaggleCompetitionClient({
      baseUrl: server.baseUrl,
      credentials: { kind: 'basic', username: 'alice', key: 'k3y' },
    });
    await client.submitFile(file());
    expect(server.calls[0].authorization).toBe(`Basic ${Buffer.from('alice:k3y').toString('base64')}`);
    expect(await client.listSubmissions(COMP)).toHaveLength(1);
  });

  it('turns 401 into KaggleAuthError and creates nothing', async () => {
    await start();
    const bad = new KaggleCompetitionClient({
      baseUrl: server.baseUrl,
      credentials: { kind: 'token', token: 'wrong' },
    });
    const err = await bad.submitFile(file()).catch((e) => e);
    expect(err).toBeInstanceOf(KaggleAuthError);
    expect(err).toMatchObject({ status: 401, method: 'StartSubmissionUpload' });
    expect(err.message).toMatch(/invalid or missing credentials/);
    expect(server.submissions).toHaveLength(0);
  });

  it('reports ERROR with the error description', async () => {
    const client = await start({
      pendingReads: 1,
      judge: () => ({ status: 'ERROR', errorDescription: 'Submission must have 2 rows' }),
    });
    const { ref } = await client.submitFile(file());
    const done = await client.waitForSubmission(ref, COMP, noSleep);
    expect(done).toMatchObject({ status: 'ERROR', errorDescription: 'Submission must have 2 rows', publicScore: null });
  });

  it('falls back to ListSubmissions (every page) where GetSubmission is not served, and rides out 503s', async () => {
    const client = await start(
      {
        withoutGetSubmission: true,
        pendingReads: 1,
        failNext: { ListSubmissions: 2 },
        maxPageSize: 2,
        preexisting: [{ description: 'a' }, { description: 'b' }],
      },
      { retry: { maxAttempts: 1 }, pageSize: 2 },
    );
    const { ref } = await client.submitFile(file());
    const done = await client.waitForSubmission(ref, COMP, noSleep);
    expect(done).toMatchObject({ ref, status: 'COMPLETE' });
    expect(
      methods()
        .filter((m) => m !== 'upload')
        .slice(2)[0],
    ).toBe('GetSubmission');
    expect(server.calls.filter((c) => c.method === 'ListSubmissions' && c.status === 503)).toHaveLength(2);
  });

  it('backs off exponentially up to the cap and gives up at the bound', async () => {
    const client = await start({ pendingReads: 1000 });
    const { ref } = await client.submitFile(file());
    const waits: number[] = [];
    const err = await client
      .waitForSubmission(ref, COMP, {
        initialDelayMs: 100,
        factor: 2,
        maxDelayMs: 500,
        maxWaitMs: 2000,
        sleep: async (ms) => void waits.push(ms),
      })
      .catch((e) => e);
    expect(waits).toEqual([100, 200, 400, 500, 500]);
    expect(err).toBeInstanceOf(KagglePollTimeoutError);
    expect(err.message).toMatch(/still PENDING after 6 polls/);
  });

  it('names the field of a malformed response', async () => {
    const bad = createServer((_req, res) =>
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 't' })),
    );
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    try {
      const client = new KaggleCompetitionClient({
        baseUrl: `http://127.0.0.1:${(bad.address() as AddressInfo).port}`,
        credentials: { kind: 'token', token: 'x' },
      });
      const err = await client
        .startSubmissionUpload({ competitionName: COMP, fileName: 'a', contentLength: 1, lastModifiedEpochSeconds: 1 })
        .catch((e) => e);
      expect(err).toBeInstanceOf(KaggleProtocolError);
      expect(err.field).toBe('createUrl');
    } finally {
      await new Promise((r) => bad.close(r));
    }
  });

  it('refuses a base URL that is not http(s) and a retry policy that cannot work', () => {
    expect(
      () => new KaggleCompetitionClient({ baseUrl: 'ftp://x', credentials: { kind: 'token', token: 't' } }),
    ).toThrow(/baseUrl: expected http or https/);
    expect(() => new KaggleCompetitionClient({ baseUrl: 'nope', credentials: { kind: 'token', token: 't' } })).toThrow(
      KaggleConfigError,
    );
    expect(
      () => new KaggleCompetitionClient({ credentials: { kind: 'token', token: 't' }, retry: { maxAttempts: 0 } }),
    ).toThrow(/retry.maxAttempts/);
  });
});
