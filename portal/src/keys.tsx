/** API keys: the list, and the create, edit, rotate and revoke dialogs (docs/API.md "API keys"). */
import { useState } from 'preact/hooks';
import { KEY_LIMITS, type Scope, type Tier } from '../../lib/vocabulary.js';
import { call, type Me } from './api.js';
import { ConfirmDialog, FormActions, SecretDialog } from './dialogs.js';
import { canChangeKeyOfTier, canManageKeys, creatableTiers, scopesFor } from './permissions.js';
import type { ApiKey } from './types.js';
import { Dialog, ErrorBox, Field, fieldErrors, formatDate, LoadMore, useAction, usePagedList } from './ui.js';

export const maskedKey = (key: ApiKey) => `${key.prefix}…${key.last4}`;

/** "203.0.113.9, 2001:db8::/32" or one per line → the API's list. */
function parseIpList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter(Boolean);
}

type Open =
  | { readonly kind: 'create' }
  | { readonly kind: 'edit' | 'rotate' | 'revoke'; readonly key: ApiKey }
  | null;

export function KeysPage({ me }: { me: Me }) {
  const { items: keys, hasMore, more, reload, busy, error } = usePagedList<ApiKey>('/v1/api-keys', 20);
  const [open, setOpen] = useState<Open>(null);
  const manage = canManageKeys(me.user.role);
  const close = (changed: boolean) => {
    setOpen(null);
    if (changed) reload();
  };

  return (
    <section aria-labelledby="keys-title">
      <div class="page-head">
        <h1 id="keys-title">API keys</h1>
        {manage ? (
          <button type="button" class="button primary" onClick={() => setOpen({ kind: 'create' })}>
            Create API key
          </button>
        ) : null}
      </div>
      {!manage ? (
        <p class="hint">As a member you can see the keys and their usage; owners and admins manage them.</p>
      ) : null}
      <ErrorBox error={error} />
      {keys === null ? (
        <p role="status" aria-live="polite">
          <span class="spinner" aria-hidden="true" /> Loading keys…
        </p>
      ) : keys.length === 0 ? (
        <p>No API keys yet.{manage ? ' Create one to connect an integration.' : ''}</p>
      ) : (
        <table class="cards">
          <caption class="visually-hidden">API keys of {me.tenant.name}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Tier</th>
              <th scope="col">Scopes</th>
              <th scope="col">Status</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => {
              const live = key.status !== 'revoked' && key.status !== 'expired';
              const changeable = manage && live && canChangeKeyOfTier(key.tier, me.tenant.max_tier);
              return (
                <tr key={key.id} data-key-id={key.id}>
                  <th scope="row" data-label="Name">
                    {key.name}
                  </th>
                  <td data-label="Key">
                    <code>{maskedKey(key)}</code>
                  </td>
                  <td data-label="Tier">{key.tier}</td>
                  <td data-label="Scopes">{key.scopes.join(', ')}</td>
                  <td data-label="Status">
                    <span class={`status status-${key.status}`}>{key.status}</span>
                    {key.status === 'rotating' && key.previous_secret_expires_at ? (
                      <small class="hint">
                        {' '}
                        old secret until {formatDate(key.previous_secret_expires_at)}
                      </small>
                    ) : null}
                  </td>
                  <td data-label="Expires">{formatDate(key.expires_at)}</td>
                  <td data-label="Last used">
                    {key.last_used_at ? (
                      <>
                        {formatDate(key.last_used_at)}
                        {key.last_used_ip ? <small class="hint"> from {key.last_used_ip}</small> : null}
                      </>
                    ) : (
                      'never'
                    )}
                  </td>
                  <td data-label="Actions" class="row-actions">
                    <a class="button secondary small" href={`#/keys/${key.id}/usage`}>
                      Usage<span class="visually-hidden"> of {key.name}</span>
                    </a>
                    {changeable ? (
                      <>
                        <button
                          type="button"
                          class="button secondary small"
                          onClick={() => setOpen({ kind: 'edit', key })}
                        >
                          Edit<span class="visually-hidden"> {key.name}</span>
                        </button>
                        <button
                          type="button"
                          class="button secondary small"
                          onClick={() => setOpen({ kind: 'rotate', key })}
                        >
                          Rotate<span class="visually-hidden"> {key.name}</span>
                        </button>
                      </>
                    ) : null}
                    {manage && key.status !== 'revoked' ? (
                      <button
                        type="button"
                        class="button danger small"
                        onClick={() => setOpen({ kind: 'revoke', key })}
                      >
                        Revoke<span class="visually-hidden"> {key.name}</span>
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {hasMore ? <LoadMore busy={busy} what="keys" onClick={more} /> : null}
      {open?.kind === 'create' ? <CreateKeyDialog me={me} onClose={close} /> : null}
      {open?.kind === 'edit' ? <EditKeyDialog apiKey={open.key} onClose={close} /> : null}
      {open?.kind === 'rotate' ? <RotateKeyDialog apiKey={open.key} onClose={close} /> : null}
      {open?.kind === 'revoke' ? <RevokeKeyDialog apiKey={open.key} onClose={close} /> : null}
    </section>
  );
}

function ScopePicker({
  tier,
  value,
  onChange,
  errors,
}: {
  tier: Tier;
  value: readonly Scope[];
  onChange: (scopes: Scope[]) => void;
  errors: readonly string[];
}) {
  const allowed = scopesFor(tier);
  return (
    <fieldset class="field" aria-invalid={errors.length > 0}>
      <legend>Scopes (what the key may do)</legend>
      <div class="checks">
        {allowed.map((scope) => (
          <label key={scope} class="check">
            <input
              type="checkbox"
              name="scopes"
              value={scope}
              checked={value.includes(scope)}
              onChange={(e) =>
                onChange(e.currentTarget.checked ? [...value, scope] : value.filter((s) => s !== scope))
              }
            />
            {scope}
          </label>
        ))}
      </div>
      {errors.length > 0 ? <small class="field-error">{errors.join(' ')}</small> : null}
    </fieldset>
  );
}

function CreateKeyDialog({ me, onClose }: { me: Me; onClose: (changed: boolean) => void }) {
  const tiers = creatableTiers(me.tenant.max_tier);
  const [name, setName] = useState('');
  const [tier, setTier] = useState<Tier>(tiers[0] ?? 'public');
  const [scopes, setScopes] = useState<Scope[]>([]);
  const [ips, setIps] = useState('');
  const [days, setDays] = useState('');
  const [created, setCreated] = useState<ApiKey | null>(null);
  const { busy, error, run } = useAction();
  const chooseTier = (next: Tier) => {
    setTier(next);
    // A scope the new tier cannot carry is dropped, not sent to be refused.
    setScopes((before) => before.filter((scope) => scopesFor(next).includes(scope)));
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      const body: Record<string, unknown> = { name, tier, scopes };
      const list = parseIpList(ips);
      if (list.length > 0) body.ip_whitelist = list;
      if (days.trim()) body.expires_in_days = Number(days);
      setCreated(await call<ApiKey>('POST', '/v1/api-keys', body));
    });
  };
  if (created?.key) {
    return (
      <SecretDialog
        title={`Your new key “${created.name}”`}
        label="API key"
        value={created.key}
        warning="This is the only time the key is shown: we store only a hash of it. Keep it in a secret manager; if it is lost, rotate the key."
        doneLabel="I have stored the key"
        onDone={() => onClose(true)}
      >
        <p class="hint">
          {created.tier} tier, {created.rate_limit.limit} requests per 15 minutes; expires{' '}
          {formatDate(created.expires_at)}.
        </p>
      </SecretDialog>
    );
  }
  return (
    <Dialog title="Create API key" onClose={() => onClose(false)}>
      <form onSubmit={submit} aria-label="Create API key">
        <Field label="Name" error={fieldErrors(error, 'name')}>
          {(props) => (
            <input
              {...props}
              required
              maxLength={200}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field
          label="Tier"
          hint={`Your tenant may create keys up to the ${me.tenant.max_tier} tier.`}
          error={fieldErrors(error, 'tier')}
        >
          {(props) => (
            <select {...props} value={tier} onChange={(e) => chooseTier(e.currentTarget.value as Tier)}>
              {tiers.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          )}
        </Field>
        <ScopePicker tier={tier} value={scopes} onChange={setScopes} errors={fieldErrors(error, 'scopes')} />
        <Field
          label="Allowed IP addresses (optional)"
          hint={`IPv4/IPv6 addresses or CIDR ranges, one per line or comma-separated; at most ${KEY_LIMITS.maxIpEntries}. Empty: any address.`}
          error={fieldErrors(error, 'ip_whitelist')}
        >
          {(props) => (
            <textarea {...props} rows={3} value={ips} onInput={(e) => setIps(e.currentTarget.value)} />
          )}
        </Field>
        <Field
          label="Expires in days (optional)"
          hint={`${KEY_LIMITS.expiresInDays.min}–${KEY_LIMITS.expiresInDays.max}; empty: ${KEY_LIMITS.expiresInDays.default}.`}
          error={fieldErrors(error, 'expires_in_days')}
        >
          {(props) => (
            <input
              {...props}
              type="number"
              inputMode="numeric"
              min={KEY_LIMITS.expiresInDays.min}
              max={KEY_LIMITS.expiresInDays.max}
              value={days}
              onInput={(e) => setDays(e.currentTarget.value)}
            />
          )}
        </Field>
        <ErrorBox error={error} fields={['name', 'tier', 'scopes', 'ip_whitelist', 'expires_in_days']} />
        <FormActions busy={busy} label="Create key" busyLabel="Creating…" onCancel={() => onClose(false)} />
      </form>
    </Dialog>
  );
}

function EditKeyDialog({ apiKey, onClose }: { apiKey: ApiKey; onClose: (changed: boolean) => void }) {
  const [name, setName] = useState(apiKey.name);
  const [scopes, setScopes] = useState<Scope[]>(apiKey.scopes);
  const [ips, setIps] = useState(apiKey.ip_whitelist.join('\n'));
  const { busy, error, run } = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const saved = await run(() =>
      call<ApiKey>('PATCH', `/v1/api-keys/${apiKey.id}`, { name, scopes, ip_whitelist: parseIpList(ips) }),
    );
    if (saved) onClose(true);
  };
  return (
    <Dialog title={`Edit “${apiKey.name}”`} onClose={() => onClose(false)}>
      <form onSubmit={submit} aria-label={`Edit ${apiKey.name}`}>
        <Field label="Name" error={fieldErrors(error, 'name')}>
          {(props) => (
            <input {...props} required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          )}
        </Field>
        <ScopePicker
          tier={apiKey.tier}
          value={scopes}
          onChange={setScopes}
          errors={fieldErrors(error, 'scopes')}
        />
        <Field
          label="Allowed IP addresses"
          hint="One per line or comma-separated; empty: any address."
          error={fieldErrors(error, 'ip_whitelist')}
        >
          {(props) => (
            <textarea {...props} rows={3} value={ips} onInput={(e) => setIps(e.currentTarget.value)} />
          )}
        </Field>
        <ErrorBox error={error} fields={['name', 'scopes', 'ip_whitelist']} />
        <FormActions busy={busy} label="Save changes" busyLabel="Saving…" onCancel={() => onClose(false)} />
      </form>
    </Dialog>
  );
}

function RotateKeyDialog({ apiKey, onClose }: { apiKey: ApiKey; onClose: (changed: boolean) => void }) {
  const { min, max, default: fallback } = KEY_LIMITS.gracePeriodHours;
  const [hours, setHours] = useState(String(fallback));
  const [rotated, setRotated] = useState<ApiKey | null>(null);
  const { busy, error, run } = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const answer = await run(() =>
      call<ApiKey>('POST', `/v1/api-keys/${apiKey.id}/rotate`, { grace_period_hours: Number(hours) }),
    );
    if (answer) setRotated(answer);
  };
  if (rotated?.key) {
    return (
      <SecretDialog
        title={`New secret for “${rotated.name}”`}
        label="New API key"
        value={rotated.key}
        warning="This is the only time the new key is shown. Put it in your integrations before the old one ends."
        doneLabel="I have stored the key"
        onDone={() => onClose(true)}
      >
        <p class="notice" role="status">
          {rotated.previous_secret_expires_at
            ? `The previous secret keeps working until ${formatDate(rotated.previous_secret_expires_at)}.`
            : 'The previous secret stopped working at once.'}
        </p>
      </SecretDialog>
    );
  }
  return (
    <Dialog title={`Rotate “${apiKey.name}”`} onClose={() => onClose(false)}>
      <form onSubmit={submit} aria-label={`Rotate ${apiKey.name}`}>
        <p>
          A new secret replaces <code>{maskedKey(apiKey)}</code>; the key keeps its name, scopes, IP list,
          expiry and usage. The old secret keeps working for the grace period so your integrations can switch.
        </p>
        <Field
          label="Grace period (hours)"
          hint={`${min}–${max}; 0 ends the old secret at once.`}
          error={fieldErrors(error, 'grace_period_hours')}
        >
          {(props) => (
            <input
              {...props}
              type="number"
              inputMode="numeric"
              required
              min={min}
              max={max}
              value={hours}
              onInput={(e) => setHours(e.currentTarget.value)}
            />
          )}
        </Field>
        <ErrorBox error={error} fields={['grace_period_hours']} />
        <FormActions busy={busy} label="Rotate key" busyLabel="Rotating…" onCancel={() => onClose(false)} />
      </form>
    </Dialog>
  );
}

function RevokeKeyDialog({ apiKey, onClose }: { apiKey: ApiKey; onClose: (changed: boolean) => void }) {
  return (
    <ConfirmDialog
      title={`Revoke “${apiKey.name}”?`}
      confirmLabel={`Revoke “${apiKey.name}”`}
      busyLabel="Revoking…"
      action={() => call<ApiKey>('DELETE', `/v1/api-keys/${apiKey.id}`)}
      onClose={onClose}
    >
      <p>
        The key <strong>{apiKey.name}</strong> (<code>{maskedKey(apiKey)}</code>) stops working at once, for
        every integration that uses it. This cannot be undone.
      </p>
    </ConfirmDialog>
  );
}
