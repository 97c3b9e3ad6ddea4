import { randomBytes } from 'node:crypto';
import { recordAudit } from '../audit/audit.repository.js';
import type { Actor } from '../auth/caller.js';
import type { Db } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import type { JsonValue, Tier } from '../db/tables.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Signals } from '../ratelimit/signals.js';
import { insertTenant, slugTaken, type TenantRow, updateTenant } from './tenant.repository.js';
import type { TenantView } from './tenant.schemas.js';

export function toTenantView(row: TenantRow): TenantView {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    status: row.status,
    max_tier: row.max_tier,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** A slug from a display name: "Acme Ltd." → "acme-ltd". */
export function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return base || 'tenant';
}

export interface CreateTenantInput {
  readonly name: string;
  readonly slug?: string | undefined;
  readonly maxTier?: Tier | undefined;
}

/**
 * Creates a tenant inside the caller's transaction (so that whatever else is created with it — its
 * owner — commits together). A slug the caller chose must be free (409); a derived one that is
 * taken gets a random suffix.
 */
export async function createTenant(
  trx: Db,
  actor: Actor,
  input: CreateTenantInput,
  at: Date,
): Promise<TenantRow> {
  const derived = slugify(input.name);
  const slug =
    input.slug ??
    ((await slugTaken(trx, derived)) ? `${derived}-${randomBytes(3).toString('hex')}` : derived);
  let tenant: TenantRow;
  try {
    tenant = await insertTenant(trx, { name: input.name, slug, maxTier: input.maxTier ?? 'public', at });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(`The slug "${slug}" is taken.`);
    throw error;
  }
  await recordAudit(
    trx,
    actor,
    {
      tenantId: tenant.id,
      action: 'tenant.created',
      target: { type: 'tenant', id: tenant.id },
      metadata: { name: tenant.name, slug: tenant.slug, max_tier: tenant.max_tier },
    },
    at,
  );
  return tenant;
}

export async function changeTenant(
  db: Db,
  actor: Actor,
  id: string,
  changes: {
    name?: string | undefined;
    status?: 'active' | 'suspended' | undefined;
    max_tier?: Tier | undefined;
  },
  at: Date,
): Promise<TenantRow> {
  const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
  return db.transaction().execute(async (trx) => {
    const result = await updateTenant(trx, id, defined, at);
    if (!result) throw new NotFoundError();
    const diff: Record<string, JsonValue> = {};
    for (const field of Object.keys(defined) as (keyof typeof defined & keyof TenantRow)[]) {
      const from = result.before[field];
      const to = result.after[field];
      if (from !== to) diff[field] = { from: String(from), to: String(to) };
    }
    const action =
      'status' in diff
        ? result.after.status === 'suspended'
          ? 'tenant.suspended'
          : 'tenant.reactivated'
        : 'tenant.updated';
    await recordAudit(
      trx,
      actor,
      { tenantId: id, action, target: { type: 'tenant', id }, metadata: { changes: diff } },
      at,
    );
    return result.after;
  });
}

/**
 * After a committed change of a tenant: the signal moves, so every instance's cached keys and logins
 * are re-verified from Postgres on their next use. Tenant changes are rare, so one epoch for all does.
 */
export async function tenantChanged(deps: { signals: Signals; log: Logger }): Promise<void> {
  await deps.signals.bumpTenants().catch((error: unknown) => {
    deps.log.error(
      'tenant change signal not written: other instances may use cached keys and logins until their TTL',
      {
        error,
      },
    );
  });
}
