/**
 * The request and answer as the pipeline (lib/http/pipeline.ts) sees them: a method, a parsed URL, a
 * header getter and the body's chunks in; a status, a plain header object and a string body out. Not
 * Web `Request`/`Response`: each server hands over what it has and writes what comes back with no
 * Web object in between — Vercel's functions through `handleRequest` (the Web adapter below), the
 * local server straight from node:http (scripts/node-exchange.ts). Decision 0036.
 */

/** Reads a header by its lower-case name; a Web `Headers` is one. */
export interface HeaderReader {
  get(name: string): string | null;
}

export interface Incoming {
  readonly method: string;
  /** The URL the function was asked for, parsed once by whoever hands the request over. */
  readonly url: URL;
  readonly headers: HeaderReader;
  /**
   * The body's chunks, read once (lib/http/body.ts); null for a request without one. Leaving the
   * iteration early (a body over the limit) ends the reading.
   */
  body(): AsyncIterable<Uint8Array> | null;
}

export interface Answer {
  readonly status: number;
  /** Lower-case names; the answer's own, filled in place until it is written. */
  readonly headers: Record<string, string>;
  /** The whole body (every body of the pipeline is one JSON string); null for none (204, HEAD). */
  readonly body: string | null;
}

/** A Web `Request` as the pipeline reads it (the URL is parsed by the caller, which handles a bad one). */
export function incomingOf(request: Request, url: URL): Incoming {
  return {
    method: request.method,
    url,
    headers: request.headers,
    // A ReadableStream is async-iterable in Node ≥ 18; leaving the loop cancels it, as reader.cancel().
    body: () => request.body as unknown as AsyncIterable<Uint8Array> | null,
  };
}

/** An answer as a Web `Response` (built when the answer is: nothing reads a fetch global at import). */
export function responseOf(answer: Answer): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}
