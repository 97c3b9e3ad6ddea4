import * as z from 'zod';
import { emailSchema } from '../identity/email.js';
import { lazy } from '../lazy.js';
import { displayNameSchema } from '../validation/text.js';
import { TENANT_STATUSES, TIERS } from '../vocabulary.js';

export const tierSchema = lazy(() => z.enum(TIERS).meta({ id: 'Tier' }));
export const tenantStatusSchema = lazy(() => z.enum(TENANT_STATUSES).meta({ id: 'TenantStatus' }));

const slugSchema = lazy(() =>
  z
    .string()
    .regex(
      /^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/,
      'lowercase letters, digits and inner hyphens, at most 48',
    ),
);

export const tenantSchema = lazy(() =>
  z
    .object({
      id: z.uuid(),
      name: z.string(),
      slug: z.string(),
      status: tenantStatusSchema(),
      max_tier: tierSchema(),
      created_at: z.iso.datetime(),
      updated_at: z.iso.datetime(),
    })
    .meta({ id: 'Tenant' }),
);

export type TenantView = z.infer<ReturnType<typeof tenantSchema>>;

export const createTenantBody = lazy(() =>
  z.strictObject({
    name: displayNameSchema(),
    slug: slugSchema().optional(),
    max_tier: tierSchema().optional(),
    owner: z.strictObject({ email: emailSchema(), name: displayNameSchema() }),
  }),
);

export const updateTenantBody = lazy(() =>
  z
    .strictObject({
      name: displayNameSchema().optional(),
      status: tenantStatusSchema().optional(),
      max_tier: tierSchema().optional(),
    })
    .refine((body) => Object.keys(body).length > 0, 'send at least one of name, status, max_tier'),
);

export const tenantParams = lazy(() => z.object({ tenantId: z.uuid() }));
