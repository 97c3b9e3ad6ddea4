/**
 * A Web `Response` whose whole body is one string known when it is built — every JSON answer and
 * problem of the pipeline. `new Response(string)` builds a ReadableStream for the body at once (undici,
 * Node 20), which cost about as much CPU as a bare node:http handler's whole request; a server that
 * knows the body is one string never needs that stream. So the stream is built only when something
 * reads the body through the Response API (`body`, `text()`, `json()`, `clone()` …: Vercel's runtime,
 * the tests), from the same string, with the usual rules (a body reads once; `bodyUsed`; a used or
 * locked body cannot be cloned). `takeText` hands an unread body to the local server
 * (scripts/dev.ts), which writes it straight to the socket. Decision 0035.
 *
 * The class is made on first use, not at import: `extends Response` reads the global `Response`,
 * and Node loads its fetch implementation (undici, ~30 ms of CPU) on that first read. A function's
 * cold import need not pay it: the platform loads it anyway to build the first request's `Request`
 * (Vercel's launcher does), as it does for any function (decision 0034).
 */
type TextResponseClass = new (text: string, init: ResponseInit) => Response & { take(): string | null };
let made: TextResponseClass | undefined;

function makeClass(): TextResponseClass {
  class TextResponse extends Response {
    readonly #text: string;
    /** The body as the Response API reads it, built on first use. */
    #streamed: Response | null = null;
    /** Taken whole by `takeText`: the body counts as read. */
    #taken = false;

    constructor(text: string, init: ResponseInit) {
      super(null, init);
      this.#text = text;
    }

    /**
     * The body's own Response, without headers (a second Headers fill would make Vercel's path, which
     * reads `body`, dearer than a plain Response: with none it costs the same).
     */
    #real(): Response {
      if (!this.#streamed) {
        this.#streamed = new Response(this.#text);
        // Taken already: read it too, so that it is as used as any other read body.
        if (this.#taken) this.#streamed.arrayBuffer().catch(() => {});
      }
      return this.#streamed;
    }

    /** The unread body, taken whole (it counts as read from then on); null once anything has read it. */
    take(): string | null {
      if (this.#taken || this.#streamed) return null;
      this.#taken = true;
      return this.#text;
    }

    override get body(): Response['body'] {
      return this.#real().body;
    }
    override get bodyUsed(): boolean {
      return this.#taken || (this.#streamed?.bodyUsed ?? false);
    }
    override text(): Promise<string> {
      return this.#real().text();
    }
    override json(): Promise<unknown> {
      return this.#real().json();
    }
    override arrayBuffer(): Promise<ArrayBuffer> {
      return this.#real().arrayBuffer();
    }
    override bytes(): ReturnType<Response['bytes']> {
      return this.#real().bytes();
    }
    override async blob(): Promise<Blob> {
      // The body's own Response has no headers (its type would be text/plain): the type is this one's,
      // as undici reads it. Nothing on the request path asks for a Blob.
      const bytes = await this.#real().arrayBuffer();
      const type = this.headers.get('content-type');
      return new Response(bytes, type === null ? {} : { headers: { 'content-type': type } }).blob();
    }
    override formData(): Promise<FormData> {
      return this.#real().formData();
    }
    override clone(): Response {
      if (this.bodyUsed || this.#streamed?.body?.locked)
        throw new TypeError('Response.clone: the body has already been read.');
      return new TextResponse(this.#text, {
        status: this.status,
        statusText: this.statusText,
        headers: this.headers,
      });
    }
  }
  return TextResponse;
}

/** A Response whose body is `text`, kept as a string until something reads it (see above). */
export function textResponse(text: string, init: ResponseInit): Response {
  made ??= makeClass();
  return new made(text, init);
}

/** A response's body when it is a TextResponse nobody has read yet (then it counts as read); else null. */
export function takeText(response: Response): string | null {
  return made !== undefined && response instanceof made ? response.take() : null;
}
