import * as z from 'zod';

/** The events a webhook subscription or an event route may name. */
export const EVENT_TYPES = [
  'invoice.received',
  'invoice.accepted',
  'invoice.rejected',
  'contract.created',
  'contract.signed',
  'vault.created',
  'vault.document_added',
] as const;

const families = [...new Set(EVENT_TYPES.map((type) => type.split('.')[0]))];

/** An event type, `<family>.*` (every event of a family) or `*` (every event). */
export const eventPatternSchema = z
  .string()
  .refine(
    (value) =>
      value === '*' ||
      (EVENT_TYPES as readonly string[]).includes(value) ||
      families.some((family) => value === `${family}.*`),
    { message: `an event (${EVENT_TYPES.join(', ')}), a family such as invoice.*, or *` },
  );
