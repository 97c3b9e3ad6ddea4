/** Dialog pieces the key, team and password pages share: a form's buttons, a confirmation, a secret shown once. */
import type { ComponentChildren } from 'preact';
import { BusyButton, Dialog, ErrorBox, OneTimeSecret, useAction } from './ui.js';

/** A form's submit button (showing progress while `busy`) and its Cancel. */
export function FormActions({
  busy,
  label,
  busyLabel,
  onCancel,
}: {
  busy: boolean;
  label: string;
  busyLabel: string;
  onCancel: () => void;
}) {
  return (
    <div class="actions">
      <BusyButton busy={busy} label={label} busyLabel={busyLabel} />
      <button type="button" class="button secondary" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

/**
 * "Are you sure?" before something that cannot be undone: the danger button runs `action`; a failure
 * shows in the dialog, a success closes it as changed.
 */
export function ConfirmDialog({
  title,
  confirmLabel,
  busyLabel,
  action,
  onClose,
  children,
}: {
  title: string;
  confirmLabel: string;
  busyLabel: string;
  action: () => Promise<unknown>;
  onClose: (changed: boolean) => void;
  children: ComponentChildren;
}) {
  const { busy, error, run } = useAction();
  const confirm = async () => {
    const done = await run(async () => {
      await action();
      return true;
    });
    if (done) onClose(true);
  };
  return (
    <Dialog title={title} onClose={() => onClose(false)}>
      {children}
      <ErrorBox error={error} />
      <div class="actions">
        <BusyButton
          type="button"
          kind="danger"
          busy={busy}
          label={confirmLabel}
          busyLabel={busyLabel}
          onClick={confirm}
        />
        <button type="button" class="button secondary" onClick={() => onClose(false)}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

/** The dialog that shows a new secret once (OneTimeSecret), then `children`, then the button that dismisses it. */
export function SecretDialog({
  title,
  label,
  value,
  warning,
  doneLabel,
  onDone,
  children,
}: {
  title: string;
  label: string;
  value: string;
  warning: string;
  doneLabel: string;
  onDone: () => void;
  children?: ComponentChildren;
}) {
  return (
    <Dialog title={title} onClose={onDone}>
      <OneTimeSecret label={label} value={value} warning={warning} />
      {children}
      <div class="actions">
        <button type="button" class="button primary" onClick={onDone}>
          {doneLabel}
        </button>
      </div>
    </Dialog>
  );
}
