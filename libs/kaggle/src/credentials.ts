import { existsSync, readFileSync, statSync } from 'node:fs';
import { KaggleConfigError } from './errors';

/** Current API tokens are sent as Bearer; legacy username/key pairs as HTTP Basic. */
export type KaggleCredentials = { kind: 'token'; token: string } | { kind: 'basic'; username: string; key: string };

/**
 * Reads credentials the way the Kaggle CLI does: `KAGGLE_API_TOKEN` first (its value, or the contents of the
 * file it names), else the legacy `KAGGLE_USERNAME` + `KAGGLE_KEY` pair.
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): KaggleCredentials {
  const token = env.KAGGLE_API_TOKEN?.trim();
  if (token) {
    if (existsSync(token) && statSync(token).isFile()) {
      const fromFile = readFileSync(token, 'utf8').trim();
      if (!fromFile) throw new KaggleConfigError(`KAGGLE_API_TOKEN names the file ${token}, which is empty`);
      return { kind: 'token', token: fromFile };
    }
    return { kind: 'token', token };
  }
  const username = env.KAGGLE_USERNAME?.trim();
  const key = env.KAGGLE_KEY?.trim();
  if (username && key) return { kind: 'basic', username, key };
  if (username || key)
    throw new KaggleConfigError(
      `legacy Kaggle auth needs both KAGGLE_USERNAME and KAGGLE_KEY (only ` +
        `${username ? 'KAGGLE_USERNAME' : 'KAGGLE_KEY'} is set)`,
    );
  throw new KaggleConfigError('no Kaggle credentials: set KAGGLE_API_TOKEN, or KAGGLE_USERNAME and KAGGLE_KEY');
}

export function authorizationHeader(c: KaggleCredentials): string {
  if (c.kind === 'token') return `Bearer ${c.token}`;
  return `Basic ${Buffer.from(`${c.username}:${c.key}`, 'utf8').toString('base64')}`;
}
