import { ArtefactInputError } from './port';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A sha256 digest as 64 lower-case hex characters (the only form used as an object name). */
export function assertSha256(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || !SHA256_HEX.test(value)) {
    throw new ArtefactInputError(field, 'a sha256 digest of 64 lower-case hex characters', value);
  }
}

/**
 * A path inside a tree: relative, '/'-separated, normalised. Refusing '..', '.', empty segments, backslashes and
 * absolute paths here is what keeps materialise and collect inside their directory.
 */
export function assertRelativePath(value: unknown, field: string): asserts value is string {
  const expected = "a relative path with '/' separators and no '', '.' or '..' segment";
  if (typeof value !== 'string' || value.length === 0) throw new ArtefactInputError(field, expected, value);
  if (value.startsWith('/')) throw new ArtefactInputError(field, `${expected} (absolute paths are refused)`, value);
  if (value.includes('\\') || value.includes('\0')) {
    throw new ArtefactInputError(field, `${expected} (no backslash or NUL)`, value);
  }
  for (const segment of value.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') throw new ArtefactInputError(field, expected, value);
  }
}

export function assertSize(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ArtefactInputError(field, 'a non-negative integer byte count', value);
  }
}

export function assertMode(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0o777) {
    throw new ArtefactInputError(field, 'permission bits between 0 and 0o777', value);
  }
}

/** A mode with no write bit for anyone: the file is frozen (read-only to the job). */
export const isFrozenMode = (mode: number): boolean => (mode & 0o222) === 0;
