/**
 * `npm run check:vercel`: builds the deployment offline with `vercel build` and checks what Vercel
 * would deploy — at most 12 functions (Hobby), every path of the API reaching a function through the
 * BUILT routes (.vercel/output/config.json) and the same function as local routing
 * (scripts/vercel-local.ts) picks, unknown /v1 and /api paths reaching a function that answers our
 * 404 problem, static pages getting vercel.json's security headers, and nothing but public/ served
 * as static files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Route } from '@vercel/routing-utils';
import { createApp } from '../lib/app.js';
import { loadConfig } from '../lib/config.js';
import { allEndpoints } from '../lib/endpoints.js';
import { handleRequest } from '../lib/http/pipeline.js';
import type { Router } from '../lib/http/router.js';
import { applyRoutes, createVercelRouter, projectRoot, type Resolution, staticFile } from './vercel-local.js';

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

function build(): void {
  const projectJson = join(projectRoot, '.vercel', 'project.json');
  if (!existsSync(projectJson)) {
    mkdirSync(join(projectRoot, '.vercel'), { recursive: true });
    writeFileSync(
      projectJson,
      `${JSON.stringify({ projectId: 'prj_local', orgId: 'team_local', settings: { framework: null } })}\n`,
    );
  }
  rmSync(output, { recursive: true, force: true }); // no function left over from a file since removed
  const result = spawnSync(join(projectRoot, 'node_modules', '.bin', 'vercel'), ['build', '--yes'], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: {
      ...process.env,
      CI: '1',
      VERCEL_TELEMETRY_DISABLED: '1',
      NO_UPDATE_NOTIFIER: '1',
      FORCE_COLOR: '0',
      // Dependencies are installed already (npm ci): without this @vercel/node runs `npm install`.
      VERCEL_INSTALL_COMPLETED: '1',
    },
  });
  const log = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0 || !existsSync(join(output, 'config.json'))) {
    console.error(log || String(result.error));
    console.error(`check:vercel: FAILED — vercel build exited with ${result.status ?? result.signal}`);
    process.exit(1);
  }
  writeFileSync(join(projectRoot, '.vercel', 'build.log'), log);
}

/** The URLs a client may use for an endpoint: /v1/… and /api/v1/… (or the /api/…, /.well-known/… path), with and without a trailing slash. */
function urlsFor(path: string): string[] {
  const concrete = path.replace(/\{\w+\}/g, SAMPLE_PARAM);
  const v1 = concrete.replace(/^\/api(?=\/v1\/)/, '');
  const forms = v1.startsWith('/v1/') ? [v1, `/api${v1}`] : [concrete];
  return forms.flatMap((form) => [form, `${form}/`]);
}

build();

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
const routers = new Map<string, Promise<{ router: Router }>>();
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
      if (!routers.has(resolved.file)) routers.set(resolved.file, import(resolved.file));
      const { router } = await (routers.get(resolved.file) as Promise<{ router: Router }>);
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
  const { router } = (await import(resolved.file)) as { router: Router };
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
for (const path of ['/', '/docs/errors']) {
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
console.log('check:vercel: OK');
