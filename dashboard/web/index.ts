// The browser bundle's entry (esbuild: dist/dashboard/assets/app.js and app.css).
import './style.css';
import { html } from 'htm/preact';
import { render } from 'preact';
import { App } from './app.js';

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
