import { errors } from '@upstash/redis';

/** A REST call past its deadline, or aborted by its caller's signal. */
export class DeadlineError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'DeadlineError';
  }
}

/** What the transport needs of an abort signal: AbortSignal has it, and so has a batch's BatchAbort. */
export interface AbortHook {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A shared request's abort switch. Not an AbortController: that is an EventTarget built per batch (per
 * request, for a lone one) and read from the globals the hot path keeps clear of (tests/http/hot-path),
 * for a switch that is almost never thrown. One listener at a time: the request being sent.
 */
class BatchAbort implements AbortHook {
  aborted = false;
  #listener: (() => void) | undefined;
  addEventListener(_type: 'abort', listener: () => void) {
    this.#listener = listener;
  }
  removeEventListener(_type: 'abort', listener: () => void) {
    if (this.#listener === listener) this.#listener = undefined;
  }
  abort() {
    if (this.aborted) return;
    this.aborted = true;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  }
}

export interface PipelineBatcherOptions {
  /**
   * Sends one `/pipeline` request with `body` (a JSON array of commands), its retry included and bounded
   * by the transport's timeout from now; answers the HTTP status and the parsed JSON of the reply.
   * `signal` aborts it: every caller of the batch has given up.
   */
  readonly send: (body: string, signal: AbortHook) => Promise<{ status: number; parsed: unknown }>;
  /** Each caller's own deadline, from when it joins (the transport's timeout). */
  readonly timeoutMs: number;
  /** A batch is sent at once when it holds this many commands, or this many characters of JSON. */
  readonly maxCommands: number;
  readonly maxChars: number;
}

interface Caller {
  /** The caller's own command array, as JSON. */
  readonly body: string;
  readonly count: number;
  readonly resolve: (results: unknown[]) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
  batch: Batch | undefined;
  cleanup: () => void;
}

interface Batch {
  readonly callers: Caller[];
  readonly controller: BatchAbort;
}

/**
 * Coalesces the `/pipeline` requests of concurrent callers into one. Upstash's `/pipeline` runs a list of
 * independent commands in order and answers one `{result}` or `{error}` per command (HTTP 200 even when a
 * command fails), so the requests that arrive during one event-loop turn — under load, the I/O callbacks
 * of several client sockets in one poll phase — are sent on the following `setImmediate` as ONE request
 * whose command list is their concatenation, and the answer is split back to each caller in order.
 * A batch of one is exactly the caller's own request. Per-command errors stay with their caller; a
 * network error or a non-2xx answer fails every caller of the batch. Each caller keeps its own deadline
 * and abort signal; the shared request is aborted only when every caller of its batch has given up.
 */
export function createPipelineBatcher(
  opts: PipelineBatcherOptions,
): (body: string, count: number, signal: AbortSignal | undefined) => Promise<unknown[]> {
  let queue: Caller[] = [];
  let commands = 0;
  let chars = 0;
  let scheduled = false;

  function flush() {
    scheduled = false;
    const callers = queue.filter((caller) => !caller.settled);
    queue = [];
    commands = 0;
    chars = 0;
    if (callers.length === 0) return;
    const batch: Batch = { callers, controller: new BatchAbort() };
    for (const caller of callers) caller.batch = batch;
    // Each caller's body is a JSON array: the merged one is their elements, joined.
    const body =
      callers.length === 1
        ? (callers[0] as Caller).body
        : `[${callers.map((caller) => caller.body.slice(1, -1)).join(',')}]`;
    opts.send(body, batch.controller).then(
      (reply) => answer(callers, reply.status, reply.parsed),
      (error: unknown) => {
        for (const caller of callers) settle(caller, () => caller.reject(error));
      },
    );
  }

  return (body, count, signal) =>
    new Promise<unknown[]>((resolve, reject) => {
      const caller: Caller = {
        body,
        count,
        resolve,
        reject,
        settled: false,
        batch: undefined,
        cleanup: () => {},
      };
      const giveUp = () => {
        settle(caller, () => caller.reject(new DeadlineError(opts.timeoutMs)));
        // The shared request goes on for the others; once nobody waits for it, it is aborted.
        const batch = caller.batch;
        if (batch?.callers.every((other) => other.settled)) batch.controller.abort();
      };
      if (signal?.aborted) return giveUp();
      const timer = setTimeout(giveUp, opts.timeoutMs);
      signal?.addEventListener('abort', giveUp, { once: true });
      caller.cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
      };
      // A caller that would overflow a non-empty batch sends that batch first, and starts the next one.
      if (queue.length > 0 && (commands + count > opts.maxCommands || chars + body.length > opts.maxChars)) {
        flush();
      }
      queue.push(caller);
      commands += count;
      chars += body.length;
      if (commands >= opts.maxCommands || chars >= opts.maxChars) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}

function settle(caller: Caller, how: () => void) {
  if (caller.settled) return;
  caller.settled = true;
  caller.cleanup();
  how();
}

function answer(callers: Caller[], status: number, parsed: unknown) {
  if (status < 200 || status >= 300) {
    // Authorization, a malformed request: the whole request was refused, so every caller was.
    const message = (parsed as { error?: unknown } | null)?.error;
    for (const caller of callers) {
      settle(caller, () => caller.reject(new errors.UpstashError(`${message}, command was: ${caller.body}`)));
    }
    return;
  }
  const total = callers.reduce((sum, caller) => sum + caller.count, 0);
  if (!Array.isArray(parsed) || parsed.length !== total) {
    for (const caller of callers) {
      settle(caller, () =>
        caller.reject(new errors.UpstashError(`a /pipeline answer that is not one entry per command`)),
      );
    }
    return;
  }
  let offset = 0;
  for (const caller of callers) {
    const results = parsed.slice(offset, offset + caller.count);
    offset += caller.count;
    settle(caller, () => caller.resolve(results));
  }
}
