import { auditEndpoints } from '../../audit/audit.endpoints.js';
import { apiKeyEndpoints, tenantKeyEndpoints } from '../../keys/api-keys.endpoints.js';
import { pingEndpoints } from '../../meta/ping.endpoints.js';
import { adminResourceEndpoints } from '../../resources/admin-resources.endpoints.js';
import { contractEndpoints } from '../../resources/contracts.endpoints.js';
import { embedEndpoints } from '../../resources/embed.endpoints.js';
import { invoiceEndpoints } from '../../resources/invoices.endpoints.js';
import { settingsEndpoints } from '../../resources/settings.endpoints.js';
import { webhookEndpoints } from '../../resources/webhooks.endpoints.js';
import { teamEndpoints } from '../../tenants/team.endpoints.js';
import { tenantEndpoints } from '../../tenants/tenants.endpoints.js';

/**
 * The endpoint families of api/v1/core.js (lib/endpoints.ts): every /v1 family that no more specific
 * function claims. A new family under /v1 is added here.
 */
export const families = [
  tenantEndpoints,
  teamEndpoints,
  auditEndpoints,
  tenantKeyEndpoints,
  apiKeyEndpoints,
  settingsEndpoints,
  invoiceEndpoints,
  contractEndpoints,
  webhookEndpoints,
  embedEndpoints,
  adminResourceEndpoints,
  pingEndpoints,
];
