/**
 * Calls the API in-process exactly as Vercel would route it: vercel.json's routes pick the function
 * file (or a static file, or Vercel's own 404), the function's route table handles the request with
 * the URL Vercel would hand it, and vercel.json's `headers` are added to whatever answers.
 */
import type { App } from '../../lib/app.js';
import { handleRequest, refuseMethod } from '../../lib/http/pipeline.js';
import type { Router } from '../../lib/http/router.js';
import {
  createVercelRouter,
  FETCH_FORBIDDEN_METHODS,
  functionExports,
  platformNotFound,
  staticResponse,
  withRouteHeaders,
} from '../../scripts/vercel-local.js';
import { TEST_ADMIN_KEY } from './backends.js';

const vercel = createVercelRouter();
const modules = new Map<string, Promise<{ router: Router }>>();

export interface CallOptions {
  readonly headers?: Record<string, string>;
  /** A JSON body (serialised, with Content-Type application/json). */
  readonly json?: unknown;
  /** A raw body, sent as is. */
  readonly body?: string;
  /** The client IP the platform reports (x-forwarded-for, as Vercel sets it). */
  readonly ip?: string;
}

export interface CallResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies freely and assert on them.
  readonly body: any;
}

export async function call(
  app: App,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<CallResult> {
  const url = new URL(path, 'https://heir.test');
  const headers = new Headers(options.headers);
  if (!headers.has('x-forwarded-for')) headers.set('x-forwarded-for', options.ip ?? '203.0.113.10');
  let body: string | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }
  const resolution = vercel.resolve(url);
  let response: Response;
  if (resolution.kind === 'function') {
    let loaded = modules.get(resolution.file);
    if (!loaded) {
      loaded = functionExports(resolution.file);
      modules.set(resolution.file, loaded);
    }
    const { router } = await loaded;
    // As the local server does: a method no Request can carry is answered without one.
    response = FETCH_FORBIDDEN_METHODS.has(method.toUpperCase())
      ? refuseMethod(app, router, resolution.url, headers.get('origin'))
      : await handleRequest(
          app,
          router,
          new Request(resolution.url, { method, headers, body: body ?? null }),
        );
  } else if (resolution.kind === 'static') {
    response = staticResponse(resolution.file, method);
  } else {
    response = platformNotFound();
  }
  withRouteHeaders(response, resolution.headers);
  const text = await response.text();
  let parsed: unknown = text;
  if (text && /json/.test(response.headers.get('content-type') ?? '')) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, text, body: parsed };
}

export const asAdmin = { 'x-admin-key': TEST_ADMIN_KEY };
