import { AppError, BadRequestError } from '../errors.js';

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a JSON body of at most 64 KiB. The limit is enforced while streaming, so a client that lies
 * about (or omits) Content-Length cannot make us buffer more. An empty body reads as `{}`, so that
 * endpoints whose fields are all optional accept a bare POST.
 */
export async function readJsonBody(request: Request): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new AppError('payload_too_large');
  const text = await readLimited(request);
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

async function readLimited(request: Request): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new AppError('payload_too_large');
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new BadRequestError('invalid_json', 'The request body is not valid UTF-8.');
  }
}
