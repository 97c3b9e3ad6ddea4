/**
 * The local server's side of lib/http/exchange.ts: a node:http request read as the pipeline's
 * `Incoming`, and an `Answer` written back in one `writeHead` + `end`. No Web `Request`, `Headers` or
 * `Response` is made on the way: building them (undici) cost more CPU than node:http's own parsing
 * (decision 0036). The body's limits and errors are the pipeline's (lib/http/body.ts), as for a Web
 * Request.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { HeaderReader, Incoming } from '../lib/http/exchange.js';

/** What the local server writes: an answer of the pipeline, or a file's bytes. */
export interface Written {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string | Buffer | null;
}

/** node:http's header object (names lower-case already) read as the pipeline reads headers. */
class NodeHeaders implements HeaderReader {
  constructor(
    private readonly raw: IncomingHttpHeaders,
    private readonly ip: string,
  ) {}
  get(name: string): string | null {
    // As Vercel's edge does: the client IP comes from the connection, never from the client's headers.
    if (name === 'x-forwarded-for' || name === 'x-real-ip') return this.ip;
    const value = this.raw[name];
    if (value === undefined) return null;
    return typeof value === 'string' ? value : value.join(', ');
  }
}

export class NodeIncoming implements Incoming {
  readonly method: string;
  readonly headers: HeaderReader;
  #reading = false;

  constructor(
    private readonly req: IncomingMessage,
    readonly url: URL,
  ) {
    this.method = req.method ?? 'GET';
    this.headers = new NodeHeaders(req.headers, req.socket.remoteAddress ?? '127.0.0.1');
  }

  body(): AsyncIterable<Uint8Array> | null {
    // As a Web Request: GET and HEAD carry no body, whatever the client sent.
    if (this.method === 'GET' || this.method === 'HEAD') return null;
    this.#reading = true;
    // Not destroyed when the reader stops early (a body over the limit): the socket must still carry
    // the 413. `write` drains the rest and closes the connection instead.
    return this.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>;
  }

  /** The pipeline began reading the body and stopped before its end. */
  get unfinished(): boolean {
    return this.#reading && !this.req.complete;
  }
}

/**
 * Writes an answer with vercel.json's headers for its route (a header the answer sets itself wins, as
 * on Vercel) and its length, head and body in one write.
 */
export function writeAnswer(
  req: IncomingMessage,
  res: ServerResponse,
  answer: Written,
  routeHeaders: Readonly<Record<string, string>>,
  incoming?: NodeIncoming,
): void {
  const headers = answer.headers;
  for (const name in routeHeaders) if (!(name in headers)) headers[name] = routeHeaders[name] as string;
  const body = answer.body ?? '';
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  // The whole body is known: say its length rather than send it chunked.
  if (length > 0 && !('content-length' in headers)) headers['content-length'] = String(length);
  if (incoming?.unfinished) {
    // The rest of a body the pipeline refused to read is discarded, and the connection ends with the
    // answer: the next request on it would otherwise begin inside the unread body.
    headers.connection = 'close';
    req.resume();
  }
  res.writeHead(answer.status, headers);
  res.end(body);
}
