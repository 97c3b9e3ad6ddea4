import { mount } from '../lib/http/mount.js';
import { metaEndpoints } from '../lib/meta/meta.endpoints.js';

// /api/health, /api/openapi.json and /.well-known/jwks.json reach this function through vercel.json.
export const { router, GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = mount(metaEndpoints);
