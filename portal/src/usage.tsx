/**
 * A key's usage: requests and limited (429) requests per 15-minute window over the last 24 hours, as
 * an inline SVG bar chart (attributes only, no style attributes: the CSP allows no inline style), with
 * a table of the same figures for screen readers, and the current window's remaining quota.
 */
import { useEffect, useState } from 'preact/hooks';
import { RATE_WINDOW_SECONDS } from '../../lib/vocabulary.js';
import { call } from './api.js';
import { maskedKey } from './keys.js';
import type { ApiKey, Usage } from './types.js';
import { ErrorBox, formatDate, useAction } from './ui.js';

const WIDTH = 960;
const HEIGHT = 240;
const AXIS = 28;

function time(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

function Chart({ usage, limit }: { usage: Usage; limit: number }) {
  const windows = usage.windows;
  const peak = Math.max(limit, ...windows.map((w) => w.requests), 1);
  const plot = HEIGHT - AXIS;
  const bar = WIDTH / Math.max(windows.length, 1);
  const y = (value: number) => plot - (value / peak) * (plot - 8);
  const total = windows.reduce((sum, w) => sum + w.requests, 0);
  const limited = windows.reduce((sum, w) => sum + w.limited, 0);
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`Requests per 15-minute window over 24 hours: ${total} requests, ${limited} limited`}
        preserveAspectRatio="none"
      >
        <line class="limit-line" x1={0} x2={WIDTH} y1={y(limit)} y2={y(limit)} />
        <text class="axis" x={4} y={y(limit) - 4}>
          limit {limit}
        </text>
        {windows.map((w, i) => (
          <g key={w.start}>
            <rect
              class="bar-requests"
              x={i * bar + 1}
              width={Math.max(bar - 2, 1)}
              y={y(w.requests)}
              height={plot - y(w.requests)}
            >
              <title>{`${time(w.start)}: ${w.requests} requests, ${w.limited} limited`}</title>
            </rect>
            {w.limited > 0 ? (
              <rect
                class="bar-limited"
                x={i * bar + 1}
                width={Math.max(bar - 2, 1)}
                y={y(w.limited)}
                height={plot - y(w.limited)}
              />
            ) : null}
          </g>
        ))}
        <line class="axis-line" x1={0} x2={WIDTH} y1={plot} y2={plot} />
        {windows
          .map((w, i) => ({ w, i }))
          .filter(({ i }) => i % 16 === 0)
          .map(({ w, i }) => (
            <text key={w.start} class="axis" x={i * bar + 2} y={HEIGHT - 8}>
              {time(w.start)}
            </text>
          ))}
      </svg>
      <figcaption>
        <span class="legend legend-requests" aria-hidden="true" /> requests{' '}
        <span class="legend legend-limited" aria-hidden="true" /> limited (answered 429) — {total} requests,{' '}
        {limited} limited in 24 hours.
      </figcaption>
    </figure>
  );
}

export function UsagePage({ keyId }: { keyId: string }) {
  const [key, setKey] = useState<ApiKey | null>(null);
  const [usage, setUsage] = useState<Usage | null>(null);
  const { busy, error, run } = useAction();
  const load = () =>
    run(async () => {
      const [k, u] = await Promise.all([
        call<ApiKey>('GET', `/v1/api-keys/${keyId}`),
        call<Usage>('GET', `/v1/api-keys/${keyId}/usage`),
      ]);
      setKey(k);
      setUsage(u);
    });
  useEffect(() => {
    load();
  }, [keyId]);
  const current = usage?.windows.at(-1);
  const limit = key?.rate_limit.limit ?? 0;
  const remaining = current ? Math.max(0, limit - current.requests) : limit;
  const windowEnd = current ? new Date(new Date(current.start).getTime() + RATE_WINDOW_SECONDS * 1000) : null;
  return (
    <section aria-labelledby="usage-title">
      <p>
        <a href="#/keys">← All keys</a>
      </p>
      <h1 id="usage-title">Usage{key ? ` of “${key.name}”` : ''}</h1>
      <ErrorBox error={error} />
      {!key || !usage ? (
        busy ? (
          <p role="status">
            <span class="spinner" aria-hidden="true" /> Loading usage…
          </p>
        ) : null
      ) : (
        <>
          <dl class="facts">
            <div>
              <dt>Key</dt>
              <dd>
                <code>{maskedKey(key)}</code> ({key.tier}, {key.status})
              </dd>
            </div>
            <div>
              <dt>Remaining in the current window</dt>
              <dd data-testid="remaining">
                <strong>{remaining}</strong> of {limit}
                {windowEnd ? ` (resets ${time(windowEnd.toISOString())})` : ''}
              </dd>
            </div>
            <div>
              <dt>Last used</dt>
              <dd>
                {usage.last_used_at ? formatDate(usage.last_used_at) : 'never'}
                {usage.last_used_ip ? ` from ${usage.last_used_ip}` : ''}
              </dd>
            </div>
          </dl>
          <Chart usage={usage} limit={limit} />
          <button type="button" class="button secondary" disabled={busy} aria-busy={busy} onClick={load}>
            {busy ? 'Refreshing…' : 'Refresh'}
          </button>
          <details>
            <summary>The figures as a table</summary>
            <table>
              <thead>
                <tr>
                  <th scope="col">Window</th>
                  <th scope="col">Requests</th>
                  <th scope="col">Limited</th>
                </tr>
              </thead>
              <tbody>
                {usage.windows
                  .filter((w) => w.requests > 0)
                  .map((w) => (
                    <tr key={w.start}>
                      <td>{formatDate(w.start)}</td>
                      <td>{w.requests}</td>
                      <td>{w.limited}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </section>
  );
}
