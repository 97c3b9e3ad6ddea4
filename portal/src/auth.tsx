/** Sign-in, first sign-in with a temporary password, forgot password and the reset page. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, publicCall, startSession } from './api.js';
import { FormActions } from './dialogs.js';
import { BusyButton, ErrorBox, Field, fieldErrors, useAction } from './ui.js';

/** The required email of an account (the username password managers fill in). */
function EmailField({
  error,
  value,
  onInput,
}: {
  error: readonly string[];
  value: string;
  onInput: (value: string) => void;
}) {
  return (
    <Field label="Email" error={error}>
      {(props) => (
        <input
          {...props}
          type="email"
          autocomplete="username"
          required
          value={value}
          onInput={(e) => onInput(e.currentTarget.value)}
        />
      )}
    </Field>
  );
}

/** A required password input in a Field, with the autocomplete hint password managers go by. */
function PasswordField({
  label,
  hint,
  error,
  autocomplete,
  minLength,
  value,
  onInput,
}: {
  label: string;
  hint?: string;
  error?: readonly string[];
  autocomplete: 'current-password' | 'new-password';
  minLength?: number;
  value: string;
  onInput: (value: string) => void;
}) {
  return (
    <Field label={label} hint={hint} error={error}>
      {(props) => (
        <input
          {...props}
          type="password"
          autocomplete={autocomplete}
          required
          minLength={minLength}
          value={value}
          onInput={(e) => onInput(e.currentTarget.value)}
        />
      )}
    </Field>
  );
}

interface Tokens {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly expires_in: number;
}

export function SignIn({
  notice,
  onSignedIn,
  onTemporary,
}: {
  notice: string | null;
  onSignedIn: () => void;
  onTemporary: (email: string, temporaryPassword: string) => void;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      try {
        startSession(await publicCall<Tokens>('POST', '/v1/auth', { email, password }));
      } catch (caught) {
        if (caught instanceof ApiError && caught.code === 'password_change_required') {
          onTemporary(email, password);
          return;
        }
        throw caught;
      }
      onSignedIn();
    });
  };
  return (
    <main class="narrow">
      <h1>Sign in to the developer portal</h1>
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <form onSubmit={submit} aria-label="Sign in">
        <EmailField error={fieldErrors(error, 'email')} value={email} onInput={setEmail} />
        <PasswordField
          label="Password"
          error={fieldErrors(error, 'password')}
          autocomplete="current-password"
          value={password}
          onInput={setPassword}
        />
        <ErrorBox error={error} fields={['email', 'password']} />
        <BusyButton busy={busy} label="Sign in" busyLabel="Signing in…" />
      </form>
      <p>
        <a href="#/forgot-password">Forgot your password?</a>
      </p>
    </main>
  );
}

/** First sign-in: the temporary password is exchanged for one the person chooses. */
export function SetPassword({
  email,
  temporaryPassword,
  onSignedIn,
  onCancel,
}: {
  email: string;
  temporaryPassword: string;
  onSignedIn: () => void;
  onCancel: () => void;
}) {
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const { busy, error, setError, run } = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    if (password !== repeat) {
      setError(
        new ApiError(422, 'mismatch', 'The two passwords differ', 'Type the same new password twice.'),
      );
      return;
    }
    await run(async () => {
      startSession(
        await publicCall<Tokens>('POST', '/v1/auth/set-password', {
          email,
          temporary_password: temporaryPassword,
          new_password: password,
        }),
      );
      onSignedIn();
    });
  };
  return (
    <main class="narrow">
      <h1>Choose your password</h1>
      <p>
        You signed in as <strong>{email}</strong> with a temporary password. Choose your own password (at
        least 8 characters, not a common one and not containing your email) to continue.
      </p>
      <form onSubmit={submit} aria-label="Choose your password">
        <PasswordField
          label="New password"
          error={fieldErrors(error, 'new_password')}
          autocomplete="new-password"
          minLength={8}
          value={password}
          onInput={setPassword}
        />
        <PasswordField
          label="New password again"
          autocomplete="new-password"
          value={repeat}
          onInput={setRepeat}
        />
        <ErrorBox error={error} fields={['new_password']} />
        <FormActions busy={busy} label="Set password and sign in" busyLabel="Saving…" onCancel={onCancel} />
      </form>
    </main>
  );
}

export function ForgotPassword() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      const answer = await publicCall<{ message: string }>('POST', '/v1/auth/forgot-password', { email });
      setSent(answer.message);
    });
  };
  return (
    <main class="narrow">
      <h1>Forgot your password?</h1>
      {sent ? (
        <p class="notice" role="status">
          {sent} If an account exists for {email}, a link to reset its password is on its way; it works for 60
          minutes.
        </p>
      ) : (
        <form onSubmit={submit} aria-label="Request a reset link">
          <p>Enter your email and we will send you a link to choose a new password.</p>
          <EmailField error={fieldErrors(error, 'email')} value={email} onInput={setEmail} />
          <ErrorBox error={error} fields={['email']} />
          <BusyButton busy={busy} label="Send reset link" busyLabel="Sending…" />
        </form>
      )}
      <p>
        <a href="/portal/#/sign-in">Back to sign-in</a>
      </p>
    </main>
  );
}

/**
 * /reset-password#token=…: the token is read from the fragment and the fragment removed at once
 * (history.replaceState), so it stays neither in the address bar nor in the history. It is sent only
 * in the body of POST /v1/auth/reset-password — never to validate-reset-token/{token}, whose URL
 * would carry it.
 */
export function ResetPassword() {
  const [token] = useState(() => new URLSearchParams(location.hash.slice(1)).get('token'));
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const { busy, error, run } = useAction();
  useEffect(() => {
    if (location.hash) history.replaceState(null, '', location.pathname);
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      await publicCall('POST', '/v1/auth/reset-password', { token, password });
      setPassword('');
      setDone(true);
    });
  };
  const invalid = error instanceof ApiError && error.code === 'invalid_reset_token';
  return (
    <main class="narrow">
      <h1>Reset your password</h1>
      {done ? (
        <p class="notice" role="status">
          Your password has been changed and every session of your account was signed out.{' '}
          <a href="/portal/#/sign-in">Sign in</a> with the new password.
        </p>
      ) : !token ? (
        <p class="error" role="alert">
          This page needs the link from your reset email.{' '}
          <a href="/portal/#/forgot-password">Ask for a new link</a>.
        </p>
      ) : (
        <form onSubmit={submit} aria-label="Choose a new password">
          <PasswordField
            label="New password"
            hint="At least 8 characters; not a common password and not containing your email."
            error={fieldErrors(error, 'password')}
            autocomplete="new-password"
            minLength={8}
            value={password}
            onInput={setPassword}
          />
          <ErrorBox error={error} fields={['password']} />
          {invalid ? (
            <p>
              <a href="/portal/#/forgot-password">Ask for a new link</a>
            </p>
          ) : null}
          <BusyButton busy={busy} label="Change password" busyLabel="Changing…" />
        </form>
      )}
    </main>
  );
}
