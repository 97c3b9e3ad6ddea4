import { type SelectQueryBuilder, sql } from 'kysely';
import { z } from 'zod';
import { ValidationError } from '../errors.js';

/**
 * Every list: `?limit=` (1–100, default 20) and `?cursor=`, newest first, keyset-paginated on
 * (created_at, id) so pages stay stable while rows are added.
 */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export type PageRequest = z.output<typeof pageQuery>;

/** The response shape of a list of `item`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

interface PagePosition {
  readonly createdAt: Date;
  readonly id: string;
}

const positionSchema = z.object({ t: z.iso.datetime(), id: z.uuid() });

function encodeCursor(position: PagePosition): string {
  const json = JSON.stringify({ t: position.createdAt.toISOString(), id: position.id });
  return Buffer.from(json).toString('base64url');
}

function decodeCursor(cursor: string | undefined): PagePosition | null {
  if (cursor === undefined) return null;
  try {
    const parsed = positionSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { createdAt: new Date(parsed.t), id: parsed.id };
  } catch {
    throw new ValidationError([{ path: 'query.cursor', message: 'Not a cursor this API returned.' }]);
  }
}

/** One page of a query over a table with `created_at` and `id`, and the cursor of the next one. */
export async function newestFirst<DB, TB extends keyof DB, O extends { id: string; created_at: Date }>(
  query: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
): Promise<{ data: O[]; next_cursor: string | null }> {
  const after = decodeCursor(page.cursor);
  const filtered = after
    ? // A row comparison, which the (created_at, id) indexes serve directly.
      query.where(sql<boolean>`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`)
    : query;
  const rows = await filtered
    .orderBy(sql`created_at`, 'desc')
    .orderBy(sql`id`, 'desc')
    .limit(page.limit + 1)
    .execute();
  const data = rows.slice(0, page.limit);
  const last = data.at(-1);
  return {
    data,
    next_cursor:
      rows.length > page.limit && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null,
  };
}
