/** The tenant's audit log (owners and admins), newest first, a page at a time. */
import { useEffect, useState } from 'preact/hooks';
import { call, type Me } from './api.js';
import type { AuditEvent, Page } from './types.js';
import { ErrorBox, formatDate, useAction } from './ui.js';

const PAGE_SIZE = 20;

function describe(value: { type: string; id: string | null } | null): string {
  if (!value) return '—';
  return value.id ? `${value.type} ${value.id}` : value.type;
}

export function AuditPage({ me }: { me: Me }) {
  const [page, setPage] = useState<Page<AuditEvent> | null>(null);
  // The cursors of the pages before this one, so "Newer" can go back (the API pages forward only).
  const [trail, setTrail] = useState<(string | null)[]>([]);
  const [current, setCurrent] = useState<string | null>(null);
  const { busy, error, run } = useAction();

  const load = (cursor: string | null) =>
    run(async () => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set('cursor', cursor);
      setPage(await call<Page<AuditEvent>>('GET', `/v1/tenants/${me.tenant.id}/audit-events?${query}`));
      setCurrent(cursor);
    });
  useEffect(() => {
    load(null);
  }, []);

  const older = async () => {
    if (!page?.next_cursor) return;
    const before = current;
    await load(page.next_cursor);
    setTrail((t) => [...t, before]);
  };
  const newer = async () => {
    const previous = trail.at(-1);
    if (previous === undefined) return;
    await load(previous);
    setTrail((t) => t.slice(0, -1));
  };

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <p class="hint">Everything done in {me.tenant.name}, newest first.</p>
      <ErrorBox error={error} />
      {page === null ? (
        <p role="status">
          <span class="spinner" aria-hidden="true" /> Loading events…
        </p>
      ) : (
        <table class="cards" aria-busy={busy}>
          <caption class="visually-hidden">Audit events, page {trail.length + 1}</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Actor</th>
              <th scope="col">Target</th>
              <th scope="col">IP</th>
            </tr>
          </thead>
          <tbody>
            {page.data.map((event) => (
              <tr key={event.id}>
                <td data-label="When">{formatDate(event.created_at)}</td>
                <th scope="row" data-label="Action">
                  <code>{event.action}</code>
                </th>
                <td data-label="Actor">{describe(event.actor)}</td>
                <td data-label="Target">{describe(event.target)}</td>
                <td data-label="IP">{event.ip ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Audit log pages">
        <button type="button" class="button secondary" disabled={busy || trail.length === 0} onClick={newer}>
          ← Newer
        </button>
        <span role="status">{busy ? 'Loading…' : `Page ${trail.length + 1}`}</span>
        <button type="button" class="button secondary" disabled={busy || !page?.next_cursor} onClick={older}>
          Older →
        </button>
      </nav>
    </section>
  );
}
