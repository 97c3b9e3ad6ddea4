/**
 * A malformed Authorization header gets a message that says what is wrong with it: an empty Bearer
 * credential (an unset $ACCESS_TOKEN in a shell) is told the token is missing, another scheme that
 * only Bearer is spoken. Both are 401 invalid_token, counted as failed credentials.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { forEachBackend } from '../support/harness.js';
import { expectProblem, send } from '../support/security.js';

forEachBackend('credential messages', (ctx) => {
  for (const value of ['Bearer', 'Bearer   ', 'bearer \t']) {
    it(`says the token is missing for "Authorization: ${value}"`, async () => {
      const res = await send(ctx.app, 'GET', '/v1/auth/me', { headers: { authorization: value } });
      expectProblem(res, 401, 'invalid_token');
      assert.match(res.body.detail, /Bearer but carries no token/);
    });
  }

  it('says only Bearer is spoken for another scheme', async () => {
    const res = await send(ctx.app, 'GET', '/v1/auth/me', { headers: { authorization: 'Basic YTpi' } });
    expectProblem(res, 401, 'invalid_token');
    assert.match(res.body.detail, /Only the Bearer authorization scheme/);
  });
});
