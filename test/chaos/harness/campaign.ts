import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { StartCampaign, type CampaignConfig } from '@aevo/contracts';
import { CommandClient } from '@aevo/messaging';
import type { OwnNats, OwnPostgres } from './own-infra';
import { freePort } from './own-infra';
import { killProcessesMentioning, REPO_ROOT, SERVICES, Supervisor, type Service } from './supervisor';
import { recordRun, type RunRecord } from './verdict';
import { snapshotRuntime } from './runtime';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The suite's fixed inputs, copied once so that every run reads the same bytes whatever changes in the tree. */
export interface SuiteInputs {
  dir: string;
  /** Frozen copy of the built services the runs start (see snapshotRuntime). */
  runtimeRoot: string;
  substrateDir: string;
  constitutionPath: string;
}

export function prepareInputs(dir: string): SuiteInputs {
  const substrateDir = path.join(dir, 'substrate-simulated');
  fs.cpSync(path.join(REPO_ROOT, 'substrate', 'simulated'), substrateDir, {
    recursive: true,
    filter: (src) => !/(^|\/)(node_modules|__pycache__|\.git)(\/|$)/.test(src),
  });
  const constitutionPath = path.join(dir, 'constitution.yaml');
  fs.copyFileSync(path.join(REPO_ROOT, 'deploy', 'constitutions', 'default.yaml'), constitutionPath);
  return { dir, runtimeRoot: snapshotRuntime(dir), substrateDir, constitutionPath };
}

export const CAMPAIGN_ID = 'chaos';

/** The campaign every run starts: small enough for the suite to fit CI, with every service at work each round. */
export function campaignConfig(inputs: SuiteInputs, seed: number): CampaignConfig {
  return {
    campaignId: CAMPAIGN_ID,
    name: 'chaos suite',
    substratePath: inputs.substrateDir,
    constitutionPath: inputs.constitutionPath,
    size: 'tiny',
    rounds: 3,
    workersPerRound: 4,
    axes: ['learning-rate', 'schedule', 'data-mix'],
    anchorSeeds: 1,
    seed,
    workerKind: 'heuristic',
    metaKind: 'rules',
    leaderboard: 'local',
    executor: 'local',
    roundStart: 'auto',
    budgets: { gpuSeconds: 1_000_000, llmTokens: 0, submissionsPerRound: 2 },
  };
}

/**
 * One campaign run on the shared private infrastructure: its own schema, stream, subject prefix, home and
 * service processes; the same campaign id and seed as every other run, so their logs compare.
 */
export class CampaignRun {
  readonly schema: string;
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly home: string;
  readonly logDir: string;
  supervisor!: Supervisor;
  apiPort = 0;
  completedAt: number | null = null;

  constructor(
    readonly name: string,
    readonly pg: OwnPostgres,
    readonly nats: OwnNats,
    readonly inputs: SuiteInputs,
    readonly seed: number,
    readonly extraEnv: NodeJS.ProcessEnv = {},
  ) {
    const slug = name.replace(/[^a-z0-9]+/gi, '_').toLowerCase();
    this.schema = `chaos_${slug}`.slice(0, 40);
    this.stream = `CHAOS_${slug.toUpperCase()}`;
    this.subjectPrefix = `chaos_${slug}.aevo`;
    this.home = path.join(inputs.dir, 'runs', slug, 'home');
    this.logDir = path.join(inputs.dir, 'runs', slug, 'logs');
  }

  get db() {
    return { url: this.pg.url, schema: this.schema };
  }

  env(): NodeJS.ProcessEnv {
    return {
      AEVO_DATABASE_URL: this.pg.url,
      AEVO_DB_SCHEMA: this.schema,
      AEVO_NATS_URL: this.nats.url,
      AEVO_NATS_CREDENTIALS_DIR: this.nats.credentialsDir,
      AEVO_SUBJECT_PREFIX: this.subjectPrefix,
      AEVO_STREAM: this.stream,
      AEVO_HOME: this.home,
      // Paths in the campaign are absolute; relative ones would resolve in the suite's directory, never the tree.
      AEVO_ROOT: this.inputs.dir,
      AEVO_SUBSTRATE_ROOT: this.inputs.dir,
      AEVO_CONSTITUTIONS_ROOT: this.inputs.dir,
      AEVO_SIZE: 'tiny',
      AEVO_EXECUTOR: 'local',
      AEVO_LOCAL_SLOTS: '4',
      // CPU-slot time would be charged as wall-clock GPU-seconds (manifest cost, evidence budget section, and so the
      // evidence hash): measured time differs between any two runs, so the comparison charges CPU slots nothing.
      AEVO_CPU_SLOT_WEIGHT: '0',
      AEVO_WORKER_JOBS: 'events',
      AEVO_WORKER_CONCURRENCY: '4',
      // A fixed secret: the hidden leaderboard split (and so every score) is the same in every run.
      AEVO_LEADERBOARD_SECRET: 'chaos-suite-leaderboard-secret',
      AEVO_COLLECTOR_PROSE: 'off',
      AEVO_ORCHESTRATOR_TICK_MS: '2000',
      AEVO_COLLECTOR_TICK_MS: '2000',
      AEVO_API_HOST: '127.0.0.1',
      AEVO_API_PORT: String(this.apiPort),
      ANTHROPIC_API_KEY: '',
      NO_COLOR: '1',
      ...this.extraEnv,
    };
  }

  /** Creates the schema, starts every service, waits until they take work. */
  async start(services: readonly Service[] = SERVICES): Promise<void> {
    fs.mkdirSync(this.home, { recursive: true });
    this.apiPort = await freePort();
    const c = new Client({ connectionString: this.pg.url });
    await c.connect();
    try {
      await c.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
      await c.query(`CREATE SCHEMA "${this.schema}"`);
    } finally {
      await c.end();
    }
    await this.nats.authorize(this.subjectPrefix, this.stream);
    this.supervisor = new Supervisor(this.env(), this.logDir, services, this.inputs.runtimeRoot);
    this.supervisor.startAll();
    await this.supervisor.waitReady(services, 240_000);
  }

  /** StartCampaign, retried with the same command id while the transport answers TIMEOUT / NO_RESPONDERS. */
  async startCampaign(): Promise<void> {
    const client = await CommandClient.connect({
      natsUrl: this.nats.url,
      subjectPrefix: this.subjectPrefix,
      timeoutMs: 30_000,
      natsAuth: this.nats.harnessAuth,
    });
    try {
      const commandId = `chaos-start-${this.name}`;
      for (let attempt = 1; ; attempt++) {
        const reply = await client.send(StartCampaign, campaignConfig(this.inputs, this.seed), { commandId });
        if (reply.ok) return;
        if (attempt >= 5 || !['TIMEOUT', 'NO_RESPONDERS'].includes(reply.error.code))
          throw new Error(`StartCampaign refused: ${JSON.stringify(reply.error)}`);
        await sleep(2000);
      }
    } finally {
      await client.close();
    }
  }

  /** Event types in the live log (polled with short connections: the server may be restarting). */
  async countOf(type: string): Promise<number | null> {
    const c = new Client({ connectionString: this.pg.url, connectionTimeoutMillis: 3000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (
        await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${this.schema}".events WHERE type = $1`, [type])
      ).rows[0].n;
    } catch {
      return null;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async progress(): Promise<string> {
    const c = new Client({ connectionString: this.pg.url, connectionTimeoutMillis: 3000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const rows = (
        await c.query<{ type: string; n: number }>(
          `SELECT type, count(*)::int AS n FROM "${this.schema}".events GROUP BY type ORDER BY type`,
        )
      ).rows;
      return rows.map((r) => `${r.type}=${r.n}`).join(' ');
    } catch (err) {
      return `(log unreadable: ${String(err)})`;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** Waits for CampaignCompleted; the error carries the log's progress and the services' news. */
  async waitCompleted(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (((await this.countOf('CampaignCompleted')) ?? 0) > 0) {
        this.completedAt = Date.now();
        return;
      }
      await sleep(500);
    }
    throw new Error(
      `${this.name}: no CampaignCompleted within ${timeoutMs} ms. Log: ${await this.progress()}. Logs in ` +
        `${this.logDir}`,
    );
  }

  /**
   * Lets the relay publish the tail of the log (the stream catches up with the store), then records the run.
   * Waits until the stream's message count stops short of the store no more, within a deadline.
   */
  async settleAndRecord(timeoutMs = 60_000): Promise<RunRecord> {
    const deadline = Date.now() + timeoutMs;
    const nc = await connect({ servers: this.nats.url, timeout: 10_000, ...this.nats.harnessAuth });
    try {
      const jsm = await jetstreamManager(nc);
      let stable = 0;
      let last = -1;
      while (Date.now() < deadline) {
        const head = await this.headPosition();
        const msgs = (await jsm.streams.info(this.stream)).state.messages;
        if (head !== null && msgs >= head && msgs === last) stable++;
        else stable = 0;
        last = msgs;
        // Two quiet polls in a row with the stream caught up: nothing is still in flight.
        if (stable >= 2) break;
        await sleep(1000);
      }
    } finally {
      await nc.close();
    }
    return recordRun({
      databaseUrl: this.pg.url,
      schema: this.schema,
      natsUrl: this.nats.url,
      natsAuth: this.nats.harnessAuth,
      stream: this.stream,
    });
  }

  private async headPosition(): Promise<number | null> {
    const c = new Client({ connectionString: this.pg.url, connectionTimeoutMillis: 3000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${this.schema}".events`)).rows[0].n;
    } catch {
      return null;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** Stops every service, kills jobs left behind, drops the run's stream; keeps the schema and logs for inspection. */
  async stop(): Promise<void> {
    await this.supervisor?.stopAll();
    await killProcessesMentioning(this.home);
    const nc = await connect({ servers: this.nats.url, timeout: 5000, ...this.nats.harnessAuth }).catch(() => null);
    if (nc) {
      await (await jetstreamManager(nc)).streams.delete(this.stream).catch(() => undefined);
      await nc.close();
    }
  }
}
