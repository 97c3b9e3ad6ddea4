/**
 * Local runs (dev server, migrate, seed, bench) read `.env.local`, then `.env`, from the project
 * root, as users of `vercel env pull` (which writes `.env.local`) expect. A variable already in the
 * environment wins over both files, and `.env.local` over `.env`: `process.loadEnvFile` never
 * overwrites a variable that is set. On Vercel (builds and functions) the platform sets the
 * environment and no file is read; nor when NO_ENV_FILES is set (tests that start scripts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** Loads the files that exist; returns their names (for a start-up line). */
export function loadEnvFiles(root = projectRoot): string[] {
  if (process.env.VERCEL || process.env.NO_ENV_FILES) return [];
  return ['.env.local', '.env'].filter((name) => {
    const path = join(root, name);
    if (!existsSync(path)) return false;
    process.loadEnvFile(path);
    return true;
  });
}
