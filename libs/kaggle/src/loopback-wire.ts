import type { IncomingMessage, ServerResponse } from 'node:http';

/** The loopback server's wire format: request fields as kagglesdk declares them, proto3 JSON answers. */

export type FieldType = 'string' | 'int' | 'bool' | { enum: readonly string[] };

/**
 * The routed methods and their request fields, written out from kagglesdk's CompetitionApiClient and the Api*Request
 * `_fields` lists (kagglesdk/competitions/types/competition_api_service.py) rather than taken from the client's
 * `Methods`, so a wrong name in the client cannot make this server agree with it.
 */
export const REQUEST_FIELDS: Record<string, Record<string, FieldType>> = {
  StartSubmissionUpload: {
    competitionName: 'string',
    contentLength: 'int',
    lastModifiedEpochSeconds: 'int',
    fileName: 'string',
  },
  CreateSubmission: {
    competitionName: 'string',
    blobFileTokens: 'string',
    submissionDescription: 'string',
    benchmarkModelVersionId: 'int',
  },
  GetSubmission: { ref: 'int' },
  ListSubmissions: {
    competitionName: 'string',
    sortBy: {
      enum: [
        'SUBMISSION_SORT_BY_DATE',
        'SUBMISSION_SORT_BY_NAME',
        'SUBMISSION_SORT_BY_PRIVATE_SCORE',
        'SUBMISSION_SORT_BY_PUBLIC_SCORE',
      ],
    },
    group: { enum: ['SUBMISSION_GROUP_ALL', 'SUBMISSION_GROUP_SUCCESSFUL', 'SUBMISSION_GROUP_SELECTED'] },
    page: 'int',
    pageToken: 'string',
    pageSize: 'int',
  },
  GetLeaderboard: { competitionName: 'string', overridePublic: 'bool', pageSize: 'int', pageToken: 'string' },
  GetCompetition: { competitionName: 'string' },
  // Not in the stored kagglesdk (0.1.15); added in 0.1.35 as ApiGetSubmissionLimitsRequest{competitionName}.
  GetSubmissionLimits: { competitionName: 'string' },
};

export const BAD_REQUEST = 'Bad Request';
/** The service's full name as kagglesdk puts it in the URL (kaggle_http_client.py, _get_request_url). */
export const SERVICE = 'competitions.CompetitionApiService';

/** Like a protobuf JSON parser: unknown names and wrongly typed values are refused, naming the field. */
export function checkFields(body: unknown, fields: Record<string, FieldType>): string | null {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return 'Invalid JSON payload received. Expected an object.';
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const type = fields[k];
    if (!type) return `Invalid JSON payload received. Unknown name "${k}": Cannot find field.`;
    if (v === null) continue;
    const ok =
      type === 'string'
        ? typeof v === 'string'
        : type === 'int'
          ? (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v))
          : type === 'bool'
            ? typeof v === 'boolean'
            : typeof v === 'string' && type.enum.includes(v);
    if (!ok) return `Invalid value at '${k}' (${typeof type === 'string' ? type : 'enum'}), ${JSON.stringify(v)}`;
  }
  return null;
}

/** Leaves out what proto3 JSON leaves out: empty strings, 0, false, empty lists, undefined. */
export function omitDefaults(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).filter(
      ([, v]) => v !== undefined && v !== '' && v !== 0 && v !== false && !(Array.isArray(v) && v.length === 0),
    ),
  );
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res
    .writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers })
    .end(text);
}
