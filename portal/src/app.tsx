/**
 * The portal's shell: which page shows (hash routes under /portal/, and /reset-password for the link
 * in reset mails), the session's life (restore, sign-in, temporary password, sign-out, a refused
 * refresh) and the navigation, offering only what the person's role may do.
 */
import { useEffect, useState } from 'preact/hooks';
import { call, hasStoredSession, type Me, onSessionEnded, refresh, signOut } from './api.js';
import { AuditPage } from './audit.js';
import { ForgotPassword, ResetPassword, SetPassword, SignIn } from './auth.js';
import { KeysPage } from './keys.js';
import { canManageTeam, canReadAudit } from './permissions.js';
import { TeamPage } from './team.js';
import { UsagePage } from './usage.js';

type Session =
  | { readonly kind: 'loading' }
  | { readonly kind: 'signed-out'; readonly notice: string | null }
  | { readonly kind: 'temporary'; readonly email: string; readonly temporaryPassword: string }
  | { readonly kind: 'signed-in'; readonly me: Me };

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const update = () => setHash(location.hash);
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return hash;
}

export function App() {
  if (location.pathname.replace(/\/$/, '') === '/reset-password') return <ResetPassword />;
  return <Portal />;
}

function Portal() {
  const [session, setSession] = useState<Session>({ kind: 'loading' });
  const hash = useHash();

  const enter = async () => {
    setSession({ kind: 'signed-in', me: await call<Me>('GET', '/v1/auth/me') });
    // From the sign-in or forgot-password page to the keys; a reload keeps the page it was on.
    if (!/^#\/(keys|team|audit)/.test(location.hash)) location.hash = '#/keys';
  };

  useEffect(() => {
    onSessionEnded((notice) => {
      // Dropping the session state removes every page, key and secret from the DOM.
      setSession({ kind: 'signed-out', notice });
      location.hash = '#/sign-in';
    });
    if (!hasStoredSession()) {
      setSession({ kind: 'signed-out', notice: null });
      return;
    }
    refresh()
      .then(enter)
      .catch(() => setSession((s) => (s.kind === 'loading' ? { kind: 'signed-out', notice: null } : s)));
  }, []);

  // Move focus to the new page's heading, so keyboard and screen-reader users land on it.
  useEffect(() => {
    const heading = document.querySelector<HTMLElement>('main h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  }, [hash, session.kind]);

  if (session.kind === 'loading') {
    return (
      <main class="narrow">
        <p role="status">
          <span class="spinner" aria-hidden="true" /> Restoring your session…
        </p>
      </main>
    );
  }
  if (hash === '#/forgot-password' && session.kind !== 'signed-in') return <ForgotPassword />;
  if (session.kind === 'temporary') {
    return (
      <SetPassword
        email={session.email}
        temporaryPassword={session.temporaryPassword}
        onSignedIn={() => enter().catch(() => setSession({ kind: 'signed-out', notice: null }))}
        onCancel={() => setSession({ kind: 'signed-out', notice: null })}
      />
    );
  }
  if (session.kind === 'signed-out') {
    return (
      <SignIn
        notice={session.notice}
        onSignedIn={() =>
          enter().catch(() =>
            setSession({ kind: 'signed-out', notice: 'Signing in failed; please try again.' }),
          )
        }
        onTemporary={(email, temporaryPassword) =>
          setSession({ kind: 'temporary', email, temporaryPassword })
        }
      />
    );
  }
  return <Shell me={session.me} hash={hash} />;
}

function Shell({ me, hash }: { me: Me; hash: string }) {
  const [leaving, setLeaving] = useState(false);
  const usage = /^#\/keys\/([0-9a-f-]{36})\/usage$/.exec(hash);
  const page =
    usage?.[1] !== undefined ? (
      <UsagePage keyId={usage[1]} />
    ) : hash === '#/team' && canManageTeam(me.user.role) ? (
      <TeamPage me={me} />
    ) : hash === '#/audit' && canReadAudit(me.user.role) ? (
      <AuditPage me={me} />
    ) : (
      <KeysPage me={me} />
    );
  const current = (route: string) => (hash.startsWith(route) ? 'page' : undefined);
  return (
    <>
      <header class="top">
        <a class="brand" href="#/keys">
          HEIR Developer Portal
        </a>
        <nav aria-label="Portal">
          <a href="#/keys" aria-current={current('#/keys')}>
            API keys
          </a>
          {canManageTeam(me.user.role) ? (
            <a href="#/team" aria-current={current('#/team')}>
              Team
            </a>
          ) : null}
          {canReadAudit(me.user.role) ? (
            <a href="#/audit" aria-current={current('#/audit')}>
              Audit log
            </a>
          ) : null}
        </nav>
        <div class="who">
          <span>
            {me.user.email} · {me.user.role} of <strong>{me.tenant.name}</strong>
          </span>
          <button
            type="button"
            class="button secondary small"
            disabled={leaving}
            aria-busy={leaving}
            onClick={() => {
              setLeaving(true);
              signOut();
            }}
          >
            {leaving ? 'Signing out…' : 'Sign out'}
          </button>
        </div>
      </header>
      <main>{page}</main>
    </>
  );
}
