/**
 * Attacks on access tokens (RFC 8725, OWASP ASVS V9). The app signs with a key this file generated, so
 * the tests can also mint tokens with the real key whose claims are wrong in exactly one way; the first
 * test shows that a token minted here with the right claims is accepted, so every refusal below is due to
 * the one thing changed.
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, it } from 'node:test';
import {
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { generateSigningJwk } from '../../lib/identity/signing-keys.js';
import { asAdmin } from '../support/client.js';
import { addMember, ownerSession } from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { expectProblem, send } from '../support/security.js';

const signingJwk = await generateSigningJwk();
const realKey = await importJWK(signingJwk, 'EdDSA');
const kid = signingJwk.kid as string;

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const part = (value: object) => b64url(JSON.stringify(value));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Signs any header and payload with any key, as an attacker (or this test) would. */
function sign(key: CryptoKey | Uint8Array, header: Record<string, unknown>, payload: JWTPayload) {
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);
}

/** An attacker's key pair and the public JWK they would publish or embed. */
async function attackerKey(alg: 'EdDSA' | 'ES256' = 'EdDSA') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk: { ...jwk, alg, kid: await calculateJwkThumbprint(jwk) } as JWK };
}

/** A tiny server that would hand out an attacker's keys, and counts whether anyone asked. */
async function attackerServer(body: unknown) {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

forEachBackend(
  'access token attacks',
  (ctx) => {
    // A tenant A with an owner and a member, and a tenant B; read-only for the tests below.
    let a: Awaited<ReturnType<typeof ownerSession>>;
    let member: Awaited<ReturnType<typeof addMember>>;
    let tenantB: string;
    /** The claims of a real access token of A's owner, and of A's member. */
    let ownerClaims: JWTPayload;
    let memberClaims: JWTPayload;
    const header = { alg: 'EdDSA', kid, typ: 'at+jwt' };

    before(async () => {
      a = await ownerSession(ctx.app);
      member = await addMember(ctx.app, a.tenantId, a.session.auth, 'member');
      tenantB = (await ownerSession(ctx.app)).tenantId;
      ownerClaims = decodeJwt(a.session.accessToken);
      memberClaims = decodeJwt(member.session.accessToken);
      assert.equal(decodeProtectedHeader(a.session.accessToken).kid, kid, 'the app signs with our key');
    });

    /** The owner's claims, fresh, with `changes` applied (undefined deletes a claim). */
    function claims(changes: Record<string, unknown> = {}, base = ownerClaims): JWTPayload {
      const iat = nowSeconds();
      const result: Record<string, unknown> = { ...base, iat, exp: iat + 600, jti: randomUUID(), ...changes };
      for (const [name, value] of Object.entries(changes)) if (value === undefined) delete result[name];
      return result as JWTPayload;
    }

    const me = (token: string) => send(ctx.app, 'GET', '/v1/auth/me', { headers: bearer(token) });

    async function expectRefused(token: string, code = 'invalid_token') {
      const res = await me(token);
      expectProblem(res, 401, code, [token]);
    }

    it('control: a token minted here with the real key and the right claims is accepted', async () => {
      const res = await me(await sign(realKey, header, claims()));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.user.id, a.owner.id);
    });

    it('a tampered payload (role → owner, tid → another tenant) with the original signature → 401', async () => {
      const [h, , sig] = member.session.accessToken.split('.');
      for (const change of [{ role: 'owner' }, { tid: tenantB }, { sub: a.owner.id }]) {
        const payload = part({ ...memberClaims, ...change });
        await expectRefused(`${h}.${payload}.${sig}`);
      }
      const [oh, op] = a.session.accessToken.split('.');
      await expectRefused(`${oh}.${op}.`); // signature stripped
    });

    it('alg "none" (any spelling) → 401', async () => {
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        const body = `${part({ alg, kid, typ: 'at+jwt' })}.${part(claims())}`;
        await expectRefused(`${body}.`);
        await expectRefused(`${body}.${a.session.accessToken.split('.')[2]}`);
      }
    });

    it('HS256 signed with the public key as the HMAC secret (algorithm confusion) → 401', async () => {
      const jwks = await send(ctx.app, 'GET', '/.well-known/jwks.json');
      const published = jwks.body.keys[0] as JWK;
      const spki = createPublicKey({ key: published as never, format: 'jwk' });
      const secrets = [
        Buffer.from(published.x as string, 'base64url'),
        Buffer.from(published.x as string),
        Buffer.from(spki.export({ type: 'spki', format: 'pem' }) as string),
        spki.export({ type: 'spki', format: 'der' }) as Buffer,
        Buffer.from(JSON.stringify(published)),
        Buffer.from(jwks.text),
      ];
      for (const alg of ['HS256', 'HS512']) {
        for (const secret of secrets) {
          const body = `${part({ alg, kid, typ: 'at+jwt' })}.${part(claims())}`;
          const mac = createHmac(alg === 'HS256' ? 'sha256' : 'sha512', secret)
            .update(body)
            .digest('base64url');
          await expectRefused(`${body}.${mac}`);
        }
      }
    });

    it('another key with our kid (Ed25519 or ES256) → 401', async () => {
      const ed = await attackerKey('EdDSA');
      await expectRefused(await sign(ed.privateKey, header, claims()));
      const es = await attackerKey('ES256');
      await expectRefused(await sign(es.privateKey, { ...header, alg: 'ES256' }, claims()));
    });

    it('an embedded jwk, or jku/x5u pointing at the attacker, is never followed → 401', async () => {
      const evil = await attackerKey();
      const server = await attackerServer({ keys: [evil.jwk] });
      try {
        const headers = [
          { ...header, jwk: evil.jwk },
          { alg: 'EdDSA', typ: 'at+jwt', jwk: evil.jwk },
          { ...header, kid: evil.jwk.kid, jwk: evil.jwk },
          { ...header, jku: server.url },
          { ...header, kid: evil.jwk.kid, jku: server.url },
          { ...header, kid: evil.jwk.kid, x5u: server.url },
        ];
        for (const h of headers) await expectRefused(await sign(evil.privateKey, h, claims()));
        assert.equal(server.hits(), 0, 'the service fetched a key from a URL in a token header');
      } finally {
        await server.close();
      }
    });

    it('the real key, but a wrong aud, iss or typ, or a required claim missing → 401 invalid_token', async () => {
      const wrongClaims = [
        { aud: 'another-api' },
        { aud: ['another-api'] },
        { iss: 'https://evil.example' },
        { iss: `${ctx.app.tokens.issuer}/` },
        { exp: undefined },
        { iat: undefined },
        { sid: undefined },
        { tid: undefined },
        { sub: undefined },
        { role: undefined },
        { aud: undefined },
        { iss: undefined },
        { nbf: nowSeconds() + 300 },
      ];
      for (const change of wrongClaims) await expectRefused(await sign(realKey, header, claims(change)));
      for (const typ of ['JWT', 'rt+jwt', undefined]) {
        const { typ: _omit, ...rest } = header;
        await expectRefused(await sign(realKey, typ ? { ...rest, typ } : rest, claims()));
      }
      await expectRefused(await sign(realKey, { ...header, kid: 'unknown-kid' }, claims()));
    });

    it('the real key with exp in the past → 401 token_expired', async () => {
      const iat = nowSeconds() - 3600;
      await expectRefused(await sign(realKey, header, claims({ iat, exp: iat + 900 })), 'token_expired');
    });

    it('the database, not the token, decides tenant and role (even for tokens signed with the real key)', async () => {
      // A's owner, claiming tenant B: still A's owner, so B's tenant is another tenant's (404).
      const claimsB = await sign(realKey, header, claims({ tid: tenantB }));
      const res = await send(ctx.app, 'GET', `/v1/tenants/${tenantB}`, { headers: bearer(claimsB) });
      expectProblem(res, 404, 'not_found', [claimsB]);
      // A's member, claiming to be an owner: still a member (403 on an owner/admin endpoint).
      const promoted = await sign(realKey, header, claims({ role: 'owner' }, memberClaims));
      const audit = await send(ctx.app, 'GET', `/v1/tenants/${a.tenantId}/audit-events`, {
        headers: bearer(promoted),
      });
      expectProblem(audit, 403, 'forbidden', [promoted]);
      // The member's id with the owner's login: a session is only ever its own person's.
      await expectRefused(await sign(realKey, header, claims({ sub: member.id }, ownerClaims)));
    });

    it('a refresh token presented as an access token → 401', async () => {
      await expectRefused(a.session.refreshToken);
    });

    it('an access token in the refresh body is refused; in the header it is exchanged only once (auth-refresh tests)', async () => {
      const token = a.session.accessToken;
      const viaBody = await send(ctx.app, 'POST', '/v1/auth/refresh', { json: { refresh_token: token } });
      // An access token is longer than any refresh token: the body check refuses it first.
      expectProblem(viaBody, 422, 'validation_failed', [token]);
    });

    it('the real key, but sub, sid or tid not a UUID, or an unknown role → 401 invalid_token, never 500', async () => {
      const odd = [
        'not-a-uuid',
        '',
        "x' or '1'='1",
        '00000000-0000-0000-0000-00000000000g',
        'a'.repeat(5000),
        '\u0000',
      ];
      const changes: Record<string, unknown>[] = [];
      for (const value of odd) changes.push({ sub: value }, { sid: value }, { tid: value });
      changes.push(
        { sub: 42 },
        { sid: ['x'] },
        { tid: { id: 'x' } },
        { role: 'superuser' },
        { jti: undefined },
      );
      changes.push({ jti: 7 }, { jti: '' });
      for (const change of changes) {
        const token = await sign(realKey, header, claims(change));
        await expectRefused(token);
        // The refresh endpoint verifies the same way before it looks at any login.
        const refresh = await send(ctx.app, 'POST', '/v1/auth/refresh', { headers: bearer(token) });
        expectProblem(refresh, 401, 'invalid_token', [token]);
      }
    });

    it('the real key, but iat in the future or a lifetime beyond 15 minutes → 401 invalid_token', async () => {
      const now = nowSeconds();
      const wrong = [
        { iat: now + 60, exp: now + 600 },
        { iat: now + 3600, exp: now + 3600 + 900 },
        { iat: now, exp: now + 901 },
        { iat: now - 60, exp: now + 24 * 3600 },
        { iat: now - 10, exp: now + 10 ** 9 },
        { iat: 1.5, exp: now + 600 },
      ];
      for (const change of wrong) {
        const token = await sign(realKey, header, claims(change));
        await expectRefused(token);
        const refresh = await send(ctx.app, 'POST', '/v1/auth/refresh', { headers: bearer(token) });
        expectProblem(refresh, 401, 'invalid_token', [token]);
      }
      // Controls: exactly 15 minutes, and an iat a few seconds ahead (clock skew between instances).
      assert.equal((await me(await sign(realKey, header, claims({ iat: now, exp: now + 900 })))).status, 200);
      assert.equal(
        (await me(await sign(realKey, header, claims({ iat: now + 3, exp: now + 903 })))).status,
        200,
      );
    });

    describe('people removed or disabled lose access at once', () => {
      it('a removed team member’s valid token → 401, and their refresh token too', async () => {
        const owner = await ownerSession(ctx.app);
        const gone = await addMember(ctx.app, owner.tenantId, owner.session.auth, 'admin');
        assert.equal((await me(gone.session.accessToken)).status, 200);
        const removed = await send(
          ctx.app,
          'DELETE',
          `/v1/tenants/${owner.tenantId}/team-members/${gone.id}`,
          {
            headers: owner.session.auth,
          },
        );
        assert.equal(removed.status, 204, removed.text);
        await expectRefused(gone.session.accessToken);
        const refresh = await send(ctx.app, 'POST', '/v1/auth/refresh', {
          json: { refresh_token: gone.session.refreshToken },
        });
        expectProblem(refresh, 401, 'invalid_token', [gone.session.refreshToken]);
      });

      it('a disabled member’s valid token → 401 at once', async () => {
        const owner = await ownerSession(ctx.app);
        const disabled = await addMember(ctx.app, owner.tenantId, owner.session.auth, 'member');
        const res = await send(
          ctx.app,
          'PATCH',
          `/v1/tenants/${owner.tenantId}/team-members/${disabled.id}`,
          {
            headers: owner.session.auth,
            json: { status: 'disabled' },
          },
        );
        assert.equal(res.status, 200, res.text);
        await expectRefused(disabled.session.accessToken);
        // The admin key still reads the tenant: the refusal is about the person, not the tenant.
        assert.equal(
          (await send(ctx.app, 'GET', `/v1/tenants/${owner.tenantId}`, { headers: asAdmin })).status,
          200,
        );
      });
    });
  },
  { env: { JWT_PRIVATE_KEYS: JSON.stringify([signingJwk]) } },
);
