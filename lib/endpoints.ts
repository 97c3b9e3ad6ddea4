import type { Endpoint } from './http/endpoint.js';
import { authEndpoints } from './identity/auth.endpoints.js';
import { metaEndpoints } from './meta/meta.endpoints.js';
import { tenantEndpoints } from './tenants/tenants.endpoints.js';

/** Every endpoint of every family: the OpenAPI document and the route-coverage checks read this. */
export function allEndpoints(): Endpoint[] {
  return [...metaEndpoints, ...authEndpoints, ...tenantEndpoints];
}
