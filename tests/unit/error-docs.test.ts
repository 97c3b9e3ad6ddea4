import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { errorCatalog } from '../../lib/errors.js';
import { renderErrorDocs } from '../../lib/http/error-docs.js';

describe('error documentation', () => {
  it('public/docs/errors is up to date with the catalog (run npm run docs:errors)', () => {
    const committed = readFileSync(new URL('../../public/docs/errors/index.html', import.meta.url), 'utf8');
    assert.equal(committed, renderErrorDocs());
  });

  it('has an anchor for every code, and every code has a title and an explanation', () => {
    const page = renderErrorDocs();
    for (const [code, entry] of Object.entries(errorCatalog)) {
      assert.ok(page.includes(`id="${code}"`), code);
      assert.ok(entry.title.length > 0 && entry.about.length > 0, code);
    }
  });
});
