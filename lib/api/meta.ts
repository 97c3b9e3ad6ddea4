import type { Endpoint } from '../http/endpoint.js';
import { metaEndpoints } from '../meta/meta.endpoints.js';

/** Every family's endpoints, imported by the first request for the OpenAPI document only. */
async function everyEndpoint(): Promise<readonly Endpoint[]> {
  const { allEndpoints } = await import('../endpoints.js');
  return allEndpoints();
}

/** The endpoint families of api/meta.js (lib/endpoints.ts). */
export const families = [metaEndpoints(everyEndpoint)];
