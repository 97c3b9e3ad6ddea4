/**
 * `npm run check:vercel`: builds the deployment offline with `vercel build` and checks what Vercel
 * would deploy — at most 12 functions (Hobby), every path of the API reaching a function through the
 * BUILT routes (.vercel/output/config.json) and the same function as local routing
 * (scripts/vercel-local.ts) picks, unknown /v1 and /api paths reaching a function that answers our
 * 404 problem, static pages getting vercel.json's security headers, and nothing but public/ served
 * as static files. Each function must deploy its esbuild bundle (scripts/build-functions.ts) and never
 * PGlite. It prints each function's bundle size and cold start against a bare function's (goal: at most
 * 2×; printed, not enforced, since timing on shared CI cores is noisy), and checks the schema on deploy:
 * with DATABASE_URL set, the build migrates a scratch database made for it on that server (never the
 * one named), leaving every migration applied, and a second `vercel build` changes nothing. Without
 * DATABASE_URL the build must skip migrating with a message. A `.vercel/project.json` it had to make
 * up is removed afterwards, so a later `vercel link` starts clean.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import type { Route } from '@vercel/routing-utils';
import pg from 'pg';
import { createApp } from '../lib/app.js';
import { loadConfig } from '../lib/config.js';
import { allEndpoints } from '../lib/endpoints.js';
import { handleRequest } from '../lib/http/pipeline.js';
import { createScratchDatabase } from '../tests/support/backends.js';
import { bundleName, EMBEDDED_ONLY, FUNCTIONS_DIR, METAFILE, sizeOf } from './build-functions.js';
import {
  applyRoutes,
  createVercelRouter,
  functionExports,
  projectRoot,
  type Resolution,
  staticFile,
} from './vercel-local.js';

const MAX_FUNCTIONS = 12;
const SAMPLE_PARAM = '3f1c2b7e-8d4a-4c1e-9b2f-6a5d4e3c2b1a';
const output = join(projectRoot, '.vercel', 'output');
const failures: string[] = [];

/** A path relative to a folder, with forward slashes. */
const posix = (from: string, file: string) => relative(from, file).split(sep).join('/');

/** Every file under a folder, relative to it. */
function filesUnder(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path, base) : [posix(base, path)];
  });
}

/** The built functions, by the path Vercel serves them at (`/api/v1/core` for api/v1/core.func). */
function builtFunctions(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (!statSync(path).isDirectory()) return [];
    return name.endsWith('.func')
      ? [`/${posix(base, path).replace(/\.func$/, '')}`]
      : builtFunctions(path, base);
  });
}

/** Database variables that must never reach the build but the scratch one (CI exports the machine's). */
const DATABASE_VARIABLES = [
  'DATABASE_URL',
  'DATABASE_URL_UNPOOLED',
  'POSTGRES_URL',
  'POSTGRES_URL_NON_POOLING',
];

function build(databaseUrl: string | null): string {
  const projectJson = join(projectRoot, '.vercel', 'project.json');
  const madeUp = !existsSync(projectJson);
  if (madeUp) {
    mkdirSync(join(projectRoot, '.vercel'), { recursive: true });
    writeFileSync(
      projectJson,
      `${JSON.stringify({ projectId: 'prj_local', orgId: 'team_local', settings: { framework: null } })}\n`,
    );
  }
  rmSync(output, { recursive: true, force: true }); // no function left over from a file since removed
  const env = { ...process.env };
  for (const name of DATABASE_VARIABLES) delete env[name];
  const result = spawnSync(join(projectRoot, 'node_modules', '.bin', 'vercel'), ['build', '--yes'], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: {
      ...env,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      CI: '1',
      VERCEL_TELEMETRY_DISABLED: '1',
      NO_UPDATE_NOTIFIER: '1',
      FORCE_COLOR: '0',
      // Dependencies are installed already (npm ci): without this @vercel/node runs `npm install`.
      VERCEL_INSTALL_COMPLETED: '1',
    },
  });
  if (madeUp) rmSync(projectJson, { force: true });
  const log = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0 || !existsSync(join(output, 'config.json'))) {
    console.error(log || String(result.error));
    console.error(`check:vercel: FAILED — vercel build exited with ${result.status ?? result.signal}`);
    process.exit(1);
  }
  writeFileSync(join(projectRoot, '.vercel', 'build.log'), log);
  return log;
}

/** The URLs a client may use for an endpoint: /v1/… and /api/v1/… (or the /api/…, /.well-known/… path), with and without a trailing slash. */
function urlsFor(path: string): string[] {
  const concrete = path.replace(/\{\w+\}/g, SAMPLE_PARAM);
  const v1 = concrete.replace(/^\/api(?=\/v1\/)/, '');
  const forms = v1.startsWith('/v1/') ? [v1, `/api${v1}`] : [concrete];
  return forms.flatMap((form) => [form, `${form}/`]);
}

// The schema on deploy: a scratch database on DATABASE_URL's server, for the build to migrate.
const serverUrl = process.env.DATABASE_URL ?? null;
const scratch = serverUrl ? await createScratchDatabase(serverUrl) : null;
try {
  await checkSchemaOnDeploy(scratch?.url ?? null);
} finally {
  await scratch?.drop();
}

// (a) The Hobby plan's cap on functions.
const functions = builtFunctions(join(output, 'functions'));
if (functions.length > MAX_FUNCTIONS) {
  failures.push(
    `${functions.length} functions built, more than the ${MAX_FUNCTIONS} a Hobby deployment allows: ${functions.join(', ')}`,
  );
}

// (b) Every path of the API reaches, through the built routes, the function local routing picks,
// and that function's route table serves the endpoint. Targets read `function api/v1/core`.
const NOTHING = 'nothing (404)';
const { routes } = JSON.parse(readFileSync(join(output, 'config.json'), 'utf8')) as { routes: Route[] };
const staticDir = join(output, 'static');
const builtLookup = (pathname: string) => {
  if (functions.includes(pathname)) return `function ${pathname.slice(1)}`;
  const file = staticFile(staticDir, pathname);
  return file ? `static ${posix(staticDir, file)}` : null;
};
function localTarget(resolution: Resolution): string {
  if (resolution.kind === 'none') return NOTHING;
  if (resolution.kind === 'static') return `static ${posix(join(projectRoot, 'public'), resolution.file)}`;
  return `function ${posix(projectRoot, resolution.file).replace(/\.(ts|js|mjs)$/, '')}`;
}

const local = createVercelRouter();
let pathsChecked = 0;
for (const endpoint of allEndpoints()) {
  for (const path of urlsFor(endpoint.path)) {
    pathsChecked++;
    const what = `${endpoint.method} ${path}`;
    const url = new URL(path, 'https://heir.test');
    const built = applyRoutes(routes, url.pathname, builtLookup).found ?? NOTHING;
    const resolved = local.resolve(url);
    if (!built.startsWith('function ')) {
      failures.push(`${what}: reaches ${built} in the built routes, not a function`);
    } else if (built !== localTarget(resolved)) {
      failures.push(`${what}: built routing reaches ${built}, local routing ${localTarget(resolved)}`);
    } else if (resolved.kind === 'function') {
      const { router } = await functionExports(resolved.file);
      const match = router.match(endpoint.method, resolved.url.pathname);
      if (match.kind !== 'found')
        failures.push(`${what}: reaches ${built}, whose route table does not serve it`);
    }
  }
}

// (b2) Unknown paths under /v1 and /api reach a function through the built routes (the same one
// local routing picks), and that function answers them with our 404 problem, not Vercel's page.
const app = await createApp(
  loadConfig({ ADMIN_KEY: `adm_${'x'.repeat(40)}`, DATA_DIR: 'memory', LOG_LEVEL: 'silent' }),
);
const UNKNOWN = ['/v1/nope', '/api/nope', '/api/v1/nope', '/v1/tenants-nope/x', '/v1', '/api', '/API/NOPE'];
for (const path of UNKNOWN) {
  pathsChecked++;
  const url = new URL(path, 'https://heir.test');
  const built = applyRoutes(routes, url.pathname, builtLookup).found ?? NOTHING;
  const resolved = local.resolve(url);
  if (!built.startsWith('function ')) {
    failures.push(`unknown ${path}: reaches ${built} in the built routes, not a function`);
    continue;
  }
  if (built !== localTarget(resolved) || resolved.kind !== 'function') {
    failures.push(`unknown ${path}: built routing reaches ${built}, local routing ${localTarget(resolved)}`);
    continue;
  }
  const { router } = await functionExports(resolved.file);
  const response = await handleRequest(app, router, new Request(resolved.url));
  const body = (await response.json().catch(() => null)) as { code?: string } | null;
  if (
    response.status !== 404 ||
    response.headers.get('content-type') !== 'application/problem+json' ||
    body?.code !== 'not_found' ||
    !response.headers.get('x-request-id')
  ) {
    failures.push(
      `unknown ${path}: ${built} answers ${response.status} ${JSON.stringify(body)}, not the 404 problem`,
    );
  }
}
await app.close();

// (b3) The built routes give static pages vercel.json's security headers.
for (const path of ['/', '/docs/errors', '/portal', '/portal/', '/reset-password', '/app/portal.js']) {
  const { found, headers } = applyRoutes(routes, path, builtLookup);
  if (!found?.startsWith('static ')) failures.push(`${path}: reaches ${found ?? NOTHING}, not a static page`);
  const csp = headers['content-security-policy'] ?? '';
  if (!/default-src 'self'/.test(csp) || !/frame-ancestors 'none'/.test(csp) || /unsafe-inline/.test(csp))
    failures.push(`${path}: built routes give no strict Content-Security-Policy (${csp || 'none'})`);
  if (headers['x-frame-options'] !== 'DENY' || headers['x-content-type-options'] !== 'nosniff')
    failures.push(`${path}: built routes miss X-Frame-Options: DENY or nosniff`);
}

// (c) Static files: only public/'s, and never source, SQL or environment files.
const published = new Set(filesUnder(join(projectRoot, 'public')));
const served = filesUnder(staticDir);
for (const file of served) {
  if (/\.(ts|mts|cts|sql)$|(^|\/)\.env(\.|$)/.test(file))
    failures.push(`static/${file}: source, SQL or .env files must never be served`);
  else if (!published.has(file)) failures.push(`static/${file} is served but is not in public/`);
}

// (d) Each function deploys its bundle, and no function carries PGlite: neither its files nor, bundled
// in, its code (esbuild's metafile names every source file of every output file).
const bundled = JSON.parse(readFileSync(join(FUNCTIONS_DIR, METAFILE), 'utf8')) as {
  outputs: Record<string, { inputs: Record<string, unknown> }>;
};
const embeddedOnly = (path: string) => EMBEDDED_ONLY.some((name) => path.includes(`node_modules/${name}/`));
for (const name of functions) {
  const dir = join(output, 'functions', `${name.slice(1)}.func`);
  const files = filesUnder(dir);
  const entry = `dist/functions/${bundleName(`${name.slice(1)}.js`)}.mjs`;
  if (!files.includes(entry)) failures.push(`${name.slice(1)}: deploys no bundle (${entry} is missing)`);
  const carried = files.filter(embeddedOnly);
  if (carried.length > 0)
    failures.push(
      `${name.slice(1)}: carries ${carried.length} files of PGlite (${carried.slice(0, 3).join(', ')} …)`,
    );
  for (const file of files.filter((path) => path.startsWith('dist/functions/'))) {
    const inputs = Object.keys(bundled.outputs[file]?.inputs ?? {}).filter(embeddedOnly);
    if (inputs.length > 0) failures.push(`${name.slice(1)}: ${file} bundles ${inputs.join(', ')}`);
  }
}

if (failures.length > 0) {
  console.error(`check:vercel: FAILED (${failures.length})`);
  for (const failure of failures) console.error(`  - ${failure}`);
  process.exit(1);
}
console.log(
  `check:vercel: ${functions.length} functions (max ${MAX_FUNCTIONS}): ${functions.map((f) => f.slice(1)).join(', ')}`,
);
console.log(
  `check:vercel: ${pathsChecked} paths of ${allEndpoints().length} endpoints reach the same function in built and local routing`,
);
console.log(
  `check:vercel: ${UNKNOWN.length} unknown /v1 and /api paths answer the 404 problem from a function`,
);
console.log(`check:vercel: ${served.length} static files, all from public/, with the security headers`);
console.log('check:vercel: each function deploys its bundle (dist/functions), none carries PGlite');
reportFunctionWeight(functions);
console.log('check:vercel: OK');

/**
 * Builds the deployment. With a database: the build applied every migration to it, and a second
 * `vercel build` (as the next build of the branch would run) applies nothing and changes no table.
 * Without: the build said it skipped. Failures are collected like the others.
 */
async function checkSchemaOnDeploy(databaseUrl: string | null): Promise<void> {
  const log = build(databaseUrl);
  const migrations = readdirSync(join(projectRoot, 'migrations')).filter((file) => file.endsWith('.sql'));
  if (!databaseUrl) {
    if (!/no DATABASE_URL .*skipping/.test(log))
      failures.push('a build without DATABASE_URL did not say it skipped migrating');
    else console.log('check:vercel: a build without DATABASE_URL skips migrating, with a message');
    return;
  }
  const snapshot = async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const ledger = await client.query<{ name: string }>('select name from kysely_migration order by name');
      const columns = await client.query<{ c: string }>(
        "select count(*)::text as c from information_schema.columns where table_schema = 'public'",
      );
      return { ledger: ledger.rows.map((row) => row.name), columns: columns.rows[0]?.c ?? '0' };
    } catch (error) {
      return { ledger: [], columns: `unreadable: ${String(error)}` };
    } finally {
      await client.end();
    }
  };
  const first = await snapshot();
  if (first.ledger.length !== migrations.length) {
    failures.push(
      `vercel build applied ${first.ledger.length} of ${migrations.length} migrations to its database`,
    );
    return;
  }
  const again = build(databaseUrl);
  const second = await snapshot();
  if (!/already up to date/.test(again)) {
    failures.push(`a second vercel build did not find the database up to date:\n${again}`);
  } else if (JSON.stringify(second) !== JSON.stringify(first)) {
    failures.push('a second vercel build changed the database');
  } else {
    console.log(
      `check:vercel: vercel build migrated its own (scratch) database: ${migrations.length} migrations, ${first.columns} columns; a second vercel build changed nothing`,
    );
  }
}

/**
 * Bundle size per function, and its cold start against a bare function's: a fresh Node process that
 * imports the function's handler from its .func folder (as Vercel's launcher does on a new instance)
 * and exits. The rounds interleave the bare function and ours, so a busy machine slows all alike;
 * medians of ROUNDS, in wall time (process start + import) and CPU time. The goal counts as met when
 * both ratios are at most 2: on a busy machine waiting for a core inflates the bare start's wall time
 * most and flatters the wall ratio, while the CPU ratio stays close to a quiet machine's wall ratio.
 * The goal is printed, not enforced (timing on shared CI cores is noisy).
 *
 * A function loads node:https (and TLS) when it makes its Upstash client, on its first request rather
 * than at import (docs/decisions/0038); on Vercel, where Upstash is required, every first request does.
 * So each function is also timed importing its handler and then node:https, and the goal is judged on
 * that figure, which no deferral into the first request can flatter.
 */
function reportFunctionWeight(built: readonly string[]): void {
  const ROUNDS = 9;
  const bareDir = mkdtempSync(join(tmpdir(), 'heir-bare-'));
  const bare = join(bareDir, 'bare.mjs');
  writeFileSync(bare, "export function GET() { return new Response('ok'); }\n");
  const handlers = built.map((name) => {
    const dir = join(output, 'functions', `${name.slice(1)}.func`);
    const config = JSON.parse(readFileSync(join(dir, '.vc-config.json'), 'utf8')) as { handler: string };
    const bundle = filesUnder(dir).filter((file) => file.startsWith('dist/functions/'));
    return { name: name.slice(1), dir, file: join(dir, config.handler), bundle };
  });
  const FIRST_REQUEST = '+https';
  const candidates = [
    { name: 'bare', dir: bareDir, file: bare, also: '' },
    ...handlers.flatMap((handler) => [
      { ...handler, also: '' },
      { ...handler, name: `${handler.name}${FIRST_REQUEST}`, also: "await import('node:https');" },
    ]),
  ];
  const runs = new Map(candidates.map((c) => [c.name, { wall: [] as number[], cpu: [] as number[] }]));
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const candidate of candidates) {
        const started = performance.now();
        const result = spawnSync(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `await import(process.argv[1]); ${candidate.also} const { user, system } = process.cpuUsage(); console.log((user + system) / 1000);`,
            candidate.file,
          ],
          { cwd: candidate.dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
        );
        const wall = performance.now() - started;
        if (result.status !== 0) {
          failures.push(`importing ${candidate.name} in a fresh process failed: ${result.stderr}`);
          return;
        }
        runs.get(candidate.name)?.wall.push(wall);
        runs.get(candidate.name)?.cpu.push(Number(result.stdout.trim()));
      }
    }
  } finally {
    rmSync(bareDir, { recursive: true, force: true });
  }
  const median = (values: number[] = []) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const baseline = { wall: median(runs.get('bare')?.wall), cpu: median(runs.get('bare')?.cpu) };
  console.log(
    `check:vercel: a bare function starts in ${baseline.wall.toFixed(0)} ms (${baseline.cpu.toFixed(0)} ms CPU), median of ${ROUNDS} fresh processes; goal for ours: at most 2×`,
  );
  let met = true;
  for (const handler of handlers) {
    const figure = (name: string) => {
      const wall = median(runs.get(name)?.wall);
      const cpu = median(runs.get(name)?.cpu);
      return {
        ratios: [wall / baseline.wall, cpu / baseline.cpu],
        text: `${wall.toFixed(0)} ms = ${(wall / baseline.wall).toFixed(1)}× bare (CPU ${cpu.toFixed(0)} ms = ${(cpu / baseline.cpu).toFixed(1)}×)`,
      };
    };
    const imported = figure(handler.name);
    const withHttps = figure(`${handler.name}${FIRST_REQUEST}`);
    met &&= withHttps.ratios.every((ratio) => ratio <= 2);
    const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    const bundleBytes = handler.bundle.reduce(
      (total, file) => total + statSync(join(handler.dir, file)).size,
      0,
    );
    console.log(
      `check:vercel: ${handler.name}: bundle ${mb(sizeOf(handler.dir))} MB (${mb(bundleBytes)} MB of it dist/functions), cold start ${imported.text}; with node:https, as every first request on Vercel loads it: ${withHttps.text}`,
    );
  }
  console.log(
    `check:vercel: cold start goal (at most 2× a bare function, node:https included) ${met ? 'met' : 'not met'}`,
  );
}
