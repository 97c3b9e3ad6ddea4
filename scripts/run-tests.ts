/**
 * Runs every tests/**\/*.test.ts file with node's test runner (Node 20's --test does not take globs)
 * and ends with a summary: the names of failed tests, the suites skipped and why (no Postgres or
 * Redis), and the line `N passed, N failed, N skipped`. Node's own report comes first, unchanged
 * (spec on a terminal, TAP otherwise). Arguments are passed to node's runner, e.g.
 * `npm test -- --test-name-pattern=tenants` or `npm run test:only -- tests/http/auth.test.ts`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What scripts/test-summary-reporter.mjs writes. */
interface TestSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly todo: number;
  readonly failures: readonly { readonly name: string; readonly error: string }[];
  readonly skips: Record<string, readonly string[]>;
}

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'support' ? [] : find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Node options that take their value as the next argument (`--test-name-pattern tenants`). */
const TAKES_VALUE = new Set([
  '--test-name-pattern',
  '--test-skip-pattern',
  '--test-concurrency',
  '--test-timeout',
  '--test-shard',
]);
const args = process.argv.slice(2);
const named = args.filter((arg, i) => !arg.startsWith('-') && !TAKES_VALUE.has(args[i - 1] ?? ''));
const files = named.length > 0 ? [] : find('tests').sort();

const dir = mkdtempSync(join(tmpdir(), 'heir-tests-'));
const summaryFile = join(dir, 'summary.json');
const reporter = new URL('./test-summary-reporter.mjs', import.meta.url).href;
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
    '--test-reporter-destination=stdout',
    `--test-reporter=${reporter}`,
    `--test-reporter-destination=${summaryFile}`,
    ...args,
    ...files,
  ],
  { stdio: 'inherit' },
);

let summary: TestSummary | null = null;
try {
  summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as TestSummary;
} catch {
  // The runner died before reporting: its own output above says why.
}
rmSync(dir, { recursive: true, force: true });
if (summary) {
  console.log('\n── test summary ──');
  for (const [reason, names] of Object.entries(summary.skips)) {
    console.log(`skipped (${reason}): ${names.length}`);
    for (const name of names) console.log(`  - ${name}`);
  }
  if (summary.failures.length > 0) {
    console.log(`failed: ${summary.failures.length}`);
    for (const { name, error } of summary.failures) {
      console.log(`  ✗ ${name}`);
      console.log(error.replace(/^/gm, '      '));
    }
  }
  const todo = summary.todo > 0 ? `, ${summary.todo} todo` : '';
  console.log(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped${todo}`);
}
process.exit(result.status ?? 1);
