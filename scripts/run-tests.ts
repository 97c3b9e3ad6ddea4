/**
 * Runs every tests/**\/*.test.ts file with node's test runner (Node 20's --test does not take globs).
 * Extra arguments are passed through, e.g. `npm test -- --test-name-pattern=tenants`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'support' ? [] : find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const args = process.argv.slice(2);
const files = args.some((arg) => !arg.startsWith('-')) ? [] : find('tests').sort();
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', ...args, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
