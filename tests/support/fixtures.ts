/** Builders for the state a test needs; each test makes its own tenant and people. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { App } from '../../lib/app.js';
import { asAdmin, call } from './client.js';

export const uniqueEmail = (label = 'person') => `${label}.${randomBytes(5).toString('hex')}@example.com`;
export const STRONG_PASSWORD = 'correct horse battery staple 42';

export interface TenantFixture {
  readonly tenantId: string;
  readonly owner: { readonly id: string; readonly email: string; readonly temporaryPassword: string };
}

export async function createTenant(app: App, body: Record<string, unknown> = {}): Promise<TenantFixture> {
  const res = await call(app, 'POST', '/v1/tenants', {
    headers: asAdmin,
    json: {
      name: `Tenant ${randomBytes(3).toString('hex')}`,
      owner: { email: uniqueEmail('owner'), name: 'Olu Owner' },
      ...body,
    },
  });
  assert.equal(res.status, 201, res.text);
  return {
    tenantId: res.body.tenant.id,
    owner: {
      id: res.body.owner.id,
      email: res.body.owner.email,
      temporaryPassword: res.body.owner.temporary_password,
    },
  };
}

export interface Session {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly userId: string;
  readonly auth: Record<string, string>;
}

/** Replaces a temporary password and returns the login it starts. */
export async function activate(
  app: App,
  email: string,
  temporaryPassword: string,
  password = STRONG_PASSWORD,
): Promise<Session> {
  const res = await call(app, 'POST', '/v1/auth/set-password', {
    json: { email, temporary_password: temporaryPassword, new_password: password },
  });
  assert.equal(res.status, 200, res.text);
  return toSession(res.body);
}

export async function logIn(
  app: App,
  email: string,
  password = STRONG_PASSWORD,
  ip?: string,
): Promise<Session> {
  const res = await call(app, 'POST', '/v1/auth', { json: { email, password }, ...(ip ? { ip } : {}) });
  assert.equal(res.status, 200, res.text);
  return toSession(res.body);
}

export function toSession(body: {
  access_token: string;
  refresh_token: string;
  user: { id: string };
}): Session {
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    userId: body.user.id,
    auth: { authorization: `Bearer ${body.access_token}` },
  };
}

/** A tenant whose owner has set a password and is logged in. */
export async function ownerSession(app: App): Promise<TenantFixture & { session: Session }> {
  const tenant = await createTenant(app);
  const session = await activate(app, tenant.owner.email, tenant.owner.temporaryPassword);
  return { ...tenant, session };
}

/** Adds a member through the API and activates them. */
export async function addMember(
  app: App,
  tenantId: string,
  by: Record<string, string>,
  role: 'owner' | 'admin' | 'member',
): Promise<{ id: string; email: string; session: Session }> {
  const email = uniqueEmail(role);
  const res = await call(app, 'POST', `/v1/tenants/${tenantId}/team-members`, {
    headers: by,
    json: { email, name: `A ${role}`, role },
  });
  assert.equal(res.status, 201, res.text);
  const session = await activate(app, email, res.body.temporary_password);
  return { id: res.body.member.id, email, session };
}
