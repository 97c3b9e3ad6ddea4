/**
 * Vercel's routing, locally: the routes are compiled from vercel.json by Vercel's own compiler
 * (@vercel/routing-utils) and applied in Vercel's order — the filesystem (functions under api/ and
 * static files under public/) first, then the rewrites, each rewrite checking the filesystem again.
 * As on Vercel, a function receives the URL the client asked for, with the parameters a rewrite
 * names appended to its query. Used by the dev server and by every HTTP test; `npm run check:vercel`
 * applies the same `applyRoutes` to what `vercel build` produced and compares the two.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getTransformedRoutes, type Route } from '@vercel/routing-utils';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

export type Resolution =
  | { readonly kind: 'function'; readonly file: string; readonly url: URL }
  | { readonly kind: 'static'; readonly file: string }
  | { readonly kind: 'none' };

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
 * matching route without `continue` ends routing there. Returns what `lookup` found and the query
 * the rewrites appended, or null where Vercel would answer with an error.
 */
export function applyRoutes<T>(
  routes: readonly Route[],
  pathname: string,
  lookup: (pathname: string) => T | null,
): { readonly found: T; readonly query: URLSearchParams } | null {
  const query = new URLSearchParams();
  const at = (path: string) => {
    const found = lookup(path);
    return found === null ? null : { found, query };
  };
  let filesystemDone = false;
  for (const route of routes) {
    if ('handle' in route) {
      if (route.handle !== 'filesystem' || filesystemDone) break;
      filesystemDone = true;
      const found = at(pathname);
      if (found) return found;
      continue;
    }
    const match = new RegExp(route.src, route.caseSensitive ? '' : 'i').exec(pathname);
    if (!match) continue;
    if (route.dest) {
      const dest = new URL(substitute(route.dest, match), 'http://local');
      pathname = dest.pathname;
      for (const [name, value] of dest.searchParams) query.append(name, value);
    }
    if (route.continue) continue;
    if (route.check && route.dest) {
      const found = at(pathname);
      if (found) return found;
      continue;
    }
    return route.status && route.status !== 200 ? null : at(pathname); // a status (404, a redirect) is no function
  }
  return filesystemDone ? null : at(pathname);
}

export function createVercelRouter(root = projectRoot) {
  const functions = functionFiles(root);
  const routes = compiledRoutes(root);
  const publicDir = join(root, 'public');
  // Vercel's filesystem matches a function's path exactly (no trailing slash): the rewrites cover the rest.
  const lookup = (pathname: string) => {
    const file = functions.get(pathname);
    if (file) return { kind: 'function' as const, file };
    const asset = staticFile(publicDir, pathname);
    return asset ? { kind: 'static' as const, file: asset } : null;
  };

  return {
    functions,
    resolve(original: URL): Resolution {
      const routed = applyRoutes(routes, original.pathname, lookup);
      if (!routed) return { kind: 'none' };
      if (routed.found.kind === 'static') return routed.found;
      const url = new URL(original);
      for (const [name, value] of routed.query) url.searchParams.append(name, value);
      return { kind: 'function', file: routed.found.file, url };
    },
  };
}
