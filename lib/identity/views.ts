import * as z from 'zod';
import { lazy } from '../lazy.js';
import type { UserRow } from './user.repository.js';

export const roleSchema = lazy(() => z.enum(['owner', 'admin', 'member']).meta({ id: 'Role' }));

export const userSchema = lazy(() =>
  z
    .object({
      id: z.uuid(),
      email: z.string(),
      name: z.string(),
      role: roleSchema(),
      tenant_id: z.uuid(),
      created_at: z.iso.datetime(),
      last_login_at: z.iso.datetime().nullable(),
    })
    .meta({ id: 'User' }),
);

export const memberSchema = lazy(() =>
  userSchema()
    .extend({ status: z.enum(['active', 'disabled']), password_change_required: z.boolean() })
    .meta({ id: 'TeamMember' }),
);

export const tokenPairSchema = lazy(() =>
  z
    .object({
      access_token: z.string(),
      token_type: z.literal('Bearer'),
      expires_in: z.number().int(),
      refresh_token: z.string(),
      user: userSchema(),
    })
    .meta({ id: 'TokenPair' }),
);

export type UserView = z.infer<ReturnType<typeof userSchema>>;
export type MemberView = z.infer<ReturnType<typeof memberSchema>>;
export type TokenPair = z.infer<ReturnType<typeof tokenPairSchema>>;

export function toUserView(
  row: Pick<UserRow, 'id' | 'email' | 'name' | 'role' | 'tenant_id' | 'created_at' | 'last_login_at'>,
): UserView {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    tenant_id: row.tenant_id,
    created_at: row.created_at.toISOString(),
    last_login_at: row.last_login_at?.toISOString() ?? null,
  };
}

export function toMemberView(row: UserRow): MemberView {
  return { ...toUserView(row), status: row.status, password_change_required: row.password_temporary };
}
