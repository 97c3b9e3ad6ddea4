/** Small building blocks shared by every page: errors, fields, busy buttons, dialogs, one-time secrets. */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError, call } from './api.js';
import type { Page } from './types.js';

/**
 * The message for an error the API answered (title, detail, and every field error that no field of the
 * form shows: `fields` names those the form shows next to themselves), or any other error.
 */
export function ErrorBox({ error, fields = [] }: { error: unknown; fields?: readonly string[] }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  const general = api ? api.errors.filter((e) => !fields.includes(e.path.split('.')[0] ?? '')) : [];
  return (
    <div class="error" role="alert">
      <strong>{api ? api.title : 'Something went wrong'}</strong>
      {api?.detail ? <span> — {api.detail}</span> : null}
      {!api && error instanceof Error ? <span> — {error.message}</span> : null}
      {api?.status === 429 ? <span> Too many requests: wait a few minutes and try again.</span> : null}
      {general.length > 0 ? (
        <ul>
          {general.map((e) => (
            <li key={`${e.path}:${e.message}`}>{e.path ? `${e.path}: ${e.message}` : e.message}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

interface FieldProps {
  readonly label: string;
  readonly error?: readonly string[];
  readonly hint?: string;
  readonly children: (props: {
    id: string;
    'aria-describedby'?: string;
    'aria-invalid'?: boolean;
  }) => ComponentChildren;
}

/** A labelled control with its hint and the API's field errors next to it. */
export function Field({ label, error = [], hint, children }: FieldProps) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', error.length > 0 ? `${id}-error` : '']
    .filter(Boolean)
    .join(' ');
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children({
        id,
        ...(described ? { 'aria-describedby': described } : {}),
        ...(error.length > 0 ? { 'aria-invalid': true } : {}),
      })}
      {hint ? (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      ) : null}
      {error.length > 0 ? (
        <small id={`${id}-error`} class="field-error">
          {error.join(' ')}
        </small>
      ) : null}
    </div>
  );
}

/** A submit or action button that shows progress while `busy`. */
export function BusyButton({
  busy,
  label,
  busyLabel,
  kind = 'primary',
  type = 'submit',
  onClick,
}: {
  busy: boolean;
  label: string;
  busyLabel: string;
  kind?: 'primary' | 'secondary' | 'danger';
  type?: 'submit' | 'button';
  onClick?: () => void;
}) {
  return (
    <button type={type} class={`button ${kind}`} disabled={busy} aria-busy={busy} onClick={onClick}>
      {busy ? (
        <>
          <span class="spinner" aria-hidden="true" />
          {busyLabel}
        </>
      ) : (
        label
      )}
    </button>
  );
}

/** A modal dialog (native <dialog>: focus stays inside, Escape closes it). */
export function Dialog({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

/**
 * A secret shown once (a new API key, a temporary password): a copy button and a plain warning. The
 * parent drops it from its state when the person dismisses it, so it leaves the page.
 */
export function OneTimeSecret({ label, value, warning }: { label: string; value: string; warning: string }) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <div class="secret">
      <p class="warning" role="note">
        <strong>Copy it now.</strong> {warning}
      </p>
      <label class="secret-label">
        {label}
        <output class="secret-value" data-secret="">
          {value}
        </output>
      </label>
      <button type="button" class="button secondary" onClick={copy}>
        Copy
      </button>
      <span role="status" class="copy-status">
        {copied === 'yes'
          ? 'Copied to the clipboard.'
          : copied === 'failed'
            ? 'Copy failed: select the text and copy it.'
            : ''}
      </span>
    </div>
  );
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Runs an async action with a busy flag and an error slot. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** The button under a paged list (usePagedList) that appends its next page. */
export function LoadMore({ busy, what, onClick }: { busy: boolean; what: string; onClick: () => void }) {
  return (
    <BusyButton
      type="button"
      kind="secondary"
      busy={busy}
      label={`Load more ${what}`}
      busyLabel="Loading…"
      onClick={onClick}
    />
  );
}

/**
 * A list the API pages forward with `next_cursor`: the first page on mount, `more()` appends the next,
 * `reload()` starts again from the first. `busy` and `error` are the loading action's.
 */
export function usePagedList<T>(path: string, pageSize: number) {
  const [items, setItems] = useState<T[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const action = useAction();
  const load = (after: string | null) =>
    action.run(async () => {
      const query = new URLSearchParams({ limit: String(pageSize) });
      if (after) query.set('cursor', after);
      const page = await call<Page<T>>('GET', `${path}?${query}`);
      setItems((before) => (after && before ? [...before, ...page.data] : page.data));
      setCursor(page.next_cursor);
    });
  useEffect(() => {
    load(null);
  }, [path]);
  return {
    items,
    hasMore: cursor !== null,
    more: () => load(cursor),
    reload: () => load(null),
    busy: action.busy,
    error: action.error,
  };
}

/** Field errors of `error` for `field`, when it is an API error. */
export function fieldErrors(error: unknown, field: string): string[] {
  return error instanceof ApiError ? error.forField(field) : [];
}
