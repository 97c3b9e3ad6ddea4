import { sql } from 'kysely';
import { z } from 'zod';
import { ValidationError } from '../errors.js';

/** `?limit=&cursor=` for every list: newest first, keyset-paginated on (created_at, id). */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export interface PagePosition {
  readonly createdAt: Date;
  readonly id: string;
}

const positionSchema = z.object({ t: z.iso.datetime(), id: z.uuid() });

export function encodeCursor(position: PagePosition): string {
  return Buffer.from(JSON.stringify({ t: position.createdAt.toISOString(), id: position.id })).toString(
    'base64url',
  );
}

export function decodeCursor(cursor: string | undefined): PagePosition | null {
  if (cursor === undefined) return null;
  try {
    const parsed = positionSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { createdAt: new Date(parsed.t), id: parsed.id };
  } catch {
    throw new ValidationError([{ path: 'query.cursor', message: 'Not a cursor this API returned.' }]);
  }
}

/** Given `limit + 1` rows, the page and the cursor of the next one (null on the last page). */
export function toPage<T extends { id: string; created_at: Date }>(rows: T[], limit: number) {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return {
    data,
    next_cursor:
      rows.length > limit && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null,
  };
}

/** Rows after `position` in newest-first order: a row comparison the (created_at, id) index serves. */
export function olderThan(position: PagePosition) {
  return sql<boolean>`(created_at, id) < (${position.createdAt}::timestamptz, ${position.id}::uuid)`;
}
