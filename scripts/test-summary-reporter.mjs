/**
 * A node:test reporter that collects what a reader of the run needs at its end: counts of passed,
 * failed and skipped tests (a suite skipped as a whole, e.g. for want of Postgres/Redis, counts as
 * one skipped, with its reason), and the full names of failures with the first lines of their errors
 * (CI keeps only the tail of a run's output, so the reason must be in the summary). It writes one JSON
 * document to its destination; scripts/run-tests.ts prints it after node's own output.
 */
/**
 * @param {AsyncIterable<{ type: string, data: { name: string, nesting: number, file?: string,
 *   skip?: string | boolean, todo?: string | boolean,
 *   details?: { type?: 'suite' | 'test', error?: { failureType?: string, message?: string, cause?: unknown } } } }>} source
 */
export default async function* summaryReporter(source) {
  /** @type {{ passed: number, failed: number, skipped: number, todo: number, failures: { name: string, error: string }[], skips: Record<string, string[]> }} */
  const summary = { passed: 0, failed: 0, skipped: 0, todo: 0, failures: [], skips: {} };
  // The names of the enclosing suites by nesting level. Node reports one file's events in order, so
  // one stack serves all files. (`data.file` names where a test was declared — tests/support/harness.ts
  // for every forEachBackend suite — so names, not files, identify a test.)
  /** @type {string[]} */
  const stack = [];
  /** @param {{ name: string, nesting: number }} data */
  const path = (data) => [...stack.slice(0, data.nesting), data.name].join(' › ');
  for await (const event of source) {
    const { data } = event;
    if (event.type === 'test:start') {
      stack.length = data.nesting;
      stack.push(data.name);
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const suite = data.details?.type === 'suite';
    if (data.skip) {
      summary.skipped += 1;
      const reason = typeof data.skip === 'string' ? data.skip : 'skipped';
      summary.skips[reason] = [...(summary.skips[reason] ?? []), `${path(data)}${suite ? ' (suite)' : ''}`];
    } else if (data.todo) {
      summary.todo += 1;
    } else if (event.type === 'test:fail') {
      // A suite fails when a test in it failed (already counted); only count its own failures (a hook, a throw).
      if (suite && data.details?.error?.failureType === 'subtestsFailed') continue;
      summary.failed += 1;
      summary.failures.push({ name: path(data), error: firstLines(data.details?.error) });
    } else if (!suite) {
      summary.passed += 1;
    }
  }
  yield `${JSON.stringify(summary)}\n`;
}

/** The first lines of a failure's error: node wraps a test's own error in `cause`. */
function firstLines(error) {
  const cause = error?.cause;
  const text =
    cause instanceof Error ? (cause.stack ?? cause.message) : String(cause ?? error?.message ?? 'failed');
  return text.split('\n').slice(0, 12).join('\n');
}
