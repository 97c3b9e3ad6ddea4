/**
 * public/ is served under `script-src 'self'; style-src 'self'` (vercel.json): a page with an inline
 * script, style element, style attribute or event handler would render broken, so none may have one,
 * and every stylesheet or script it links must be a file of public/. The developer portal's pages are
 * built output (scripts/build-portal.ts), so they are built first and checked like the others, and its
 * bundle may name no other origin (only XML namespaces, which are never fetched).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildPortal, PORTAL_PAGES } from '../../scripts/build-portal.js';
import { compiledRoutes } from '../../scripts/vercel-local.js';

const publicDir = fileURLToPath(new URL('../../public', import.meta.url));
await buildPortal();

function htmlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return htmlFiles(path);
    return name.endsWith('.html') ? [path] : [];
  });
}

describe('static pages under the CSP', () => {
  const pages = htmlFiles(publicDir);

  it('finds the pages, the portal’s among them', () => {
    assert.ok(pages.length >= 4, pages.join(', '));
    for (const page of PORTAL_PAGES) assert.ok(pages.includes(join(publicDir, page)), page);
  });

  it('the portal’s bundle and stylesheet load nothing from another origin', () => {
    for (const file of ['app/portal.js', 'app/portal.css']) {
      const text = readFileSync(join(publicDir, file), 'utf8');
      const origins = [...text.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi)]
        .map((match) => match[0])
        .filter((url) => !/^http:\/\/www\.w3\.org\//.test(url));
      assert.deepEqual(origins, [], file);
      assert.doesNotMatch(text, /\beval\(|new Function\(/, `${file} needs no unsafe-eval`);
    }
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
