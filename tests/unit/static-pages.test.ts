/**
 * public/ is served under `script-src 'self'; style-src 'self'` (vercel.json): a page with an inline
 * script, style element, style attribute or event handler would render broken, so none may have one,
 * and every stylesheet or script it links must be a file of public/.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compiledRoutes } from '../../scripts/vercel-local.js';

const publicDir = fileURLToPath(new URL('../../public', import.meta.url));

function htmlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return htmlFiles(path);
    return name.endsWith('.html') ? [path] : [];
  });
}

describe('static pages under the CSP', () => {
  const pages = htmlFiles(publicDir);

  it('finds the pages', () => {
    assert.ok(pages.length >= 2, pages.join(', '));
  });

  for (const page of pages) {
    const name = relative(publicDir, page);
    it(`${name} has no inline script, style or handler, and links only files of public/`, () => {
      const html = readFileSync(page, 'utf8');
      assert.doesNotMatch(html, /<style[\s>]/i, 'inline <style>');
      assert.doesNotMatch(html, /\sstyle\s*=/i, 'style attribute');
      assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'event handler attribute');
      assert.doesNotMatch(html, /javascript:/i, 'javascript: URL');
      for (const script of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
        assert.match(script[1] ?? '', /\ssrc=/, 'inline <script>');
        assert.equal(script[2]?.trim(), '', 'inline <script>');
      }
      for (const link of html.matchAll(/<(?:link|script)\b[^>]*(?:href|src)="(\/[^"]+\.(?:css|js))"/gi)) {
        assert.ok(existsSync(join(publicDir, link[1] ?? '')), `${link[1]} is not in public/`);
      }
    });
  }

  it('vercel.json gives every path the strict CSP, DENY framing, nosniff and no referrer', () => {
    const headerRoutes = compiledRoutes().filter((route) => 'headers' in route && route.headers);
    const forRoot = headerRoutes.find(
      (route) => 'src' in route && new RegExp(route.src ?? '^$').test('/docs/errors'),
    );
    assert.ok(forRoot && 'headers' in forRoot && forRoot.headers);
    const headers = Object.fromEntries(
      Object.entries(forRoot.headers).map(([name, value]) => [name.toLowerCase(), value]),
    );
    const csp = headers['content-security-policy'] ?? '';
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ]) {
      assert.ok(csp.split(/;\s*/).includes(directive), directive);
    }
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['referrer-policy'], 'no-referrer');
  });
});
