import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { allEndpoints } from '../../lib/endpoints.js';
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
});
