import assert from 'node:assert/strict';
import { it } from 'node:test';
import bcrypt from 'bcryptjs';
import { verifyPassword } from '../../lib/identity/password.js';
import { policies } from '../../lib/ratelimit/policies.js';
import { asAdmin, call } from '../support/client.js';
import {
  activate,
  addMember,
  logIn,
  ownerSession,
  type Session,
  STRONG_PASSWORD,
  uniqueEmail,
} from '../support/fixtures.js';
import { forEachBackend } from '../support/harness.js';
import { outboxFor } from '../support/mail.js';
import { errorPaths } from '../support/problems.js';
import { awayFromWindowEnd } from '../support/windows.js';

const MEMBER_FIELDS = [
  'created_at',
  'email',
  'id',
  'last_login_at',
  'name',
  'password_change_required',
  'role',
  'status',
  'tenant_id',
].sort();

const membersPath = (tenantId: string) => `/v1/tenants/${tenantId}/team-members`;
const memberPath = (tenantId: string, memberId: string) => `/v1/tenants/${tenantId}/team-members/${memberId}`;

forEachBackend('team members', (ctx) => {
  /** Both halves of a login must be dead: the access token and the refresh token. */
  async function assertSessionEnded(session: Session, why: string): Promise<void> {
    const me = await call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth });
    assert.equal(me.status, 401, `${why}: access token still works (${me.text})`);
    assert.equal(me.body.code, 'invalid_token', why);
    const refresh = await call(ctx.app, 'POST', '/v1/auth/refresh', {
      json: { refresh_token: session.refreshToken },
    });
    assert.equal(refresh.status, 401, `${why}: refresh token still works (${refresh.text})`);
    assert.equal(refresh.body.code, 'invalid_token', why);
  }

  async function activeOwners(tenantId: string): Promise<string[]> {
    const rows = await ctx.app.db
      .selectFrom('users')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('role', '=', 'owner')
      .where('status', '=', 'active')
      .execute();
    return rows.map((row) => row.id);
  }

  it('adds a member with a temporary password returned once and stored only as a bcrypt hash', async () => {
    const { tenantId, session } = await ownerSession(ctx.app);
    const email = uniqueEmail('new');
    const res = await call(ctx.app, 'POST', membersPath(tenantId), {
      headers: session.auth,
      json: { email: `  ${email} `, name: '  Ngozi Member  ', role: 'member' },
    });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['member', 'temporary_password']);
    const { member, temporary_password: temporary } = res.body;
    assert.deepEqual(Object.keys(member).sort(), MEMBER_FIELDS);
    assert.equal(member.email, email, 'the email is trimmed');
    assert.equal(member.name, 'Ngozi Member', 'the name is trimmed');
    assert.equal(member.role, 'member');
    assert.equal(member.status, 'active');
    assert.equal(member.tenant_id, tenantId);
    assert.equal(member.password_change_required, true);
    assert.equal(member.last_login_at, null);
    assert.match(temporary, /^[A-Za-z0-9]{24}$/);

    const row = await ctx.app.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', member.id)
      .executeTakeFirstOrThrow();
    assert.match(row.password_hash, /^\$2[aby]\$1\d\$[./A-Za-z0-9]{53}$/, 'a bcrypt hash');
    assert.ok(!row.password_hash.includes(temporary));
    assert.equal(row.password_temporary, true);
    assert.equal(await verifyPassword(temporary, row.password_hash), true, 'the hash is of that password');
    assert.equal(
      await bcrypt.compare(temporary, row.password_hash),
      false,
      'the password is pre-hashed, not given to bcrypt raw',
    );

    // Returned once: no list, audit event or mail (SMTP is not configured here) repeats it.
    const list = await call(ctx.app, 'GET', membersPath(tenantId), { headers: session.auth });
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes(temporary));
    assert.ok(list.body.data.every((entry: object) => !('temporary_password' in entry)));
    const audit = await call(ctx.app, 'GET', `/v1/tenants/${tenantId}/audit-events`, {
      headers: session.auth,
    });
    assert.ok(!audit.text.includes(temporary));
    assert.deepEqual(await outboxFor(ctx.app, email), [], 'no mail holds the password at rest');

    // The temporary password works once, for choosing a password; then it is gone.
    const early = await call(ctx.app, 'POST', '/v1/auth', { json: { email, password: temporary } });
    assert.equal(early.status, 403);
    assert.equal(early.body.code, 'password_change_required');
    await activate(ctx.app, email, temporary);
    const again = await call(ctx.app, 'POST', '/v1/auth', { json: { email, password: temporary } });
    assert.equal(again.status, 401);
    assert.equal(again.body.code, 'invalid_credentials');
  });

  it('lists, changes and removes members through the API', async () => {
    const { tenantId, owner, session } = await ownerSession(ctx.app);
    const member = await addMember(ctx.app, tenantId, session.auth, 'member');

    const list = await call(ctx.app, 'GET', membersPath(tenantId), { headers: session.auth });
    assert.equal(list.status, 200);
    assert.equal(list.body.next_cursor, null);
    assert.deepEqual(
      list.body.data.map((entry: { id: string }) => entry.id),
      [member.id, owner.id],
      'newest first',
    );
    const listed = list.body.data[0];
    assert.deepEqual(Object.keys(listed).sort(), MEMBER_FIELDS);
    assert.equal(listed.email, member.email);
    assert.equal(listed.password_change_required, false, 'the member has chosen a password');
    assert.ok(listed.last_login_at);

    const promoted = await call(ctx.app, 'PATCH', memberPath(tenantId, member.id), {
      headers: session.auth,
      json: { role: 'admin' },
    });
    assert.equal(promoted.status, 200, promoted.text);
    assert.deepEqual(Object.keys(promoted.body).sort(), MEMBER_FIELDS);
    assert.equal(promoted.body.id, member.id);
    assert.equal(promoted.body.role, 'admin');
    assert.equal(promoted.body.status, 'active');

    const disabled = await call(ctx.app, 'PATCH', memberPath(tenantId, member.id), {
      headers: session.auth,
      json: { status: 'disabled' },
    });
    assert.equal(disabled.status, 200);
    assert.equal(disabled.body.status, 'disabled');
    assert.equal(disabled.body.role, 'admin');

    const empty = await call(ctx.app, 'PATCH', memberPath(tenantId, member.id), {
      headers: session.auth,
      json: {},
    });
    assert.equal(empty.status, 422);
    const badValues = await call(ctx.app, 'PATCH', memberPath(tenantId, member.id), {
      headers: session.auth,
      json: { role: 'superuser', status: 'deleted' },
    });
    assert.equal(badValues.status, 422);
    assert.deepEqual(errorPaths(badValues.body), ['role', 'status']);

    const removed = await call(ctx.app, 'DELETE', memberPath(tenantId, member.id), { headers: session.auth });
    assert.equal(removed.status, 204);
    assert.equal(removed.text, '');
    const after = await call(ctx.app, 'GET', membersPath(tenantId), { headers: session.auth });
    assert.deepEqual(
      after.body.data.map((entry: { id: string }) => entry.id),
      [owner.id],
    );
    const gone = await call(ctx.app, 'PATCH', memberPath(tenantId, member.id), {
      headers: session.auth,
      json: { role: 'member' },
    });
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'not_found');
    const goneAgain = await call(ctx.app, 'DELETE', memberPath(tenantId, member.id), {
      headers: session.auth,
    });
    assert.equal(goneAgain.status, 404);
    const unknown = await call(ctx.app, 'DELETE', memberPath(tenantId, 'not-a-uuid'), {
      headers: session.auth,
    });
    assert.equal(unknown.status, 404);
  });

  it('refuses a duplicate email with 409, including case, width and whitespace look-alikes', async () => {
    const { tenantId, owner, session } = await ownerSession(ctx.app);
    const other = await ownerSession(ctx.app);
    const email = uniqueEmail('dup');
    const first = await call(ctx.app, 'POST', membersPath(tenantId), {
      headers: session.auth,
      json: { email, name: 'First', role: 'member' },
    });
    assert.equal(first.status, 201);
    const fullWidth = [...email]
      .map((char) => (/[a-z]/.test(char) ? String.fromCodePoint((char.codePointAt(0) ?? 0) + 0xfee0) : char))
      .join('');
    const variants = [
      email,
      email.toUpperCase(),
      fullWidth, // ｐｅｒｓｏｎ… : NFKC makes it the same address
      `\t${email.replace('d', 'D')}  `,
      owner.email, // the tenant's own owner
      other.owner.email, // someone of another tenant: login names no tenant, so emails are global
    ];
    for (const variant of variants) {
      const res = await call(ctx.app, 'POST', membersPath(tenantId), {
        headers: session.auth,
        json: { email: variant, name: 'Second', role: 'member' },
      });
      assert.equal(res.status, 409, `${JSON.stringify(variant)}: ${res.text}`);
      assert.equal(res.body.code, 'conflict');
      assert.ok(!('temporary_password' in res.body));
    }
    const rows = await ctx.app.db
      .selectFrom('users')
      .select('email')
      .where('email_key', '=', email.toLowerCase())
      .execute();
    assert.deepEqual(rows, [{ email }], 'one account, as first written');
    const list = await call(ctx.app, 'GET', membersPath(tenantId), { headers: session.auth });
    assert.equal(list.body.data.length, 2);
  });

  it('validates emails, names and roles with field paths', async () => {
    const { tenantId, session } = await ownerSession(ctx.app);
    const add = (json: unknown) =>
      call(ctx.app, 'POST', membersPath(tenantId), { headers: session.auth, json });

    const all = await add({ email: 'not-an-email', name: '', role: 'boss' });
    assert.equal(all.status, 422);
    assert.equal(all.body.code, 'validation_failed');
    assert.deepEqual(errorPaths(all.body), ['email', 'name', 'role']);

    const cases: [unknown, string][] = [
      [{ name: 'No Email', role: 'member' }, 'email'],
      [{ email: `a\u200b${uniqueEmail()}`, name: 'Zero Width', role: 'member' }, 'email'],
      [{ email: `${'a'.repeat(250)}@example.com`, name: 'Long', role: 'member' }, 'email'],
      [{ email: 'two@@example.com', name: 'At At', role: 'member' }, 'email'],
      [{ email: uniqueEmail(), name: '   ', role: 'member' }, 'name'],
      [{ email: uniqueEmail(), name: 'x'.repeat(201), role: 'member' }, 'name'],
      [{ email: uniqueEmail(), name: 'Bell\u0007', role: 'member' }, 'name'],
      [{ email: uniqueEmail(), name: 'No Role' }, 'role'],
      [{ email: uniqueEmail(), name: 'Wrong Type', role: 'member', extra: true }, ''],
    ];
    for (const [json, path] of cases) {
      const res = await add(json);
      assert.equal(res.status, 422, `${JSON.stringify(json)}: ${res.text}`);
      assert.equal(res.body.code, 'validation_failed');
      assert.deepEqual([...new Set(errorPaths(res.body))], [path], JSON.stringify(json));
    }
    const ok = await add({ email: uniqueEmail(), name: 'x'.repeat(200), role: 'member' });
    assert.equal(ok.status, 201, '200 characters is within the limit');
    const list = await call(ctx.app, 'GET', membersPath(tenantId), { headers: session.auth });
    assert.equal(list.body.data.length, 2, 'nothing invalid was stored');
  });

  it('only an owner makes or unmakes admins and owners; an admin manages members', async () => {
    const { tenantId, owner, session } = await ownerSession(ctx.app);
    const admin = await addMember(ctx.app, tenantId, session.auth, 'admin');
    const member = await addMember(ctx.app, tenantId, session.auth, 'member');
    const asTenantAdmin = admin.session.auth;

    for (const role of ['admin', 'owner']) {
      const res = await call(ctx.app, 'POST', membersPath(tenantId), {
        headers: asTenantAdmin,
        json: { email: uniqueEmail(), name: 'Would Be', role },
      });
      assert.equal(res.status, 403, `an admin adding an ${role}: ${res.text}`);
      assert.equal(res.body.code, 'forbidden');
    }
    const promote = await call(ctx.app, 'PATCH', memberPath(tenantId, member.id), {
      headers: asTenantAdmin,
      json: { role: 'admin' },
    });
    assert.equal(promote.status, 403);
    assert.equal(promote.body.code, 'forbidden');
    const touchOwner = [
      call(ctx.app, 'PATCH', memberPath(tenantId, owner.id), {
        headers: asTenantAdmin,
        json: { role: 'member' },
      }),
      call(ctx.app, 'PATCH', memberPath(tenantId, owner.id), {
        headers: asTenantAdmin,
        json: { status: 'disabled' },
      }),
      call(ctx.app, 'DELETE', memberPath(tenantId, owner.id), { headers: asTenantAdmin }),
    ];
    for (const res of await Promise.all(touchOwner)) {
      assert.equal(res.status, 403, res.text);
      assert.equal(res.body.code, 'forbidden');
    }
    const otherAdmin = await addMember(ctx.app, tenantId, session.auth, 'admin');
    const demoteAdmin = await call(ctx.app, 'PATCH', memberPath(tenantId, otherAdmin.id), {
      headers: asTenantAdmin,
      json: { role: 'member' },
    });
    assert.equal(demoteAdmin.status, 403, 'unmaking an admin is for owners too');
    const removeAdmin = await call(ctx.app, 'DELETE', memberPath(tenantId, otherAdmin.id), {
      headers: asTenantAdmin,
    });
    assert.equal(removeAdmin.status, 403);

    const roles = await ctx.app.db
      .selectFrom('users')
      .select(['id', 'role', 'status'])
      .where('tenant_id', '=', tenantId)
      .execute();
    assert.deepEqual(
      roles.map((row) => `${row.role}:${row.status}`).sort(),
      ['admin:active', 'admin:active', 'member:active', 'owner:active'],
      'nothing changed',
    );

    // What an admin may do: add, disable and remove members.
    const added = await call(ctx.app, 'POST', membersPath(tenantId), {
      headers: asTenantAdmin,
      json: { email: uniqueEmail(), name: 'By Admin', role: 'member' },
    });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.body.member.role, 'member');
    const disabled = await call(ctx.app, 'PATCH', memberPath(tenantId, member.id), {
      headers: asTenantAdmin,
      json: { status: 'disabled' },
    });
    assert.equal(disabled.status, 200, disabled.text);
    const removed = await call(ctx.app, 'DELETE', memberPath(tenantId, added.body.member.id), {
      headers: asTenantAdmin,
    });
    assert.equal(removed.status, 204);

    // And an owner does all of it.
    const made = await call(ctx.app, 'PATCH', memberPath(tenantId, member.id), {
      headers: session.auth,
      json: { role: 'admin', status: 'active' },
    });
    assert.equal(made.status, 200, made.text);
    assert.equal(made.body.role, 'admin');
    const newOwner = await call(ctx.app, 'POST', membersPath(tenantId), {
      headers: session.auth,
      json: { email: uniqueEmail(), name: 'Co Owner', role: 'owner' },
    });
    assert.equal(newOwner.status, 201);
    assert.equal(newOwner.body.member.role, 'owner');
  });

  it('keeps the last active owner: no demotion, disabling or removal until there is another', async () => {
    const { tenantId, owner, session } = await ownerSession(ctx.app);
    const attempts = async (auth: Record<string, string>, ownerId: string) => [
      await call(ctx.app, 'PATCH', memberPath(tenantId, ownerId), { headers: auth, json: { role: 'admin' } }),
      await call(ctx.app, 'PATCH', memberPath(tenantId, ownerId), {
        headers: auth,
        json: { role: 'member' },
      }),
      await call(ctx.app, 'PATCH', memberPath(tenantId, ownerId), {
        headers: auth,
        json: { status: 'disabled' },
      }),
      await call(ctx.app, 'DELETE', memberPath(tenantId, ownerId), { headers: auth }),
    ];
    for (const res of await attempts(session.auth, owner.id)) {
      assert.equal(res.status, 409, res.text);
      assert.equal(res.body.code, 'conflict');
    }
    assert.deepEqual(await activeOwners(tenantId), [owner.id]);
    const stillIn = await call(ctx.app, 'GET', '/v1/auth/me', { headers: session.auth });
    assert.equal(stillIn.status, 200, 'a refused change ends no session');

    // A disabled second owner does not count.
    const second = await addMember(ctx.app, tenantId, session.auth, 'owner');
    const off = await call(ctx.app, 'PATCH', memberPath(tenantId, second.id), {
      headers: session.auth,
      json: { status: 'disabled' },
    });
    assert.equal(off.status, 200, off.text);
    for (const res of await attempts(session.auth, owner.id)) assert.equal(res.status, 409, res.text);

    const on = await call(ctx.app, 'PATCH', memberPath(tenantId, second.id), {
      headers: session.auth,
      json: { status: 'active' },
    });
    assert.equal(on.status, 200);
    const secondSession = await logIn(ctx.app, second.email);

    // With two active owners each step is allowed, as long as one owner stays.
    const disable = await call(ctx.app, 'PATCH', memberPath(tenantId, owner.id), {
      headers: secondSession.auth,
      json: { status: 'disabled' },
    });
    assert.equal(disable.status, 200, disable.text);
    assert.equal(disable.body.status, 'disabled');
    const enable = await call(ctx.app, 'PATCH', memberPath(tenantId, owner.id), {
      headers: secondSession.auth,
      json: { status: 'active' },
    });
    assert.equal(enable.status, 200);
    const demote = await call(ctx.app, 'PATCH', memberPath(tenantId, owner.id), {
      headers: secondSession.auth,
      json: { role: 'admin' },
    });
    assert.equal(demote.status, 200, demote.text);
    assert.equal(demote.body.role, 'admin');
    assert.deepEqual(await activeOwners(tenantId), [second.id]);
    for (const res of await attempts(secondSession.auth, second.id)) {
      assert.equal(res.status, 409, `the second owner is now the last: ${res.text}`);
    }

    const third = await addMember(ctx.app, tenantId, secondSession.auth, 'owner');
    const remove = await call(ctx.app, 'DELETE', memberPath(tenantId, third.id), {
      headers: secondSession.auth,
    });
    assert.equal(remove.status, 204, 'an owner can be removed while another remains');
    const fourth = await addMember(ctx.app, tenantId, secondSession.auth, 'owner');
    const selfRemove = await call(ctx.app, 'DELETE', memberPath(tenantId, second.id), {
      headers: secondSession.auth,
    });
    assert.equal(selfRemove.status, 204, 'an owner may leave when another owner stays');
    assert.deepEqual(await activeOwners(tenantId), [fourth.id]);
  });

  it('two owners demoting each other at once: at most one succeeds and an owner remains', async () => {
    for (let round = 0; round < 3; round++) {
      const { tenantId, owner, session } = await ownerSession(ctx.app);
      const second = await addMember(ctx.app, tenantId, session.auth, 'owner');
      const [a, b] = await Promise.all([
        call(ctx.app, 'PATCH', memberPath(tenantId, second.id), {
          headers: session.auth,
          json: { role: 'member' },
        }),
        call(ctx.app, 'PATCH', memberPath(tenantId, owner.id), {
          headers: second.session.auth,
          json: { role: 'member' },
        }),
      ]);
      const statuses = [a.status, b.status];
      assert.equal(statuses.filter((status) => status === 200).length, 1, `round ${round}: ${statuses}`);
      const loser = a.status === 200 ? b : a;
      // The loser either lost the race for the lock (409) or its login was ended by the winner (401).
      assert.ok(
        (loser.status === 409 && loser.body.code === 'conflict') ||
          (loser.status === 401 && loser.body.code === 'invalid_token'),
        `round ${round}: ${loser.text}`,
      );
      const owners = await activeOwners(tenantId);
      assert.deepEqual(owners, [a.status === 200 ? owner.id : second.id], `round ${round}`);
    }
  });

  it("a role change, disabling or removal ends the person's sessions at once", async () => {
    const { tenantId, owner, session } = await ownerSession(ctx.app);
    const person = await addMember(ctx.app, tenantId, session.auth, 'member');
    const second = await logIn(ctx.app, person.email);
    const ownersOther = await logIn(ctx.app, owner.email);

    const promote = await call(ctx.app, 'PATCH', memberPath(tenantId, person.id), {
      headers: session.auth,
      json: { role: 'admin' },
    });
    assert.equal(promote.status, 200);
    await assertSessionEnded(person.session, 'role change');
    await assertSessionEnded(second, 'role change, second login');
    const me = await call(ctx.app, 'GET', '/v1/auth/me', { headers: ownersOther.auth });
    assert.equal(me.status, 200, "the actor's own sessions go on");

    // Logging in again gives a token with the new role.
    const asAdminNow = await logIn(ctx.app, person.email);
    const meAdmin = await call(ctx.app, 'GET', '/v1/auth/me', { headers: asAdminNow.auth });
    assert.equal(meAdmin.body.user.role, 'admin');

    const disable = await call(ctx.app, 'PATCH', memberPath(tenantId, person.id), {
      headers: session.auth,
      json: { status: 'disabled' },
    });
    assert.equal(disable.status, 200);
    await assertSessionEnded(asAdminNow, 'disabling');
    const refused = await call(ctx.app, 'POST', '/v1/auth', {
      json: { email: person.email, password: STRONG_PASSWORD },
    });
    assert.equal(refused.status, 403, 'a disabled person cannot log in');
    assert.equal(refused.body.code, 'forbidden');
    const wrong = await call(ctx.app, 'POST', '/v1/auth', {
      json: { email: person.email, password: 'not the password' },
    });
    assert.equal(wrong.status, 401, 'a wrong password says nothing about the account being disabled');
    assert.equal(wrong.body.code, 'invalid_credentials');

    const enable = await call(ctx.app, 'PATCH', memberPath(tenantId, person.id), {
      headers: session.auth,
      json: { status: 'active' },
    });
    assert.equal(enable.status, 200);
    const back = await logIn(ctx.app, person.email);
    assert.equal((await call(ctx.app, 'GET', '/v1/auth/me', { headers: back.auth })).status, 200);

    const removed = await call(ctx.app, 'DELETE', memberPath(tenantId, person.id), { headers: session.auth });
    assert.equal(removed.status, 204);
    await assertSessionEnded(back, 'removal');
    const login = await call(ctx.app, 'POST', '/v1/auth', {
      json: { email: person.email, password: STRONG_PASSWORD },
    });
    assert.equal(login.status, 401);
    assert.equal(login.body.code, 'invalid_credentials');
    const sessions = await ctx.app.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', person.id)
      .execute();
    assert.deepEqual(sessions, []);
  });

  it("acting on another tenant's team answers 404, whatever the role", async () => {
    const a = await ownerSession(ctx.app);
    const b = await ownerSession(ctx.app);
    const aMember = await addMember(ctx.app, a.tenantId, a.session.auth, 'member');
    const bMember = await addMember(ctx.app, b.tenantId, b.session.auth, 'member');
    for (const auth of [aMember.session.auth, a.session.auth]) {
      const requests = [
        call(ctx.app, 'GET', membersPath(b.tenantId), { headers: auth }),
        call(ctx.app, 'POST', membersPath(b.tenantId), {
          headers: auth,
          json: { email: uniqueEmail(), name: 'Intruder', role: 'owner' },
        }),
        call(ctx.app, 'PATCH', memberPath(b.tenantId, bMember.id), {
          headers: auth,
          json: { role: 'admin' },
        }),
        call(ctx.app, 'DELETE', memberPath(b.tenantId, bMember.id), { headers: auth }),
        call(ctx.app, 'DELETE', memberPath(b.tenantId, b.owner.id), { headers: auth }),
        call(ctx.app, 'GET', `/v1/tenants/${b.tenantId}/audit-events`, { headers: auth }),
      ];
      for (const res of await Promise.all(requests)) {
        assert.equal(res.status, 404, res.text);
        assert.equal(res.body.code, 'not_found');
        assert.ok(!res.text.includes(bMember.email));
      }
    }
    // Tenant B's member named under tenant A's path: the id is not found there either.
    const crossed = [
      call(ctx.app, 'PATCH', memberPath(a.tenantId, bMember.id), {
        headers: a.session.auth,
        json: { status: 'disabled' },
      }),
      call(ctx.app, 'DELETE', memberPath(a.tenantId, bMember.id), { headers: a.session.auth }),
    ];
    for (const res of await Promise.all(crossed)) {
      assert.equal(res.status, 404, res.text);
      assert.equal(res.body.code, 'not_found');
    }
    const bRows = await ctx.app.db
      .selectFrom('users')
      .select(['id', 'role', 'status'])
      .where('tenant_id', '=', b.tenantId)
      .orderBy('role')
      .execute();
    assert.deepEqual(
      bRows.map((row) => [row.id, row.role, row.status]),
      [
        [bMember.id, 'member', 'active'],
        [b.owner.id, 'owner', 'active'],
      ],
    );
    const bMe = await call(ctx.app, 'GET', '/v1/auth/me', { headers: bMember.session.auth });
    assert.equal(bMe.status, 200);
  });

  it('a member may list the team but not add, change or remove anyone', async () => {
    const { tenantId, owner, session } = await ownerSession(ctx.app);
    const member = await addMember(ctx.app, tenantId, session.auth, 'member');
    const other = await addMember(ctx.app, tenantId, session.auth, 'member');
    const list = await call(ctx.app, 'GET', membersPath(tenantId), { headers: member.session.auth });
    assert.equal(list.status, 200);
    assert.equal(list.body.data.length, 3);
    const refused = [
      await call(ctx.app, 'POST', membersPath(tenantId), {
        headers: member.session.auth,
        json: { email: uniqueEmail(), name: 'Friend', role: 'member' },
      }),
      await call(ctx.app, 'PATCH', memberPath(tenantId, other.id), {
        headers: member.session.auth,
        json: { status: 'disabled' },
      }),
      await call(ctx.app, 'PATCH', memberPath(tenantId, member.id), {
        headers: member.session.auth,
        json: { role: 'owner' },
      }),
      await call(ctx.app, 'DELETE', memberPath(tenantId, other.id), { headers: member.session.auth }),
      await call(ctx.app, 'DELETE', memberPath(tenantId, owner.id), { headers: member.session.auth }),
    ];
    for (const res of refused) {
      assert.equal(res.status, 403, res.text);
      assert.equal(res.body.code, 'forbidden');
    }
    const after = await call(ctx.app, 'GET', membersPath(tenantId), { headers: session.auth });
    assert.deepEqual(
      after.body.data
        .map((entry: { role: string; status: string }) => `${entry.role}:${entry.status}`)
        .sort(),
      ['member:active', 'member:active', 'owner:active'],
    );
  });

  it('pages through the team newest first with limit and cursor', async () => {
    const { tenantId, owner, session } = await ownerSession(ctx.app);
    const added: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call(ctx.app, 'POST', membersPath(tenantId), {
        headers: session.auth,
        json: { email: uniqueEmail(`p${i}`), name: `Person ${i}`, role: 'member' },
      });
      assert.equal(res.status, 201);
      added.push(res.body.member.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const page = await call(ctx.app, 'GET', `${membersPath(tenantId)}${query}`, { headers: session.auth });
      assert.equal(page.status, 200, page.text);
      assert.ok(page.body.data.length <= 2);
      seen.push(...page.body.data.map((entry: { id: string }) => entry.id));
      cursor = page.body.next_cursor;
      pages += 1;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...added.reverse(), owner.id], 'every person once, newest first');

    const whole = await call(ctx.app, 'GET', `${membersPath(tenantId)}?limit=5`, { headers: session.auth });
    assert.equal(whole.body.data.length, 5);
    assert.equal(whole.body.next_cursor, null, 'no cursor after the last page');
    for (const query of ['?limit=0', '?limit=101', '?limit=abc']) {
      const res = await call(ctx.app, 'GET', `${membersPath(tenantId)}${query}`, { headers: session.auth });
      assert.equal(res.status, 422, query);
      assert.deepEqual(errorPaths(res.body), ['query.limit']);
    }
    const forged = await call(ctx.app, 'GET', `${membersPath(tenantId)}?cursor=not-a-cursor`, {
      headers: session.auth,
    });
    assert.equal(forged.status, 422);
    assert.deepEqual(errorPaths(forged.body), ['query.cursor']);
  });

  it('audits additions, changes and removals, readable by owners, admins and the admin key', async () => {
    const { tenantId, owner, session } = await ownerSession(ctx.app);
    const member = await addMember(ctx.app, tenantId, session.auth, 'member');
    const patched = await call(ctx.app, 'PATCH', memberPath(tenantId, member.id), {
      headers: session.auth,
      json: { role: 'admin' },
    });
    assert.equal(patched.status, 200);
    const removed = await call(ctx.app, 'DELETE', memberPath(tenantId, member.id), { headers: session.auth });
    assert.equal(removed.status, 204);

    const res = await call(ctx.app, 'GET', `/v1/tenants/${tenantId}/audit-events?limit=100`, {
      headers: session.auth,
    });
    assert.equal(res.status, 200, res.text);
    type Event = {
      action: string;
      actor: { type: string; id: string | null };
      target: { type: string; id: string } | null;
      metadata: Record<string, unknown>;
      ip: string | null;
      request_id: string | null;
    };
    const about = (action: string) =>
      (res.body.data as Event[]).filter((event) => event.action === action && event.target?.id === member.id);
    const [added] = about('team.member_added');
    assert.ok(added, JSON.stringify(res.body.data.map((event: Event) => event.action)));
    assert.deepEqual(added.actor, { type: 'user', id: owner.id });
    assert.deepEqual(added.target, { type: 'user', id: member.id });
    assert.deepEqual(added.metadata, { role: 'member' });
    assert.equal(added.ip, '203.0.113.10');
    assert.match(added.request_id ?? '', /^req_/);
    const [updated] = about('team.member_updated');
    assert.ok(updated);
    assert.deepEqual(updated.actor, { type: 'user', id: owner.id });
    assert.deepEqual(updated.metadata.from, { role: 'member', status: 'active' });
    assert.deepEqual(updated.metadata.to, { role: 'admin', status: 'active' });
    assert.equal(updated.metadata.sessions_revoked, 1);
    const [gone] = about('team.member_removed');
    assert.ok(gone);
    assert.deepEqual(gone.actor, { type: 'user', id: owner.id });
    assert.deepEqual(gone.metadata, { role: 'admin' });
    const order = res.body.data.map((event: Event) => event.action);
    assert.ok(
      order.indexOf('team.member_removed') < order.indexOf('team.member_updated') &&
        order.indexOf('team.member_updated') < order.indexOf('team.member_added'),
      'newest first',
    );

    const admin = await addMember(ctx.app, tenantId, session.auth, 'admin');
    const byAdmin = await call(ctx.app, 'GET', `/v1/tenants/${tenantId}/audit-events`, {
      headers: admin.session.auth,
    });
    assert.equal(byAdmin.status, 200);
    const byKey = await call(ctx.app, 'GET', `/v1/tenants/${tenantId}/audit-events?limit=100`, {
      headers: asAdmin,
    });
    assert.equal(byKey.status, 200);
    assert.ok(byKey.body.data.some((event: Event) => event.action === 'team.member_removed'));
    const plain = await addMember(ctx.app, tenantId, session.auth, 'member');
    const byMember = await call(ctx.app, 'GET', `/v1/tenants/${tenantId}/audit-events`, {
      headers: plain.session.auth,
    });
    assert.equal(byMember.status, 403);
    assert.equal(byMember.body.code, 'forbidden');
  });

  it('caps additions per caller and per tenant, counting 409s like successes, so probing emails ends in 429', async () => {
    await awayFromWindowEnd(60);
    const perCaller = policies.teamInviteByCaller.limit;
    const perTenant = policies.teamInviteByTenant.limit;
    // Two admins of one tenant and one owner together must reach the tenant cap before their own.
    assert.ok(perTenant > 2 * perCaller && perTenant <= 3 * perCaller, 'test assumes 2 < tenant/caller <= 3');
    const { tenantId, session } = await ownerSession(ctx.app);
    const elsewhere = await ownerSession(ctx.app); // an account of another tenant: what a prober looks for
    const add = (auth: Record<string, string>, email: string) =>
      call(ctx.app, 'POST', membersPath(tenantId), {
        headers: auth,
        json: { email, name: 'P', role: 'member' },
      });
    const adminA = await addMember(ctx.app, tenantId, session.auth, 'admin');
    const adminB = await addMember(ctx.app, tenantId, session.auth, 'admin');
    let tenantUsed = 2;

    /** Spends `count` of a caller's additions, alternating probes (409) and real additions (201). */
    async function spend(auth: Record<string, string>, count: number): Promise<void> {
      for (let i = 0; i < count; i++) {
        const probe = i % 2 === 0;
        const res = await add(auth, probe ? elsewhere.owner.email : uniqueEmail('cap'));
        assert.equal(res.status, probe ? 409 : 201, res.text);
        tenantUsed += 1;
      }
    }
    await spend(session.auth, perCaller - 2);
    const ownerCapped = await add(session.auth, elsewhere.owner.email);
    assert.equal(ownerCapped.status, 429, ownerCapped.text);
    assert.equal(ownerCapped.body.code, 'rate_limited');
    assert.ok(Number(ownerCapped.headers.get('retry-after')) >= 1);
    assert.equal(ownerCapped.headers.get('ratelimit-policy'), `"team_invite_caller";q=${perCaller};w=900`);
    // A capped caller's probes answer 429 whatever the email: nothing about existence leaks.
    const stillCapped = await add(session.auth, uniqueEmail('never'));
    assert.equal(stillCapped.status, 429);

    await spend(adminA.session.auth, perCaller);
    assert.equal((await add(adminA.session.auth, uniqueEmail('never'))).status, 429);
    await spend(adminB.session.auth, perTenant - tenantUsed);
    assert.equal(tenantUsed, perTenant);
    const tenantCapped = await add(adminB.session.auth, elsewhere.owner.email);
    assert.equal(tenantCapped.status, 429, tenantCapped.text);
    assert.equal(tenantCapped.headers.get('ratelimit-policy'), `"team_invite_tenant";q=${perTenant};w=900`);
    // The cap is on adding: the same people still list, change and remove members.
    const list = await call(ctx.app, 'GET', `${membersPath(tenantId)}?limit=100`, {
      headers: adminB.session.auth,
    });
    assert.equal(list.status, 200);
    // Another tenant's budget is its own.
    const other = await call(ctx.app, 'POST', membersPath(elsewhere.tenantId), {
      headers: elsewhere.session.auth,
      json: { email: uniqueEmail('other'), name: 'O', role: 'member' },
    });
    assert.equal(other.status, 201, other.text);
  });
});
