import { recordAudit } from '../audit/audit.repository.js';
import type { JsonValue } from '../db/tables.js';
import { insertContract, insertVault } from './contracts.repository.js';
import type { Change } from './settings.service.js';

export interface ContractInput {
  readonly title: string;
  readonly template: string;
  readonly parties: readonly {
    readonly name: string;
    readonly email?: string | undefined;
    readonly role?: string | undefined;
  }[];
}

/**
 * Creates a contract and the vault that will hold its documents, in one transaction with both audit
 * events: a vault exists exactly when its contract does (API.md §5 "HEIR resources").
 */
export function createContract(change: Change, input: ContractInput) {
  return change.db.transaction().execute(async (trx) => {
    const contract = await insertContract(trx, {
      tenantId: change.tenantId,
      title: input.title,
      template: input.template,
      parties: JSON.parse(JSON.stringify(input.parties)) as JsonValue,
      at: change.at,
    });
    const vault = await insertVault(trx, {
      tenantId: change.tenantId,
      contractId: contract.id,
      name: `${input.title} vault`.slice(0, 220),
      at: change.at,
    });
    for (const [action, target] of [
      ['contract.created', { type: 'contract', id: contract.id }],
      ['vault.created', { type: 'vault', id: vault.id }],
    ] as const) {
      await recordAudit(
        trx,
        change.actor,
        { tenantId: change.tenantId, action, target, metadata: { template: input.template } },
        change.at,
      );
    }
    return { contract, vault };
  });
}
