/** Team (owners and admins): members, add with a role (temporary password shown once), change role, remove. */
import { useState } from 'preact/hooks';
import { ROLES, type Role } from '../../lib/vocabulary.js';
import { call, type Me } from './api.js';
import { ConfirmDialog, FormActions, SecretDialog } from './dialogs.js';
import { assignableRoles } from './permissions.js';
import type { Member } from './types.js';
import { Dialog, ErrorBox, Field, fieldErrors, formatDate, LoadMore, useAction, usePagedList } from './ui.js';

export function TeamPage({ me }: { me: Me }) {
  const base = `/v1/tenants/${me.tenant.id}/team-members`;
  const { items: members, hasMore, more, reload, busy, error } = usePagedList<Member>(base, 50);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Member | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const saving = useAction();
  const roles = assignableRoles(me.user.role);

  const changeRole = async (member: Member, role: Role) => {
    setNotice(null);
    const saved = await saving.run(() => call<Member>('PATCH', `${base}/${member.id}`, { role }));
    if (saved) {
      setNotice(`${saved.name} is now ${saved.role === 'admin' ? 'an' : 'a'} ${saved.role}.`);
      await reload();
    }
  };

  return (
    <section aria-labelledby="team-title">
      <div class="page-head">
        <h1 id="team-title">Team</h1>
        <button type="button" class="button primary" onClick={() => setAdding(true)}>
          Add member
        </button>
      </div>
      {me.user.role !== 'owner' ? (
        <p class="hint">
          Admins add and manage members; only owners grant or change the owner and admin roles.
        </p>
      ) : null}
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      {saving.busy ? (
        <p role="status">
          <span class="spinner" aria-hidden="true" /> Saving the role…
        </p>
      ) : null}
      <ErrorBox error={error ?? saving.error} />
      {members === null ? (
        <p role="status">
          <span class="spinner" aria-hidden="true" /> Loading members…
        </p>
      ) : (
        <table class="cards">
          <caption class="visually-hidden">Members of {me.tenant.name}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Last sign-in</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {members.map((member) => {
              const self = member.id === me.user.id;
              const mayChange = !self && (roles.includes(member.role) || me.user.role === 'owner');
              const choices = ROLES.filter((role) => role === member.role || roles.includes(role));
              return (
                <tr key={member.id} data-member-id={member.id}>
                  <th scope="row" data-label="Name">
                    {member.name}
                    {self ? ' (you)' : ''}
                  </th>
                  <td data-label="Email">{member.email}</td>
                  <td data-label="Role">
                    {mayChange && choices.length > 1 ? (
                      <select
                        aria-label={`Role of ${member.name}`}
                        value={member.role}
                        disabled={busy || saving.busy}
                        onChange={(e) => changeRole(member, e.currentTarget.value as Role)}
                      >
                        {choices.map((role) => (
                          <option key={role} value={role}>
                            {role}
                          </option>
                        ))}
                      </select>
                    ) : (
                      member.role
                    )}
                  </td>
                  <td data-label="Status">
                    {member.status}
                    {member.password_change_required ? (
                      <small class="hint"> (temporary password)</small>
                    ) : null}
                  </td>
                  <td data-label="Last sign-in">{formatDate(member.last_login_at)}</td>
                  <td data-label="Actions" class="row-actions">
                    {mayChange ? (
                      <button type="button" class="button danger small" onClick={() => setRemoving(member)}>
                        Remove<span class="visually-hidden"> {member.name}</span>
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {hasMore ? <LoadMore busy={busy} what="members" onClick={more} /> : null}
      {adding ? (
        <AddMemberDialog
          base={base}
          roles={roles}
          onClose={(changed) => {
            setAdding(false);
            if (changed) reload();
          }}
        />
      ) : null}
      {removing ? (
        <RemoveMemberDialog
          base={base}
          member={removing}
          onClose={(changed) => {
            setRemoving(null);
            if (changed) {
              setNotice(`${removing.name} was removed from the team.`);
              reload();
            }
          }}
        />
      ) : null}
    </section>
  );
}

function AddMemberDialog({
  base,
  roles,
  onClose,
}: {
  base: string;
  roles: Role[];
  onClose: (changed: boolean) => void;
}) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [added, setAdded] = useState<{ member: Member; temporary_password: string } | null>(null);
  const { busy, error, run } = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const answer = await run(() =>
      call<{ member: Member; temporary_password: string }>('POST', base, { email, name, role }),
    );
    if (answer) setAdded(answer);
  };
  if (added) {
    return (
      <SecretDialog
        title={`${added.member.name} was added`}
        label="Temporary password"
        value={added.temporary_password}
        warning={`This is the only time it is shown. Give it to ${added.member.email} over a safe channel; they choose their own password at first sign-in.`}
        doneLabel="Done"
        onDone={() => onClose(true)}
      />
    );
  }
  return (
    <Dialog title="Add a team member" onClose={() => onClose(false)}>
      <form onSubmit={submit} aria-label="Add a team member">
        <Field label="Email" error={fieldErrors(error, 'email')}>
          {(props) => (
            <input
              {...props}
              type="email"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field label="Name" error={fieldErrors(error, 'name')}>
          {(props) => (
            <input {...props} required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          )}
        </Field>
        <Field label="Role" error={fieldErrors(error, 'role')}>
          {(props) => (
            <select {...props} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              {roles.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          )}
        </Field>
        <ErrorBox error={error} fields={['email', 'name', 'role']} />
        <FormActions busy={busy} label="Add member" busyLabel="Adding…" onCancel={() => onClose(false)} />
      </form>
    </Dialog>
  );
}

function RemoveMemberDialog({
  base,
  member,
  onClose,
}: {
  base: string;
  member: Member;
  onClose: (changed: boolean) => void;
}) {
  return (
    <ConfirmDialog
      title={`Remove ${member.name}?`}
      confirmLabel={`Remove ${member.name}`}
      busyLabel="Removing…"
      action={() => call('DELETE', `${base}/${member.id}`)}
      onClose={onClose}
    >
      <p>
        <strong>{member.name}</strong> ({member.email}) loses access at once: every session they have is
        signed out.
      </p>
    </ConfirmDialog>
  );
}
