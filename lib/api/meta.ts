import { allEndpoints } from '../endpoints.js';
import { metaEndpoints } from '../meta/meta.endpoints.js';

/**
 * The endpoint families of api/meta.js (lib/endpoints.ts). The OpenAPI document lists every family,
 * which its handler imports (allEndpoints) on the first request for the document.
 */
export const families = [metaEndpoints(allEndpoints)];
