import { type SelectQueryBuilder, sql } from 'kysely';
import * as z from 'zod';
import { ValidationError } from '../errors.js';
import { lazy } from '../lazy.js';

/**
 * Every list: `?limit=` (1–100, default 20) and `?cursor=`, newest first, keyset-paginated on
 * (created_at, id) so pages stay stable while rows are added.
 */
export const pageQuery = lazy(() =>
  z.object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional(),
  }),
);

export type PageRequest = z.output<ReturnType<typeof pageQuery>>;

/** The response shape of a list of `item`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

interface PagePosition {
  readonly createdAt: Date;
  readonly id: string;
}

/**
 * The range a cursor's timestamp may take: rows are stamped by the database clock, so nothing older
 * than the epoch or later than year 9999 was ever handed out. The bounds sit well inside what both
 * JavaScript dates and Postgres `timestamptz` (4713 BC – AD 294276) represent, so a crafted cursor
 * can never reach the database as an out-of-range value (a 500 on PGlite before this check).
 */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Exactly the form `encodeCursor` writes: `Date#toISOString()` of an in-range instant. */
const cursorTime = z.string().refine((text) => {
  const at = new Date(text);
  const ms = at.getTime();
  return Number.isFinite(ms) && ms >= EARLIEST && ms <= LATEST && at.toISOString() === text;
});

const positionSchema = lazy(() => z.strictObject({ t: cursorTime, id: z.uuid() }));

function encodeCursor(position: PagePosition): string {
  const json = JSON.stringify({ t: position.createdAt.toISOString(), id: position.id });
  return Buffer.from(json).toString('base64url');
}

/**
 * Cursors are validated, not signed: a cursor only positions a query the caller may already run
 * (every list is scoped by its tenant before the cursor applies), and any position a forged cursor
 * names is one that paging reaches anyway. Signing would add a secret whose rotation breaks every
 * outstanding cursor, for no protection. What must hold is that no crafted value reaches SQL as
 * anything but an in-range timestamp and a UUID; everything else is `422` on `query.cursor`.
 */
function decodeCursor(cursor: string | undefined): PagePosition | null {
  if (cursor === undefined) return null;
  const invalid = () =>
    new ValidationError([{ path: 'query.cursor', message: 'Not a cursor this API returned.' }]);
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const parsed = positionSchema().safeParse(decoded);
  if (!parsed.success) throw invalid();
  return { createdAt: new Date(parsed.data.t), id: parsed.data.id };
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
