import { AppError, BadRequestError } from '../errors.js';
import type { Incoming } from './exchange.js';

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a JSON body of at most 64 KiB. The limit is enforced while streaming, so a client that lies
 * about (or omits) Content-Length cannot make us buffer more. An empty body reads as `{}`, so that
 * endpoints whose fields are all optional accept a bare POST. The one reader of request bodies, for
 * a Web `Request` and a node:http request alike (lib/http/exchange.ts).
 */
export async function readJsonBody(request: Incoming): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new AppError('payload_too_large');
  const text = await readLimited(request.body());
  if (text.trim() === '') return {};
  const contentType = request.headers.get('content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType.trim())) {
    throw new AppError('unsupported_media_type', 'Send the body as application/json.');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // The parser's message can quote the body, which may hold a password: say only where it broke.
    throw new BadRequestError('invalid_json', 'The request body is not valid JSON.');
  }
}

async function readLimited(body: AsyncIterable<Uint8Array> | null): Promise<string> {
  if (!body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    // Leaving the loop ends the reading (the iterator's return): nothing past the limit is buffered.
    if (size > MAX_BODY_BYTES) throw new AppError('payload_too_large');
    chunks.push(chunk);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new BadRequestError('invalid_json', 'The request body is not valid UTF-8.');
  }
}
