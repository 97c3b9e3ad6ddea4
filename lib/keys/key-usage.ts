import { recordAudit } from '../audit/audit.repository.js';
import type { Actor } from '../auth/caller.js';
import type { Db } from '../db/database.js';
import type { Logger } from '../log.js';
import type { Signals } from '../ratelimit/signals.js';
import { RATE_WINDOW_SECONDS, type Tier, tierRules } from '../vocabulary.js';

const WINDOW_MS = RATE_WINDOW_SECONDS * 1000;
/** API.md: the last 24 hours of 15-minute windows, the current one included. */
export const USAGE_WINDOWS = (24 * 3600) / RATE_WINDOW_SECONDS;
/** A window above this many times the trailing 24-hour mean is an anomaly. */
export const SPIKE_FACTOR = 5;
/** A window with fewer requests is never a spike: one call to a key idle for hours is not an anomaly. */
export const SPIKE_MIN_REQUESTS = 20;
/** `last_used_*` are written at most this often per key and instance: never a write per request. */
export const LAST_USED_INTERVAL_MS = 60_000;

export interface UsageWindow {
  readonly start: string;
  readonly requests: number;
  readonly limited: number;
}

/**
 * A key's requests per window over the last 24 hours, oldest first, from the counters the limiter's
 * round trip keeps (lib/ratelimit/signals.ts). Every request that reached the tier limit was counted
 * there and by the limiter, so those past the tier's limit are the limited ones.
 */
export async function usageWindows(
  signals: Signals,
  keyId: string,
  tier: Tier,
  at: Date,
): Promise<UsageWindow[]> {
  const current = Math.floor(at.getTime() / WINDOW_MS) * WINDOW_MS;
  const first = current - (USAGE_WINDOWS - 1) * WINDOW_MS;
  const counts = await signals.usage(keyId, first, current);
  const limit = tierRules[tier].limit;
  return Array.from({ length: USAGE_WINDOWS }, (_, i) => {
    const start = first + i * WINDOW_MS;
    const requests = counts.get(start) ?? 0;
    return { start: new Date(start).toISOString(), requests, limited: Math.max(0, requests - limit) };
  });
}

/**
 * The current window is a spike when it is above SPIKE_FACTOR × the mean of the 96 windows before it
 * and holds at least SPIKE_MIN_REQUESTS.
 */
export function isSpike(windows: readonly UsageWindow[], current: number): boolean {
  const total = windows.reduce((sum, w) => sum + w.requests, 0) - current;
  const mean = total / Math.max(1, windows.length - 1);
  return mean > 0 && current >= SPIKE_MIN_REQUESTS && current > SPIKE_FACTOR * mean;
}

const SYSTEM: Actor = { type: 'system', id: null, ip: null, requestId: null };

/** An anomaly as stored on the key (`api_keys.anomaly`) and as its audit event's metadata. */
export type KeyAnomaly =
  | { readonly kind: 'new_address'; readonly ip: string | null }
  | { readonly kind: 'spike'; readonly window_start: string; readonly requests: number };

export interface KeyUse {
  readonly keyId: string;
  readonly tenantId: string;
  readonly tier: Tier;
  readonly ip: string | null;
  readonly at: Date;
  /** First use from this address, by a key used from others before (from the limiter's round trip). */
  readonly newAddress: boolean;
}

/**
 * Off the request path (the pipeline hands `note`'s work to app.defer): `last_used_at`/`last_used_ip`,
 * debounced per key in this instance, and the anomalies — a first use from a new address, and a window
 * above 5× the trailing mean — as audit events of the key's tenant and, the latest one, on the key
 * itself (`anomaly`, `anomaly_at`). A spike is reported once per window.
 */
export class KeyUseRecorder {
  readonly #written = new Map<string, number>();
  readonly #spikes = new Map<string, number>();

  note(deps: { db: Db; signals: Signals; log: Logger }, use: KeyUse): Promise<void> | null {
    const at = use.at.getTime();
    const last = this.#written.get(use.keyId);
    if (!use.newAddress && last !== undefined && at - last < LAST_USED_INTERVAL_MS) return null;
    if (this.#written.size > 50_000) this.#written.clear(); // bounded: forgetting only costs a write
    this.#written.set(use.keyId, at);
    return this.#write(deps, use);
  }

  async #write(deps: { db: Db; signals: Signals }, use: KeyUse): Promise<void> {
    const windows = await usageWindows(deps.signals, use.keyId, use.tier, use.at).catch(() => null);
    const current = windows?.at(-1)?.requests ?? 0;
    const windowStart = Math.floor(use.at.getTime() / WINDOW_MS) * WINDOW_MS;
    const spike =
      windows !== null && this.#spikes.get(use.keyId) !== windowStart && isSpike(windows, current);
    if (spike) this.#spikes.set(use.keyId, windowStart);
    const anomalies: KeyAnomaly[] = [];
    if (spike)
      anomalies.push({ kind: 'spike', window_start: new Date(windowStart).toISOString(), requests: current });
    // Last, so that when one use raises both the key shows the new address (the security signal).
    if (use.newAddress) anomalies.push({ kind: 'new_address', ip: use.ip });
    await deps.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('api_keys')
        .set({ last_used_at: use.at, last_used_ip: use.ip })
        .where('id', '=', use.keyId)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', use.at)]))
        .execute();
      const latest = anomalies.at(-1);
      if (!latest) return;
      for (const anomaly of anomalies) {
        await recordAudit(
          trx,
          SYSTEM,
          {
            tenantId: use.tenantId,
            action: 'api_key.anomaly',
            target: { type: 'api_key', id: use.keyId },
            metadata: anomaly,
          },
          use.at,
        );
      }
      // The key shows its latest anomaly; one found later by another instance is not overwritten.
      await trx
        .updateTable('api_keys')
        .set({ anomaly: JSON.stringify(latest) as never, anomaly_at: use.at })
        .where('id', '=', use.keyId)
        .where((eb) => eb.or([eb('anomaly_at', 'is', null), eb('anomaly_at', '<=', use.at)]))
        .execute();
    });
  }
}
