/**
 * Vercel's routing, locally: the routes are compiled from vercel.json by Vercel's own compiler
 * (@vercel/routing-utils) and applied in Vercel's order — the filesystem (functions under api/ and
 * static files under public/) first, then the rewrites, each rewrite checking the filesystem again.
 * As on Vercel, a function receives the URL the client asked for, with the parameters a rewrite
 * names appended to its query. Used by the dev server and by every HTTP test; `npm run check:vercel`
 * applies the same `applyRoutes` to what `vercel build` produced and compares the two.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getTransformedRoutes, type Route } from '@vercel/routing-utils';
import type { Mounted } from '../lib/http/mount.js';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** Where a request goes, and the headers vercel.json's `headers` add to whatever answers it. */
export type Resolution = (
  | { readonly kind: 'function'; readonly file: string; readonly url: URL }
  | { readonly kind: 'static'; readonly file: string }
  | { readonly kind: 'none' }
) & { readonly headers: Readonly<Record<string, string>> };

/** Files under api/ that Vercel deploys as functions: not prefixed with `_`, TypeScript or JavaScript. */
export function functionFiles(root = projectRoot): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name.startsWith('_') || name.startsWith('.')) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) {
        const route = `/${relative(root, path).split(sep).join('/')}`
          .replace(/\.(ts|js|mjs)$/, '')
          .replace(/\/index$/, '');
        found.set(route, path);
      }
    }
  };
  walk(join(root, 'api'));
  return found;
}

/**
 * What a function file under api/ exports, from the sources. The file itself re-exports its bundle, a
 * build output (scripts/build-functions.ts); the bundle's entry is the same `mountFunction`, so the dev
 * server, the tests and check:vercel run that function's code as written. Imported when first needed:
 * the dev server reads its .env files before anything of lib/ loads.
 */
export async function functionExports(file: string): Promise<Mounted> {
  const { mountFunction } = await import('../lib/functions.js');
  return mountFunction(relative(projectRoot, file).split(sep).join('/'));
}

export function compiledRoutes(root = projectRoot): Route[] {
  const config = JSON.parse(readFileSync(join(root, 'vercel.json'), 'utf8'));
  const { routes, error } = getTransformedRoutes(config);
  if (error || !routes) throw new Error(`vercel.json: ${error?.message ?? 'no routes'}`);
  return routes;
}

/** The file a static folder serves for a path: the file itself, or a folder's index.html. */
export function staticFile(dir: string, pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  const candidate = join(dir, decoded);
  if (!candidate.startsWith(dir)) return null; // no escaping the folder with ../
  for (const file of [candidate, join(candidate, 'index.html')]) {
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  return null;
}

/** Replaces $1 … and $name in a route's destination with the source's captures. */
function substitute(dest: string, match: RegExpExecArray): string {
  return dest.replace(/\$(\d+|[a-zA-Z_]\w*)/g, (_, ref: string) => {
    const value = /^\d+$/.test(ref) ? match[Number(ref)] : match.groups?.[ref];
    return value === undefined ? '' : encodeURIComponent(value).replace(/%2F/gi, '/');
  });
}

/**
 * Routes a path through a Vercel route list (vercel.json compiled, or a build's config.json) in
 * Vercel's order: the routes before `{"handle":"filesystem"}`, then the filesystem, then the routes
 * after it up to the next handle (the later phases only shape a miss). A rewrite marked `check`
 * looks its destination up in the filesystem and otherwise goes on with the rewritten path; any other
 * matching route without `continue` ends routing there. Returns what `lookup` found (null where
 * Vercel would answer with its own 404), the query the rewrites appended, and the response headers
 * of every matching route that sets some (vercel.json's `headers`, compiled to `continue` routes).
 */
export function applyRoutes<T>(
  routes: readonly Route[],
  pathname: string,
  lookup: (pathname: string) => T | null,
): { readonly found: T | null; readonly query: URLSearchParams; readonly headers: Record<string, string> } {
  const query = new URLSearchParams();
  const headers: Record<string, string> = {};
  const at = (path: string) => ({ found: lookup(path), query, headers });
  let filesystemDone = false;
  for (const route of routes) {
    if ('handle' in route) {
      if (route.handle !== 'filesystem' || filesystemDone) break;
      filesystemDone = true;
      const found = at(pathname);
      if (found.found !== null) return found;
      continue;
    }
    const match = compiled(route.src, route.caseSensitive ? '' : 'i').exec(pathname);
    if (!match) continue;
    for (const [name, value] of Object.entries(route.headers ?? {})) headers[name.toLowerCase()] = value;
    if (route.dest) {
      const dest = new URL(substitute(route.dest, match), 'http://local');
      pathname = dest.pathname;
      for (const [name, value] of dest.searchParams) query.append(name, value);
    }
    if (route.continue) continue;
    if (route.check && route.dest) {
      const found = at(pathname);
      if (found.found !== null) return found;
      continue;
    }
    // A status (404, a redirect) is no function.
    return route.status && route.status !== 200 ? { found: null, query, headers } : at(pathname);
  }
  return filesystemDone ? { found: null, query, headers } : at(pathname);
}

/** Each route's pattern is compiled once per process, not on every request. */
const patterns = new Map<string, RegExp>();
function compiled(src: string, flags: string): RegExp {
  const key = `${flags}/${src}`;
  let pattern = patterns.get(key);
  if (!pattern) {
    pattern = new RegExp(src, flags);
    patterns.set(key, pattern);
  }
  return pattern;
}

type FileHit =
  | { readonly kind: 'function'; readonly file: string }
  | { readonly kind: 'static'; readonly file: string };
type Routed = ReturnType<typeof applyRoutes<FileHit>>;
const MAX_REMEMBERED_PATHS = 10_000;
const REMEMBER_ROUTE_MS = 1_000;

export function createVercelRouter(root = projectRoot) {
  const functions = functionFiles(root);
  const routes = compiledRoutes(root);
  const publicDir = join(root, 'public');
  // Vercel's filesystem matches a function's path exactly (no trailing slash): the rewrites cover the rest.
  const lookup = (pathname: string): FileHit | null => {
    const file = functions.get(pathname);
    if (file) return { kind: 'function' as const, file };
    const asset = staticFile(publicDir, pathname);
    return asset ? { kind: 'static' as const, file: asset } : null;
  };

  // Routing depends only on the path and on which files exist, so a path's route is remembered for a
  // second: a file added to or removed from public/ shows within that second, as the dev server should
  // (the function files are fixed at start, as the filesystem is in a Vercel deployment). No watcher:
  // one would keep every process that routes (the tests) from exiting.
  const remembered = new Map<string, { readonly routed: Routed; readonly until: number }>();
  const route = (pathname: string): Routed => {
    const now = Date.now();
    const known = remembered.get(pathname);
    if (known && known.until > now) return known.routed;
    const routed = applyRoutes(routes, pathname, lookup);
    if (remembered.size >= MAX_REMEMBERED_PATHS) remembered.clear(); // a scanner's random paths
    remembered.set(pathname, { routed, until: now + REMEMBER_ROUTE_MS });
    return routed;
  };

  return {
    functions,
    resolve(original: URL): Resolution {
      const routed = route(original.pathname);
      const { headers } = routed;
      if (!routed.found) return { kind: 'none', headers };
      if (routed.found.kind === 'static') return { kind: 'static', file: routed.found.file, headers };
      // A rewrite's parameters are appended to a copy: the caller's URL stays as it was.
      const url = routed.query.size === 0 ? original : new URL(original);
      for (const [name, value] of routed.query) url.searchParams.append(name, value);
      return { kind: 'function', file: routed.found.file, url, headers };
    },
  };
}

/** Methods the Fetch API refuses to build a `Request` with; they never reach a method handler. */
export const FETCH_FORBIDDEN_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'TRACE', 'TRACK']);

/** The methods a Vercel function file may export (@vercel/node answers any other method itself). */
export const FUNCTION_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
]);

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** A static file as Vercel serves it: GET and HEAD only. */
export function staticResponse(file: string, method: string): Response {
  if (method !== 'GET' && method !== 'HEAD') {
    return new Response('Method Not Allowed\n', {
      status: 405,
      headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' },
    });
  }
  const type = MIME[extname(file)] ?? 'application/octet-stream';
  return new Response(method === 'HEAD' ? null : readFileSync(file), { headers: { 'content-type': type } });
}

/** Vercel's own answer where no route, function or file matches (outside /api and /v1). */
export function platformNotFound(): Response {
  return new Response('The page could not be found\n\nNOT_FOUND\n', {
    status: 404,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-vercel-error': 'NOT_FOUND' },
  });
}

/** Adds vercel.json's headers to a response; a header the response sets itself wins, as on Vercel. */
export function withRouteHeaders(response: Response, headers: Readonly<Record<string, string>>): Response {
  for (const [name, value] of Object.entries(headers)) {
    if (!response.headers.has(name)) response.headers.set(name, value);
  }
  return response;
}
