import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { allEndpoints } from '../../lib/endpoints.js';
import { operationId } from '../../lib/http/openapi.js';
import { call } from '../support/client.js';
import { forEachBackend } from '../support/harness.js';

forEachBackend('OpenAPI document', (ctx) => {
  it('is served at /api/openapi.json and is a valid OpenAPI 3.1 document', async () => {
    const res = await call(ctx.app, 'GET', '/api/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.body.openapi, '3.1.0');
    const validator = new Validator();
    const result = await validator.validate(res.body);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  });

  it('documents every endpoint with its method, security and the schemas that validate requests', async () => {
    const { body: doc } = await call(ctx.app, 'GET', '/api/openapi.json');
    for (const endpoint of allEndpoints()) {
      const operation = doc.paths[endpoint.path]?.[endpoint.method.toLowerCase()];
      assert.ok(operation, `${endpoint.method} ${endpoint.path} is missing`);
      assert.ok(
        operation.responses[String(endpoint.response.status)],
        `${endpoint.method} ${endpoint.path} success response`,
      );
      if (endpoint.body) assert.ok(operation.requestBody, `${endpoint.method} ${endpoint.path} request body`);
      if (endpoint.auth === 'none') assert.deepEqual(operation.security, []);
      else assert.ok(operation.security.length > 0, `${endpoint.method} ${endpoint.path} security`);
    }
    const login = doc.paths['/v1/auth'].post.requestBody.content['application/json'].schema;
    assert.equal(
      login.properties.password.minLength,
      6,
      'the same zod schema drives validation and the document',
    );
    assert.ok(doc.components.schemas.Problem);
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['adminKey', 'apiKey', 'bearerJwt']);
  });

  it('names every operation (a unique, camelCase operationId) and the server it is served from', async () => {
    const { body: doc } = await call(ctx.app, 'GET', '/api/openapi.json');
    const ids: string[] = [];
    for (const endpoint of allEndpoints()) {
      const id = doc.paths[endpoint.path][endpoint.method.toLowerCase()].operationId;
      assert.match(id, /^[a-z][A-Za-z0-9]*$/, `${endpoint.method} ${endpoint.path}`);
      ids.push(id);
    }
    assert.equal(new Set(ids).size, ids.length, `operationIds are unique: ${ids.join(', ')}`);
    assert.equal(
      operationId({ method: 'GET', path: '/v1/tenants/{tenantId}/team-members' }),
      'getTenantsByTenantIdTeamMembers',
    );
    assert.equal(operationId({ method: 'POST', path: '/v1/auth/set-password' }), 'postAuthSetPassword');
    assert.equal(operationId({ method: 'GET', path: '/.well-known/jwks.json' }), 'getWellKnownJwksJson');
    assert.deepEqual(doc.servers, [{ url: ctx.app.config.appUrl }]);
  });
});
