/**
 * What the signed-in person may do, from docs/API.md §4/§5, so the portal offers only that: members
 * read keys and usage; owners and admins also create, change, rotate and revoke keys, manage the team
 * and read the audit log. Tiers and scopes come from the API's own vocabulary (lib/vocabulary.ts).
 */
import { type Role, type Scope, TIERS, type Tier, tierRank, tierRules } from '../../lib/vocabulary.js';

export const canManageKeys = (role: Role) => role === 'owner' || role === 'admin';
export const canManageTeam = canManageKeys;
export const canReadAudit = canManageKeys;

/** The tiers a person may create keys of: up to the tenant's max_tier, never `internal` (admins only). */
export function creatableTiers(maxTier: Tier): Tier[] {
  return TIERS.filter((tier) => tier !== 'internal' && tierRank(tier) <= tierRank(maxTier));
}

/** The scopes a key of `tier` may carry (`admin` belongs to internal keys, which people cannot make). */
export function scopesFor(tier: Tier): readonly Scope[] {
  return tierRules[tier].scopes;
}

/** People may change or rotate only keys of a tier they could create (API.md §5 "Tiers"). */
export function canChangeKeyOfTier(tier: Tier, maxTier: Tier): boolean {
  return creatableTiers(maxTier).includes(tier);
}

/** The roles a person may hand out: only owners grant or take away owner and admin. */
export function assignableRoles(role: Role): Role[] {
  return role === 'owner' ? ['owner', 'admin', 'member'] : ['member'];
}
