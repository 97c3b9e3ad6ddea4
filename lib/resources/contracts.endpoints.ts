import * as z from 'zod';
import { pageQuery, pageSchema } from '../db/pagination.js';
import { NotFoundError } from '../errors.js';
import { defineEndpoint } from '../http/endpoint.js';
import { lazy } from '../lazy.js';
import { displayNameSchema } from '../validation/text.js';
import {
  type ContractRow,
  findContract,
  findContractTenant,
  findVault,
  findVaultTenant,
  listContracts,
  listVaults,
  type VaultRow,
  vaultIdsOf,
} from './contracts.repository.js';
import { createContract } from './contracts.service.js';

const idParams = lazy(() => z.object({ id: z.uuid() }));
const contractKeys = { apiKey: { scopes: ['contracts'] } } as const;
const vaultKeys = { apiKey: { scopes: ['vaults'] } } as const;

const partySchema = lazy(() =>
  z.strictObject({
    name: displayNameSchema(),
    email: z.email().max(254).optional(),
    role: z.string().trim().min(1).max(50).optional(),
  }),
);

const contractSchema = lazy(() =>
  z.object({
    id: z.uuid(),
    title: z.string(),
    template: z.string(),
    parties: z.array(
      z.object({ name: z.string(), email: z.string().optional(), role: z.string().optional() }),
    ),
    status: z.enum(['draft']),
    vault_id: z.uuid().nullable(),
    created_at: z.string(),
  }),
);
const vaultSchema = lazy(() =>
  z.object({
    id: z.uuid(),
    name: z.string(),
    contract_id: z.uuid().nullable(),
    created_at: z.string(),
  }),
);

function toContractView(row: ContractRow, vaultId: string | null) {
  return {
    id: row.id,
    title: row.title,
    template: row.template,
    parties: row.parties as z.infer<ReturnType<typeof contractSchema>>['parties'],
    status: row.status as 'draft',
    vault_id: vaultId,
    created_at: row.created_at.toISOString(),
  };
}

function toVaultView(row: VaultRow) {
  return {
    id: row.id,
    name: row.name,
    contract_id: row.contract_id,
    created_at: row.created_at.toISOString(),
  };
}

export const createContractEndpoint = defineEndpoint({
  method: 'POST',
  path: '/v1/contracts',
  summary: 'Generate a contract (and the vault for its documents)',
  tags: ['Contracts'],
  auth: contractKeys,
  tenant: 'caller',
  body: () =>
    z.strictObject({
      title: displayNameSchema(),
      template: z
        .string()
        .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a template slug: lowercase letters, digits, -'),
      parties: z.array(partySchema()).min(1).max(20),
    }),
  response: { status: 201, description: 'The contract', schema: contractSchema },
  handler: async (ctx, { body }) => {
    const { contract, vault } = await createContract(
      { db: ctx.db, actor: ctx.actor, tenantId: ctx.tenantId, at: ctx.now() },
      body,
    );
    return toContractView(contract, vault.id);
  },
});

export const listContractsEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/contracts',
  summary: "The tenant's contracts, newest first",
  tags: ['Contracts'],
  auth: contractKeys,
  tenant: 'caller',
  query: pageQuery,
  response: { status: 200, description: 'A page of contracts', schema: () => pageSchema(contractSchema()) },
  handler: async (ctx, { query }) => {
    const page = await listContracts(ctx.db, ctx.tenantId, query);
    const vaults = await vaultIdsOf(
      ctx.db,
      ctx.tenantId,
      page.data.map((row) => row.id),
    );
    return {
      data: page.data.map((row) => toContractView(row, vaults.get(row.id) ?? null)),
      next_cursor: page.next_cursor,
    };
  },
});

export const getContractEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/contracts/{id}',
  summary: 'A contract of the tenant',
  tags: ['Contracts'],
  auth: contractKeys,
  tenant: { ownerOf: 'id', lookup: findContractTenant },
  params: idParams,
  response: { status: 200, description: 'The contract', schema: contractSchema },
  handler: async (ctx, { params }) => {
    const row = await findContract(ctx.db, ctx.tenantId, params.id);
    if (!row) throw new NotFoundError();
    return toContractView(row, (await vaultIdsOf(ctx.db, ctx.tenantId, [row.id])).get(row.id) ?? null);
  },
});

export const listVaultsEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/vaults',
  summary: "The tenant's vaults, newest first",
  tags: ['Vaults'],
  auth: vaultKeys,
  tenant: 'caller',
  query: pageQuery,
  response: { status: 200, description: 'A page of vaults', schema: () => pageSchema(vaultSchema()) },
  handler: async (ctx, { query }) => {
    const page = await listVaults(ctx.db, ctx.tenantId, query);
    return { data: page.data.map(toVaultView), next_cursor: page.next_cursor };
  },
});

export const getVaultEndpoint = defineEndpoint({
  method: 'GET',
  path: '/v1/vaults/{id}',
  summary: 'A vault of the tenant',
  tags: ['Vaults'],
  auth: vaultKeys,
  tenant: { ownerOf: 'id', lookup: findVaultTenant },
  params: idParams,
  response: { status: 200, description: 'The vault', schema: vaultSchema },
  handler: async (ctx, { params }) => {
    const row = await findVault(ctx.db, ctx.tenantId, params.id);
    if (!row) throw new NotFoundError();
    return toVaultView(row);
  },
});

export const contractEndpoints = [
  createContractEndpoint,
  listContractsEndpoint,
  getContractEndpoint,
  listVaultsEndpoint,
  getVaultEndpoint,
];
