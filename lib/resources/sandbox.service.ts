import { recordAudit } from '../audit/audit.repository.js';
import { countLiveKeys, findEventRouting, insertSandboxRun } from './admin-resources.repository.js';
import { type Resolve, refusedDestination } from './destination-policy.js';
import { findBusinessSettings, findFirsConnection, findFirsCredentials } from './settings.repository.js';
import type { Change } from './settings.service.js';

export interface SandboxCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Route {
  readonly event: string;
  readonly url: string;
  readonly enabled: boolean;
}

/** The named checks of a sandbox run, in a fixed order (API.md §5 "Admin resources"). */
async function runChecks(change: Change, resolve: Resolve): Promise<SandboxCheck[]> {
  const { db, tenantId, at } = change;
  const [keys, settings, credentials, connection, routing] = await Promise.all([
    countLiveKeys(db, tenantId, at),
    findBusinessSettings(db, tenantId),
    findFirsCredentials(db, tenantId),
    findFirsConnection(db, tenantId),
    findEventRouting(db, tenantId),
  ]);
  const missing = settings
    ? (['legal_name', 'tin', 'email', 'address'] as const).filter((field) => settings[field] === null)
    : ['legal_name', 'tin', 'email', 'address'];
  const routes = ((routing?.routes ?? []) as unknown as Route[]).filter((route) => route.enabled);
  const refusals: string[] = [];
  for (const route of routes) {
    // The policy is applied again: what a name resolves to may have changed since it was saved.
    const reason = await refusedDestination(route.url, resolve);
    if (reason) refusals.push(`${route.event} → ${route.url}: ${reason}`);
  }
  return [
    {
      name: 'active_keys',
      ok: keys > 0,
      detail: keys > 0 ? `${keys} active API key(s)` : 'no active API key',
    },
    {
      name: 'business_settings_complete',
      ok: missing.length === 0,
      detail: missing.length === 0 ? 'complete' : `missing: ${missing.join(', ')}`,
    },
    {
      name: 'firs_credentials_present',
      ok: credentials !== undefined || connection !== undefined,
      detail: credentials
        ? 'FIRS credentials saved'
        : connection
          ? 'connected through FIRS OAuth'
          : 'no FIRS credentials and no FIRS OAuth connection',
    },
    {
      name: 'event_routes_pass_policy',
      ok: routes.length > 0 && refusals.length === 0,
      detail:
        routes.length === 0
          ? 'no enabled event route'
          : refusals.length === 0
            ? `${routes.length} route(s) pass the destination policy`
            : refusals.join('; '),
    },
  ];
}

/** Runs the checks and keeps the run, audited in the same transaction. */
export async function createSandboxRun(change: Change, resolve: Resolve) {
  const checks = await runChecks(change, resolve);
  const ok = checks.every((check) => check.ok);
  return change.db.transaction().execute(async (trx) => {
    const run = await insertSandboxRun(trx, change.tenantId, checks, ok, change.at);
    await recordAudit(
      trx,
      change.actor,
      {
        tenantId: change.tenantId,
        action: 'sandbox.run_created',
        target: { type: 'sandbox_run', id: run.id },
        metadata: { ok, failed: checks.filter((check) => !check.ok).map((check) => check.name) },
      },
      change.at,
    );
    return run;
  });
}
