import type { Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import { newestFirst, type PageRequest } from '../db/pagination.js';
import type { Database } from '../db/tables.js';

export type WebhookRow = Selectable<Database['webhook_subscriptions']>;

/** Every column but the encrypted secret: nothing that lists subscriptions ever reads it. */
const listed = ['id', 'tenant_id', 'url', 'events', 'created_at'] as const;

export function insertWebhook(
  trx: Db,
  values: { id: string; tenantId: string; url: string; events: string[]; secretEnc: string; at: Date },
) {
  return trx
    .insertInto('webhook_subscriptions')
    .values({
      id: values.id,
      tenant_id: values.tenantId,
      url: values.url,
      events: values.events,
      secret_enc: values.secretEnc,
      created_at: values.at,
    })
    .returning(listed)
    .executeTakeFirstOrThrow();
}

export function listWebhooks(executor: Db, tenantId: string, page: PageRequest) {
  return newestFirst(
    executor.selectFrom('webhook_subscriptions').select(listed).where('tenant_id', '=', tenantId),
    page,
  );
}

export function deleteWebhook(trx: Db, tenantId: string, id: string) {
  return trx
    .deleteFrom('webhook_subscriptions')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .returning(listed)
    .executeTakeFirst();
}

export async function findWebhookTenant(executor: Db, id: string): Promise<string | undefined> {
  const row = await executor
    .selectFrom('webhook_subscriptions')
    .select('tenant_id')
    .where('id', '=', id)
    .executeTakeFirst();
  return row?.tenant_id;
}
