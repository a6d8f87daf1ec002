import * as YAML from 'yaml';
import { Constitution, DomainError, sha256Hex, zodIssues } from '@aevo/contracts';

/**
 * A constitution as the meta-policy holds it: the exact bytes it was read from, their sha256 (what
 * CampaignStarted pins), and the parsed document, deep-frozen so no code path can edit it in memory.
 */
export interface FrozenConstitution {
  readonly source: string;
  readonly sha256: string;
  readonly constitution: Readonly<Constitution>;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/** The pinned hash of a constitution file: sha256 of its bytes (what `sha256sum` prints). */
export const constitutionSha256 = (source: string): string => sha256Hex(Buffer.from(source, 'utf8'));

/** Parses constitution YAML; a bad document is refused naming each field. */
export function parseConstitution(source: string, origin = 'constitution'): Constitution {
  let doc: unknown;
  try {
    doc = YAML.parse(source);
  } catch (err) {
    throw new DomainError('INVALID_CONSTITUTION', `${origin} is not valid YAML: ${(err as Error).message}`, [
      { path: '(root)', message: 'expected YAML' },
    ]);
  }
  const r = Constitution.safeParse(doc);
  if (!r.success)
    throw new DomainError(
      'INVALID_CONSTITUTION',
      `${origin} does not match the Constitution schema`,
      zodIssues(r.error),
    );
  return r.data;
}

export function freezeConstitution(source: string, origin?: string): FrozenConstitution {
  return deepFreeze({ source, sha256: constitutionSha256(source), constitution: parseConstitution(source, origin) });
}

/**
 * Checks a held constitution against the hash pinned at campaign start: the bytes must hash to the pin and the
 * parsed document must still be what those bytes say. Returns why not, or null when it holds.
 */
export function pinnedMismatch(frozen: FrozenConstitution, pinnedSha256: string): string | null {
  const actual = constitutionSha256(frozen.source);
  if (actual !== pinnedSha256) return `constitution bytes hash to ${actual}, but the campaign pinned ${pinnedSha256}`;
  if (frozen.sha256 !== actual)
    return `held constitution claims hash ${frozen.sha256}, but its bytes hash to ${actual}`;
  const reparsed = parseConstitution(frozen.source);
  if (JSON.stringify(reparsed) !== JSON.stringify(frozen.constitution))
    return 'held constitution document differs from its pinned bytes';
  return null;
}
