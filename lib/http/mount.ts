import { getDefaultApp } from '../app.js';
import { ConfigError } from '../config.js';
import { createLogger } from '../log.js';
import type { Endpoint } from './endpoint.js';
import { responseOf } from './exchange.js';
import { handleRequest } from './pipeline.js';
import { problemAnswer } from './problem.js';
import { createRouter, type Router } from './router.js';

type Handler = (request: Request) => Promise<Response>;

export interface Mounted {
  readonly router: Router;
  readonly GET: Handler;
  readonly HEAD: Handler;
  readonly POST: Handler;
  readonly PUT: Handler;
  readonly PATCH: Handler;
  readonly DELETE: Handler;
  readonly OPTIONS: Handler;
}

/**
 * What a file under api/ exports: one Web-standard handler per HTTP method (as Vercel's Node runtime
 * expects), all routing through the family's route table on the process-wide app. Tests and the
 * local server use `router` with an app of their own, through the same `handleRequest`.
 */
export function mount(endpoints: readonly Endpoint[]): Mounted {
  const router = createRouter(endpoints);
  const handle: Handler = async (request) => {
    let app: Awaited<ReturnType<typeof getDefaultApp>>;
    try {
      app = await getDefaultApp();
    } catch (error) {
      // One line naming the bad setting (ConfigError's message); never the values themselves.
      const line = error instanceof ConfigError ? error.message : 'start-up failed';
      createLogger('error').error(line, error instanceof ConfigError ? {} : { error });
      return responseOf(
        problemAnswer({
          code: 'service_unavailable',
          requestId: 'req_startup',
          headers: { 'retry-after': '30' },
        }),
      );
    }
    return handleRequest(app, router, request);
  };
  return {
    router,
    GET: handle,
    HEAD: handle,
    POST: handle,
    PUT: handle,
    PATCH: handle,
    DELETE: handle,
    OPTIONS: handle,
  };
}
