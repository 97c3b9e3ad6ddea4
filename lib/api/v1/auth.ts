import { authEndpoints } from '../../identity/auth.endpoints.js';
import { firsOAuthEndpoints } from '../../resources/firs-oauth.endpoints.js';

/** The endpoint families of api/v1/auth.js (lib/endpoints.ts). */
export const families = [authEndpoints, firsOAuthEndpoints];
