import * as fs from 'node:fs';
import { DomainError } from '@aevo/contracts';
import { freezeConstitution, type FrozenConstitution } from './constitution';

/**
 * Reads a constitution file read-only (the process never opens it for writing) and freezes it. Every
 * consumer — collector, meta-policy, replay — goes through here, so each sees the bytes the campaign pinned.
 */
/** A constitution is a short document; a larger file is refused unread. */
export const MAX_CONSTITUTION_BYTES = 1024 * 1024;

export function loadConstitutionFile(path: string): FrozenConstitution {
  let fd: number;
  try {
    // Non-blocking open: a FIFO in place of the file must not hang the consumer's event loop.
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw new DomainError(
      'CONSTITUTION_UNREADABLE',
      `cannot read constitution ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      [{ path: 'constitutionPath', message: 'expected a readable file' }],
    );
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile())
      throw new DomainError('CONSTITUTION_UNREADABLE', `constitution ${path} is not a regular file`, [
        { path: 'constitutionPath', message: 'expected a regular file' },
      ]);
    if (st.size > MAX_CONSTITUTION_BYTES)
      throw new DomainError(
        'CONSTITUTION_UNREADABLE',
        `constitution ${path} is larger than ${MAX_CONSTITUTION_BYTES} bytes`,
        [{ path: 'constitutionPath', message: `at most ${MAX_CONSTITUTION_BYTES} bytes` }],
      );
    return freezeConstitution(fs.readFileSync(fd, 'utf8'), path);
  } finally {
    fs.closeSync(fd);
  }
}
