import { Pool } from 'pg';

/** A private score, kept out of every event until the final audit. */
export interface SealedRow {
  campaignId: string;
  submissionId: string;
  board: 'local' | 'kaggle';
  /** null while the board has not revealed it (Kaggle before the competition ends). */
  privateScore: number | null;
  privateDomains: Record<string, number> | null;
}

export interface SealedScoreStore {
  /** Idempotent: sealing the same submission again keeps the first value unless it was null. */
  seal(row: SealedRow): Promise<void>;
  list(campaignId: string): Promise<SealedRow[]>;
  close(): Promise<void>;
}

export const SEALED_SCORES = Symbol('SEALED_SCORES');

const IDENT = /^[a-z_][a-z0-9_]*$/i;

/** The leaderboard's own table `<schema>.leaderboard_sealed_scores`: written only by this service, never relayed. */
export class PgSealedScoreStore implements SealedScoreStore {
  private constructor(
    private readonly pool: Pool,
    private readonly table: string,
  ) {}

  static async open(databaseUrl: string, schema: string): Promise<PgSealedScoreStore> {
    if (!IDENT.test(schema)) throw new Error(`dbSchema: expected an SQL identifier, got ${JSON.stringify(schema)}`);
    const pool = new Pool({ connectionString: databaseUrl, max: 4 });
    // An idle client losing its connection (a PostgreSQL restart) emits 'error' on the pool; unhandled, it would
    // kill the process. The pool drops that client and the next query opens a new connection.
    pool.on('error', () => undefined);
    const table = `"${schema}".leaderboard_sealed_scores`;
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (
        campaign_id text NOT NULL,
        submission_id text NOT NULL,
        board text NOT NULL,
        private_score double precision,
        private_domains jsonb,
        sealed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (campaign_id, submission_id)
      )`);
    } catch (err) {
      // Two replicas may race on CREATE ... IF NOT EXISTS (a unique violation on pg_type); the table exists then.
      if (!/already exists|duplicate key/.test(String(err))) {
        await pool.end();
        throw err;
      }
    }
    return new PgSealedScoreStore(pool, table);
  }

  async seal(row: SealedRow): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.table} (campaign_id, submission_id, board, private_score, private_domains)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (campaign_id, submission_id) DO UPDATE
         SET private_score = COALESCE(${this.table}.private_score, EXCLUDED.private_score),
             private_domains = COALESCE(${this.table}.private_domains, EXCLUDED.private_domains)`,
      [
        row.campaignId,
        row.submissionId,
        row.board,
        row.privateScore,
        row.privateDomains === null ? null : JSON.stringify(row.privateDomains),
      ],
    );
  }

  async list(campaignId: string): Promise<SealedRow[]> {
    const res = await this.pool.query(
      `SELECT submission_id, board, private_score, private_domains FROM ${this.table}
       WHERE campaign_id = $1 ORDER BY submission_id`,
      [campaignId],
    );
    return res.rows.map((r) => ({
      campaignId,
      submissionId: r.submission_id as string,
      board: r.board as 'local' | 'kaggle',
      privateScore: r.private_score === null ? null : Number(r.private_score),
      privateDomains: (r.private_domains as Record<string, number> | null) ?? null,
    }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
