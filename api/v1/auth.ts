import { mount } from '../../lib/http/mount.js';
import { authEndpoints } from '../../lib/identity/auth.endpoints.js';

// Every /v1/auth/** path reaches this function through vercel.json's rewrites.
export const { router, GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = mount(authEndpoints);
