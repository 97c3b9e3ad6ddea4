/** The portal's entry: renders the app into #app (the pages carry no inline script: CSP script-src 'self'). */
import { render } from 'preact';
import { App } from './app.js';

const root = document.getElementById('app');
if (root) {
  root.textContent = ''; // the static "Loading…" placeholder
  render(<App />, root);
}
