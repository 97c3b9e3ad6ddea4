import type { App } from '../app.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { Actor, Caller } from '../auth/caller.js';
import type { Db } from '../db/database.js';
import type { Role } from '../db/tables.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import { enqueueMail } from '../mail/outbox.js';
import { insertPerson, prepareTemporaryPassword } from './person.service.js';
import { revokeUserSessions } from './session.repository.js';
import { personChanged } from './session.service.js';
import { countActiveOwners, findTenantUser, type UserRow } from './user.repository.js';

const PRIVILEGED: readonly Role[] = ['owner', 'admin'];

/** Only an owner makes or unmakes admins and owners (API.md "Team members"). */
function assertMayManage(caller: Caller, ...roles: Role[]): void {
  if (
    roles.some((role) => PRIVILEGED.includes(role)) &&
    !(caller.kind === 'person' && caller.role === 'owner')
  ) {
    throw new ForbiddenError(
      'forbidden',
      'Only an owner may grant, change or remove the owner and admin roles.',
    );
  }
}

/** Serialises changes to one tenant's team, so two owners cannot both step down at once. */
async function lockTenant(trx: Db, tenantId: string): Promise<void> {
  const row = await trx
    .selectFrom('tenants')
    .select('id')
    .where('id', '=', tenantId)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new NotFoundError();
}

async function assertOwnerRemains(trx: Db, member: UserRow): Promise<void> {
  if (
    member.role === 'owner' &&
    member.status === 'active' &&
    (await countActiveOwners(trx, member.tenant_id)) <= 1
  ) {
    throw new ConflictError('A tenant keeps at least one active owner.');
  }
}

export async function addMember(
  app: App,
  caller: Caller,
  actor: Actor,
  tenantId: string,
  input: { email: string; name: string; role: Role },
): Promise<{ member: UserRow; temporaryPassword: string }> {
  assertMayManage(caller, input.role);
  const temporary = await prepareTemporaryPassword(app.config.bcryptCost);
  const at = app.now();
  const { member, mailId } = await app.db.transaction().execute(async (trx) => {
    await lockTenant(trx, tenantId);
    const member = await insertPerson(trx, { tenantId, ...input }, temporary.hash, at);
    await recordAudit(
      trx,
      actor,
      {
        tenantId,
        action: 'team.member_added',
        target: { type: 'user', id: member.id },
        metadata: { role: member.role },
      },
      at,
    );
    // The temporary password is mailed only when mail is delivered (and the copy then blanked).
    const mailId = app.mailer.enabled
      ? await enqueueMail(
          trx,
          {
            to: member.email,
            kind: 'team_invite',
            subject: 'You have been added to a HEIR team',
            body: [
              `Hello ${member.name},`,
              '',
              `You can now sign in at ${app.config.appUrl} with this email and the temporary password:`,
              '',
              temporary.password,
              '',
              'You will be asked to choose your own password first.',
            ].join('\n'),
          },
          at,
        )
      : null;
    return { member, mailId };
  });
  if (mailId) app.defer(app.mailer.deliver(app.db, mailId, () => app.now()));
  return { member, temporaryPassword: temporary.password };
}

export async function changeMember(
  app: App,
  caller: Caller,
  actor: Actor,
  tenantId: string,
  memberId: string,
  changes: { role?: Role | undefined; status?: 'active' | 'disabled' | undefined },
): Promise<UserRow> {
  const at = app.now();
  const updated = await app.db.transaction().execute(async (trx) => {
    await lockTenant(trx, tenantId);
    const member = await findTenantUser(trx, tenantId, memberId, true);
    if (!member) throw new NotFoundError();
    const role = changes.role ?? member.role;
    const status = changes.status ?? member.status;
    if (role === member.role && status === member.status) return member;
    if (role !== member.role) assertMayManage(caller, member.role, role);
    else assertMayManage(caller, member.role);
    if (role !== 'owner' || status !== 'active') await assertOwnerRemains(trx, member);
    const updated = await trx
      .updateTable('users')
      .set({ role, status, updated_at: at })
      .where('id', '=', member.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    // A changed role or status takes effect now: the person logs in again under the new terms.
    const ended = await revokeUserSessions(trx, member.id, 'team_change', at);
    await recordAudit(
      trx,
      actor,
      {
        tenantId,
        action: 'team.member_updated',
        target: { type: 'user', id: member.id },
        metadata: {
          from: { role: member.role, status: member.status },
          to: { role, status },
          sessions_revoked: ended,
        },
      },
      at,
    );
    return updated;
  });
  await personChanged(app, [memberId]);
  return updated;
}

export async function removeMember(
  app: App,
  caller: Caller,
  actor: Actor,
  tenantId: string,
  memberId: string,
): Promise<void> {
  const at = app.now();
  await app.db.transaction().execute(async (trx) => {
    await lockTenant(trx, tenantId);
    const member = await findTenantUser(trx, tenantId, memberId, true);
    if (!member) throw new NotFoundError();
    assertMayManage(caller, member.role);
    await assertOwnerRemains(trx, member);
    // Deleting the person deletes their sessions with them (ON DELETE CASCADE): access ends at once.
    await trx.deleteFrom('users').where('id', '=', member.id).execute();
    await recordAudit(
      trx,
      actor,
      {
        tenantId,
        action: 'team.member_removed',
        target: { type: 'user', id: member.id },
        metadata: { role: member.role },
      },
      at,
    );
  });
  await personChanged(app, [memberId]);
}
