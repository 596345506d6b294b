// serve's key flags: --api-key KEY (or PENSIEVE_API_KEY) for one key, --api-keys FILE for one
// key per tenant (format in server/api-keys.ts). Read before anything loads, so a bad file
// stops the server before it could start open.

import { readFileSync } from 'node:fs';
import { parseApiKeys, type ApiKey } from '../server/api-keys.js';
import { CliError } from './errors.js';

export interface ServerKeys {
  apiKey?: string;
  apiKeys?: ApiKey[];
}

export function serverKeys(flags: { apiKey?: string; apiKeysFile?: string }, env: NodeJS.ProcessEnv): ServerKeys {
  const apiKey = flags.apiKey ?? env.PENSIEVE_API_KEY;
  if (flags.apiKeysFile === undefined) return apiKey === undefined ? {} : { apiKey };
  if (apiKey !== undefined && apiKey !== '') {
    const other = flags.apiKey === undefined ? 'PENSIEVE_API_KEY' : '--api-key';
    throw new CliError(`--api-keys and ${other} cannot be used together: list that key in the file`);
  }
  let text: string;
  try {
    text = readFileSync(flags.apiKeysFile, 'utf8');
  } catch (err) {
    throw new CliError(`--api-keys ${flags.apiKeysFile}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return { apiKeys: parseApiKeys(text, flags.apiKeysFile) };
  } catch (err) {
    throw new CliError(`--api-keys ${err instanceof Error ? err.message : String(err)}`);
  }
}
