import * as fs from 'node:fs';
import { DomainError } from '@aevo/contracts';
import { freezeConstitution, type FrozenConstitution } from './constitution';

/**
 * Reads a constitution file read-only (the process never opens it for writing) and freezes it. Every
 * consumer — collector, meta-policy, replay — goes through here, so each sees the bytes the campaign pinned.
 */
export function loadConstitutionFile(path: string): FrozenConstitution {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY);
  } catch (err) {
    throw new DomainError('CONSTITUTION_UNREADABLE', `cannot read constitution ${path}: ${(err as Error).message}`, [{ path: 'constitutionPath', message: 'expected a readable file' }]);
  }
  try {
    return freezeConstitution(fs.readFileSync(fd, 'utf8'), path);
  } finally {
    fs.closeSync(fd);
  }
}
