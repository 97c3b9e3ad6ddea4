import type { Endpoint, Method } from './endpoint.js';

interface CompiledRoute {
  readonly endpoint: Endpoint;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

export type RouteMatch =
  | { readonly kind: 'found'; readonly endpoint: Endpoint; readonly params: Record<string, string> }
  | { readonly kind: 'wrong_method'; readonly allowed: readonly Method[] }
  | { readonly kind: 'not_found' };

/**
 * The path as the route tables know it. A function sees the URL the client asked for (Vercel keeps
 * it through rewrites), so `/api/v1/x` and `/v1/x` are the same route; a trailing slash is accepted.
 */
export function canonicalPath(pathname: string): string {
  let path = pathname.startsWith('/api/v1/') || pathname === '/api/v1' ? pathname.slice(4) : pathname;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path;
}

function compile(endpoint: Endpoint): CompiledRoute {
  const names: string[] = [];
  const source = endpoint.path
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (!param?.[1]) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]);
      return '([^/]+)';
    })
    .join('/');
  return { endpoint, pattern: new RegExp(`^${source}$`), names };
}

/** The number of `/` in a path: neither a literal segment nor a parameter (`[^/]+`) matches one. */
function depth(path: string): number {
  let slashes = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) slashes += 1;
  return slashes;
}

export function createRouter(endpoints: readonly Endpoint[]) {
  // Routes grouped by depth, in their order: a path is only tried against the routes it could match.
  const byDepth = new Map<number, CompiledRoute[]>();
  for (const endpoint of endpoints) {
    const route = compile(endpoint);
    const at = depth(endpoint.path);
    byDepth.set(at, [...(byDepth.get(at) ?? []), route]);
  }
  return {
    endpoints,
    match(method: string, pathname: string): RouteMatch {
      const path = canonicalPath(pathname);
      const allowed: Method[] = [];
      for (const route of byDepth.get(depth(path)) ?? []) {
        const found = route.pattern.exec(path);
        if (!found) continue;
        if (route.endpoint.method !== method) {
          allowed.push(route.endpoint.method);
          continue;
        }
        const params: Record<string, string> = {};
        try {
          route.names.forEach((name, index) => {
            params[name] = decodeURIComponent(found[index + 1] ?? '');
          });
        } catch {
          return { kind: 'not_found' };
        }
        return { kind: 'found', endpoint: route.endpoint, params };
      }
      return allowed.length > 0 ? { kind: 'wrong_method', allowed } : { kind: 'not_found' };
    },
  };
}

export type Router = ReturnType<typeof createRouter>;
