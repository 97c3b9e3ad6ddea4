/**
 * TextResponse (lib/http/text-response.ts): a Response whose body is one string, streamed only when
 * something reads it through the Response API — and then read by the usual rules.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { takeText, textResponse } from '../../lib/http/text-response.js';

const BODY = '{"greeting":"héllo"}';
const make = () =>
  textResponse(BODY, { status: 201, headers: { 'content-type': 'application/json; charset=utf-8' } });

it('reads like a Response built from the same string', async () => {
  const response = make();
  assert.ok(response instanceof Response);
  assert.equal(response.status, 201);
  assert.equal(response.ok, true);
  assert.equal(response.bodyUsed, false);
  assert.deepEqual(await response.json(), { greeting: 'héllo' });
  assert.equal(response.bodyUsed, true);
  await assert.rejects(response.text(), TypeError, 'a body reads once');
  assert.throws(() => response.clone(), TypeError, 'a used body cannot be cloned');
  assert.equal(takeText(response), null, 'nor taken');

  assert.equal(await make().text(), BODY);
  assert.equal(Buffer.from(await make().arrayBuffer()).toString('utf8'), BODY);
  assert.equal(Buffer.from(await make().bytes()).toString('utf8'), BODY);
  const blob = await make().blob();
  const plain = new Response(BODY, { headers: { 'content-type': 'application/json; charset=utf-8' } });
  assert.equal(blob.type, (await plain.blob()).type);
  assert.equal(await blob.text(), BODY);
});

it('streams its body to whoever asks for the stream (as Vercel’s runtime does)', async () => {
  const response = make();
  const chunks: Uint8Array[] = [];
  assert.ok(response.body);
  assert.equal(response.body, response.body, 'one stream, built once');
  const reader = response.body.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) chunks.push(read.value);
  assert.equal(Buffer.concat(chunks).toString('utf8'), BODY);
  assert.equal(response.bodyUsed, true);
  assert.equal(takeText(response), null, 'a streamed body is not taken again');
});

it('clones with its status, headers and body; the clone reads on its own', async () => {
  const response = make();
  response.headers.set('x-request-id', 'req_1');
  const copy = response.clone();
  assert.equal(copy.status, 201);
  assert.equal(copy.headers.get('x-request-id'), 'req_1');
  assert.equal(await copy.text(), BODY);
  assert.equal(await response.text(), BODY);
  const locked = make();
  locked.body?.getReader();
  assert.throws(() => locked.clone(), TypeError, 'a locked body cannot be cloned');
});

it('hands its unread body over once, as read; plain Responses have none to hand', async () => {
  const response = make();
  assert.equal(takeText(response), BODY);
  assert.equal(response.bodyUsed, true);
  assert.equal(takeText(response), null);
  await assert.rejects(response.text(), TypeError, 'taken is read');
  assert.equal(takeText(new Response(BODY)), null);
});
