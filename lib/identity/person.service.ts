import type { Db } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Role } from '../db/tables.js';
import { ConflictError } from '../errors.js';
import { emailKey } from './email.js';
import { hashPassword, temporaryPassword } from './password.js';
import { insertUser, type UserRow } from './user.repository.js';

export interface NewPerson {
  readonly tenantId: string;
  /** Already normalised by `emailSchema`. */
  readonly email: string;
  readonly name: string;
  readonly role: Role;
}

/** The temporary password, hashed before the transaction that stores it (bcrypt is slow). */
export async function prepareTemporaryPassword(cost: number): Promise<{ password: string; hash: string }> {
  const password = temporaryPassword();
  return { password, hash: await hashPassword(password, cost) };
}

/**
 * Adds a person with a temporary password (they must set their own before they can log in).
 * An email already in use anywhere on the platform is a 409: login names no tenant.
 */
export async function insertPerson(
  trx: Db,
  person: NewPerson,
  passwordHash: string,
  at: Date,
): Promise<UserRow> {
  try {
    return await insertUser(trx, {
      tenantId: person.tenantId,
      email: person.email,
      emailKey: emailKey(person.email),
      name: person.name,
      role: person.role,
      passwordHash,
      at,
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError('An account with this email already exists.');
    throw error;
  }
}
