import { errorCatalog } from '../errors.js';

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"]/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[char] ?? char,
  );

/**
 * The page every problem's `type` points at (`/docs/errors#<code>`), rendered from the error catalog;
 * `npm run docs:errors` writes it to public/docs/errors/index.html and a test keeps the two equal.
 * No inline script or style: the page is served under `style-src 'self'` (vercel.json), so its
 * look lives in /styles.css.
 */
export function renderErrorDocs(): string {
  const rows = Object.entries(errorCatalog)
    .map(
      ([code, entry]) =>
        `    <tr id="${code}"><td><a href="#${code}"><code>${code}</code></a></td><td>${entry.status}</td><td>${escapeHtml(entry.title)}</td><td>${escapeHtml(entry.about)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>HEIR Auth — error codes</title>
  <link rel="stylesheet" href="/styles.css">
</head>
<body>
<main class="wide">
  <h1>Error codes</h1>
  <p>Every error is <code>application/problem+json</code> (RFC 9457) with a stable <code>code</code>, the
  <code>request_id</code> to quote when asking for help, and, for validation failures, <code>errors</code>
  with the path of each invalid field. This page is generated from the service's error catalog.</p>
  <table>
    <thead><tr><th>code</th><th>status</th><th>title</th><th>meaning</th></tr></thead>
    <tbody>
${rows}
    </tbody>
  </table>
  <p><a href="/">Home</a> · <a href="/api/openapi.json">OpenAPI document</a></p>
</main>
</body>
</html>
`;
}
