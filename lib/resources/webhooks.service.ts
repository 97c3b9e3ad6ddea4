import { randomUUID } from 'node:crypto';
import { recordAudit } from '../audit/audit.repository.js';
import { randomToken } from '../auth/secrets.js';
import type { DataCipher } from '../crypto/data-cipher.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { type Resolve, refusedDestination } from './destination-policy.js';
import { secretContext } from './masking.js';
import type { Change } from './settings.service.js';
import { deleteWebhook, insertWebhook } from './webhooks.repository.js';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/**
 * Subscribes a URL, after the SSRF rule (lib/resources/destination-policy.ts) passed for it. The
 * signing secret is returned once and kept encrypted, bound to the subscription's row.
 */
export async function subscribeWebhook(
  change: Change,
  cipher: DataCipher,
  resolve: Resolve,
  input: { readonly url: string; readonly events: readonly string[] },
) {
  const refused = await refusedDestination(input.url, resolve);
  if (refused)
    throw new ValidationError([{ path: 'url', message: `The URL ${refused}.`, code: 'destination_refused' }]);
  const id = randomUUID();
  const secret = `${WEBHOOK_SECRET_PREFIX}${randomToken(32)}`;
  const events = [...new Set(input.events)];
  const row = await change.db.transaction().execute(async (trx) => {
    const inserted = await insertWebhook(trx, {
      id,
      tenantId: change.tenantId,
      url: input.url,
      events,
      secretEnc: cipher.encrypt(secret, secretContext('webhook.secret', change.tenantId, id)),
      at: change.at,
    });
    await recordAudit(
      trx,
      change.actor,
      {
        tenantId: change.tenantId,
        action: 'webhook.created',
        target: { type: 'webhook', id },
        metadata: { url: input.url, events },
      },
      change.at,
    );
    return inserted;
  });
  return { row, secret };
}

export function unsubscribeWebhook(change: Change, id: string) {
  return change.db.transaction().execute(async (trx) => {
    const row = await deleteWebhook(trx, change.tenantId, id);
    if (!row) throw new NotFoundError();
    await recordAudit(
      trx,
      change.actor,
      {
        tenantId: change.tenantId,
        action: 'webhook.deleted',
        target: { type: 'webhook', id },
        metadata: { url: row.url },
      },
      change.at,
    );
    return row;
  });
}
