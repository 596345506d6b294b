// Where tests find the repository and the read-only shared material (../shared).
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SHARED = path.resolve(REPO_ROOT, '..', 'shared');
export const MODELS = path.join(SHARED, 'models');
export const CLI = path.join(REPO_ROOT, 'bin', 'pensieve.js');
