/**
 * The FIRS dictionary's categories (a closed list) and the entries each answers until an admin saves
 * its own: real codes from the FIRS e-invoicing (MBS) code lists, which follow UN/CEFACT (UNCL 1001
 * invoice types, UNCL 4461 payment means) and ISO 4217.
 */
export const DICTIONARY_CATEGORIES = [
  'tax-categories',
  'currencies',
  'invoice-types',
  'payment-means',
] as const;
export type DictionaryCategory = (typeof DICTIONARY_CATEGORIES)[number];

export interface DictionaryEntry {
  readonly code: string;
  readonly label: string;
  readonly description?: string;
  readonly rate?: number;
}

export const DICTIONARY_SEED: Record<DictionaryCategory, readonly DictionaryEntry[]> = {
  'tax-categories': [
    { code: 'STANDARD_VAT', label: 'Standard VAT', rate: 7.5 },
    { code: 'ZERO_VAT', label: 'Zero-rated VAT', rate: 0 },
    { code: 'VAT_EXEMPT', label: 'Exempt from VAT', rate: 0 },
  ],
  currencies: [
    { code: 'NGN', label: 'Nigerian naira' },
    { code: 'USD', label: 'US dollar' },
    { code: 'GBP', label: 'Pound sterling' },
    { code: 'EUR', label: 'Euro' },
  ],
  'invoice-types': [
    { code: '380', label: 'Commercial invoice' },
    { code: '381', label: 'Credit note' },
    { code: '383', label: 'Debit note' },
    { code: '384', label: 'Corrected invoice' },
    { code: '389', label: 'Self-billed invoice' },
  ],
  'payment-means': [
    { code: '10', label: 'In cash' },
    { code: '30', label: 'Credit transfer' },
    { code: '42', label: 'Payment to bank account' },
    { code: '48', label: 'Bank card' },
    { code: '49', label: 'Direct debit' },
  ],
};
