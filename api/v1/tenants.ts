import { mount } from '../../lib/http/mount.js';
import { tenantEndpoints } from '../../lib/tenants/tenants.endpoints.js';

// Every /v1/tenants/** path reaches this function through vercel.json's rewrites.
export const { router, GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = mount(tenantEndpoints);
