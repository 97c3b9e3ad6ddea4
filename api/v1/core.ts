import { endpointsOf } from '../../lib/endpoints.js';
import { mount } from '../../lib/http/mount.js';

// Every /v1/** path no other function claims (lib/endpoints.ts lists what each function serves).
export const { router, GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = mount(endpointsOf('api/v1/core.ts'));
