/** `npm run docs:errors`: writes public/docs/errors/index.html from the error catalog. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { renderErrorDocs } from '../lib/http/error-docs.js';

mkdirSync('public/docs/errors', { recursive: true });
writeFileSync('public/docs/errors/index.html', renderErrorDocs());
console.log('public/docs/errors/index.html written');
