import { endpointsOf } from '../lib/endpoints.js';
import { mount } from '../lib/http/mount.js';

// /api/health, /api/openapi.json and /.well-known/jwks.json (lib/endpoints.ts lists what each function serves).
export const { router, GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = mount(endpointsOf('api/meta.ts'));
