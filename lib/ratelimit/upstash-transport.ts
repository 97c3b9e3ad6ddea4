import type { Agent as HttpAgent, request as httpRequest, IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { errors, type Requester, type UpstashRequest, type UpstashResponse } from '@upstash/redis';
import { type AbortHook, createPipelineBatcher, DeadlineError } from './pipeline-batcher.js';

export interface UpstashTransportOptions {
  readonly url: string;
  readonly token: string;
  /** Bound on one request, its retry included; past it the request is destroyed and the call fails. */
  readonly timeoutMs: number;
}

/** Network errors get one quick retry (a kept-alive connection the server closed meanwhile, say). */
const RETRIES = 1;
const RETRY_BACKOFF_MS = 50;
/** Idle kept-alive connections are closed before Upstash (or the local bridge, 5 s) closes them. */
const IDLE_SOCKET_MS = 4_000;
/**
 * A coalesced `/pipeline` request is sent at once when it reaches this many commands or characters:
 * a whoami sends two commands, so 50 concurrent requests fill one batch; Upstash caps a request's size
 * (1 MB on the smallest plan), far above this.
 */
const BATCH_MAX_COMMANDS = 100;
const BATCH_MAX_CHARS = 256 * 1024;

/**
 * The @upstash/redis client on a transport of its own: node:http(s) over a keep-alive agent, instead of
 * the library's HttpClient on the global `fetch`. The protocol is the same Upstash REST one (POST the
 * command, or `/pipeline` with a list of them; `Authorization: Bearer`; the read-your-writes sync token),
 * and the client above it — commands, @upstash/ratelimit's scripts — is unchanged.
 * Why: Node's `fetch` builds a Web Request, Response and streams for each call, which cost ~0.6–1 ms of
 * CPU per round trip on the benchmark machine against ~0.1 ms for node:http (docs/PERFORMANCE.md,
 * docs/decisions/0032-upstash-transport-on-node-http.md); every key-authenticated request makes one.
 *
 * Plain `/pipeline` requests of concurrent callers issued in one event-loop turn are sent as one
 * (lib/ratelimit/pipeline-batcher.ts, decision 0037); a lone one goes exactly as before.
 *
 * Replies are asked for as plain JSON (no `Upstash-Encoding: base64`): every value this service keeps in
 * Redis is ASCII (counters, versions, script hashes), so the base64 layer would only cost time.
 */
export function createUpstashTransport(opts: UpstashTransportOptions): Requester {
  const base = new URL(opts.url);
  const secure = base.protocol === 'https:';
  // Only the module of the URL's scheme is loaded, and only when the client is made (the first request),
  // not at import: node:https with TLS for Upstash, node:http for a local bridge (docs/decisions/0038).
  const { Agent, request: send } = createRequire(import.meta.url)(
    secure ? 'node:https' : 'node:http',
  ) as typeof import('node:http');
  const agent = new Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
  const basePath = base.pathname.replace(/\/+$/, '');
  const authorization = `Bearer ${opts.token}`;

  /** One REST request, its single retry included, bounded by the timeout from now: status and parsed JSON. */
  async function exchange(
    path: string,
    body: string,
    extraHeaders: Record<string, string> | undefined,
    signal: AbortHook | undefined,
  ): Promise<{ status: number; parsed: unknown }> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization,
      ...(transport.readYourWrites ? { 'upstash-sync-token': transport.upstashSyncToken } : {}),
      ...extraHeaders,
    };
    const deadline = Date.now() + opts.timeoutMs;
    let failure: unknown;
    for (let attempt = 0; attempt <= RETRIES; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, RETRY_BACKOFF_MS));
      const left = deadline - Date.now();
      if (left <= 0) break;
      let reply: Reply;
      try {
        reply = await post({ send, agent, base, path, headers, body, timeoutMs: left, signal });
      } catch (error) {
        failure = error;
        // A call past its deadline (or aborted) is over; only a network error is worth another try.
        if (error instanceof DeadlineError) throw error;
        continue;
      }
      if (transport.readYourWrites) transport.upstashSyncToken = reply.syncToken ?? '';
      try {
        return { status: reply.status, parsed: JSON.parse(reply.text) };
      } catch (error) {
        throw new errors.UpstashJSONParseError(reply.text, { cause: error });
      }
    }
    throw failure ?? new DeadlineError(opts.timeoutMs);
  }

  // `/pipeline` requests of concurrent callers travel as one (lib/ratelimit/pipeline-batcher.ts).
  const pipelinePath = `${basePath}/pipeline`;
  const batched = createPipelineBatcher({
    send: (body, signal) => exchange(pipelinePath, body, undefined, signal),
    timeoutMs: opts.timeoutMs,
    maxCommands: BATCH_MAX_COMMANDS,
    maxChars: BATCH_MAX_CHARS,
  });

  const transport: Requester & { upstashSyncToken: string } = {
    readYourWrites: true,
    upstashSyncToken: '',
    async request<TResult>(req: UpstashRequest): Promise<UpstashResponse<TResult>> {
      const body = JSON.stringify(req.body);
      // Only a plain `/pipeline` (independent commands, no headers of its own) can share a request;
      // `/multi-exec` is one transaction.
      if (isPlainPipeline(req)) {
        return (await batched(body, (req.body as unknown[]).length, req.signal)) as UpstashResponse<TResult>;
      }
      // A single command joins the batch as a pipeline of one: its entry, `{result}` or `{error}`, is what
      // Upstash answers for the command alone. A failing command alone is answered HTTP 400 `{error}`,
      // which this transport always turned into an UpstashError naming the command; so is its entry.
      if (isSingleCommand(req)) {
        const [entry] = (await batched(`[${body}]`, 1, req.signal)) as [UpstashResponse<TResult>];
        if (entry.error !== undefined) throw new errors.UpstashError(`${entry.error}, command was: ${body}`);
        return entry;
      }
      const path = `${basePath}/${(req.path ?? []).join('/')}`;
      const { status, parsed } = await exchange(path, body, req.headers, req.signal);
      if (status < 200 || status >= 300) {
        const message = (parsed as { error?: unknown } | null)?.error;
        throw new errors.UpstashError(`${message}, command was: ${body}`);
      }
      return parsed as UpstashResponse<TResult>;
    },
  };
  return transport;
}

function isPlainPipeline(req: UpstashRequest): boolean {
  return (
    req.path?.length === 1 &&
    req.path[0] === 'pipeline' &&
    Array.isArray(req.body) &&
    req.body.length > 0 &&
    (req.headers === undefined || Object.keys(req.headers).length === 0)
  );
}

/** A command sent to the REST root on its own: `["name", ...args]`, no path, no headers of its own. */
function isSingleCommand(req: UpstashRequest): boolean {
  return (
    (req.path === undefined || req.path.length === 0) &&
    Array.isArray(req.body) &&
    typeof req.body[0] === 'string' &&
    !req.isStreaming &&
    (req.headers === undefined || Object.keys(req.headers).length === 0)
  );
}

interface Reply {
  readonly status: number;
  readonly text: string;
  readonly syncToken: string | undefined;
}

function post(opts: {
  send: typeof httpRequest;
  agent: HttpAgent;
  base: URL;
  path: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  signal: AbortHook | undefined;
}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = opts.send(
      {
        agent: opts.agent,
        protocol: opts.base.protocol,
        hostname: opts.base.hostname,
        port: opts.base.port,
        method: 'POST',
        path: opts.path,
        headers: { ...opts.headers, 'content-length': Buffer.byteLength(opts.body) },
      },
      (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          done();
          const token = res.headers['upstash-sync-token'];
          resolve({
            status: res.statusCode ?? 0,
            text,
            syncToken: typeof token === 'string' ? token : undefined,
          });
        });
        res.on('error', fail);
      },
    );
    const abort = () => request.destroy(new DeadlineError(opts.timeoutMs));
    const timer = setTimeout(abort, opts.timeoutMs);
    function done() {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', abort);
    }
    function fail(error: unknown) {
      done();
      reject(error);
    }
    request.on('error', fail);
    if (opts.signal?.aborted) abort();
    else opts.signal?.addEventListener('abort', abort, { once: true });
    request.end(opts.body);
  });
}
