// What the bot's two pages share: their style (readable from 390 px wide up: long output wraps or scrolls
// in its own box, tables become one card per row on a phone), the escaping of everything from the store,
// and the browser-side helpers that show a time relative, with its absolute UTC time on hover.

export const PAGE_STYLE = `
  body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1f2328; overflow-wrap: anywhere; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; } .muted { color: #59636e; } a { color: #0969da; }
  .state { display: inline-block; padding: .1rem .6rem; border-radius: 1rem; font-weight: 600; background: #eaeef2; }
  .state.succeeded, .state.success, .state.skipped { background: #dafbe1; color: #1a7f37; }
  .state.failed, .state.failure, .state.error, .state.unknown, .state.cancelled { background: #ffebe9; color: #cf222e; }
  .state.running, .state.queued, .state.in_progress, .state.rolled_back, .state.locked { background: #fff8c5; color: #9a6700; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; } th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #d1d9e0; vertical-align: top; }
  pre { background: #f6f8fa; padding: .8rem; overflow: auto; max-height: 24rem; white-space: pre-wrap; overflow-wrap: anywhere; }
  .stderr { color: #cf222e; } code { font-size: .9em; }
  ol { padding-left: 1.2rem; } time { color: #59636e; font-variant-numeric: tabular-nums; }
  nav a { margin-right: 1rem; white-space: nowrap; }
  @media (max-width: 40rem) {
    body { margin: 1rem auto; }
    table, tbody, tr, td { display: block; } thead { display: none; }
    tr { border-bottom: 1px solid #d1d9e0; padding: .4rem 0; } td { border: 0; padding: .1rem 0; }
    td[data-label]::before { content: attr(data-label) ": "; color: #59636e; }
  }`;

/** Browser-side: `esc`, and `when(iso)`: a <time> saying how long ago, its UTC date and time on hover. */
export const CLIENT_HELPERS = `
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const utc = (iso) => iso.slice(0, 10) + ' ' + iso.slice(11, 19) + ' UTC';
function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}
const when = (iso) => iso ? '<time datetime="' + esc(iso) + '" title="' + esc(utc(iso)) + '">' + esc(ago(iso)) + '</time>' : '';
const link = (href, text, id) => href ? '<a' + (id ? ' id="' + esc(id) + '"' : '') + ' href="' + esc(href) + '">' + esc(text) + '</a>' : '';`;

/** JSON for an inline <script>: `<` escaped so no value can close the script. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
