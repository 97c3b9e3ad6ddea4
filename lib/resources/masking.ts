/** How a stored secret is shown after it was saved: its last 4 characters only (`…abcd`). */
export function lastFour(secret: string): string {
  return secret.slice(-4);
}

export function masked(last4: string | null): string | null {
  return last4 === null ? null : `…${last4}`;
}

/** The encryption context of a tenant's secret column: a ciphertext moved elsewhere fails to decrypt. */
export function secretContext(column: string, tenantId: string, rowId = tenantId): string {
  return `${column}:${tenantId}:${rowId}`;
}
