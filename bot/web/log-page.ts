// The deployment log page: timeline, hosts table, each host's output; it polls its JSON twin every
// two seconds while the deployment runs, so it updates live without a reload.
import type { DeploymentView } from './deployment-view.ts';

export function renderLogPage(view: DeploymentView, jsonUrl: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>shipguard · ${escapeHtml(view.repository)} #${view.id}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1f2328; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; } .muted { color: #59636e; }
  .state { display: inline-block; padding: .1rem .6rem; border-radius: 1rem; font-weight: 600; background: #eaeef2; }
  .state.succeeded, .state.success, .state.skipped { background: #dafbe1; color: #1a7f37; }
  .state.failed, .state.failure, .state.error, .state.unknown, .state.cancelled { background: #ffebe9; color: #cf222e; }
  .state.running, .state.queued, .state.in_progress, .state.rolled_back { background: #fff8c5; color: #9a6700; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; } th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #d1d9e0; }
  pre { background: #f6f8fa; padding: .8rem; overflow: auto; max-height: 24rem; white-space: pre-wrap; word-break: break-all; }
  ol { padding-left: 1.2rem; } time { color: #59636e; font-variant-numeric: tabular-nums; margin-right: .5rem; }
</style></head>
<body>
<h1>${escapeHtml(view.repository)} → ${escapeHtml(view.environment)} <span class="muted">#${view.id}</span></h1>
<p id="summary"></p>
<h2>Hosts</h2>
<table id="hosts"><thead><tr><th>host</th><th>state</th><th>step</th><th>duration</th><th>result</th></tr></thead><tbody></tbody></table>
<h2>Timeline</h2><ol id="timeline"></ol>
<h2>Output</h2><div id="outputs"></div>
<script>
const jsonUrl = ${JSON.stringify(jsonUrl)};
let view = ${JSON.stringify(view).replace(/</g, '\\u003c')};
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const secs = (ms) => ms === null ? '' : (ms / 1000).toFixed(1) + ' s';
const took = (v) => v.startedAt && v.finishedAt ? '· took ' + secs(Date.parse(v.finishedAt) - Date.parse(v.startedAt)) : '';
function render() {
  document.getElementById('summary').innerHTML =
    '<span class="state ' + esc(view.state) + '" id="state">' + esc(view.state) + '</span> ' + esc(view.description) +
    ' <span class="muted" id="live">' + (view.final ? took(view) : '· live, updating every 2 s') + '</span>' +
    '<br><span class="muted">' + esc(view.sha) + (view.ref !== view.sha ? ' (' + esc(view.ref) + ')' : '') + ' · task ' + esc(view.task) + ' · requested by @' + esc(view.requestedBy) +
    (view.environmentUrl ? ' · <a href="' + esc(view.environmentUrl) + '">' + esc(view.environmentUrl) + '</a>' : '') + '</span>' +
    (view.detail && view.detail !== view.description ? '<pre>' + esc(view.detail) + '</pre>' : '');
  document.querySelector('#hosts tbody').innerHTML = view.hosts.map((h) =>
    '<tr data-host="' + esc(h.host) + '"><td>' + esc(h.host) + '</td><td><span class="state ' + esc(h.state) + '">' + esc(h.state) + '</span></td><td>' +
    esc(h.phase) + '</td><td>' + secs(h.durationMs) + '</td><td>' + esc(h.message) + '</td></tr>').join('') ||
    '<tr><td colspan="5" class="muted">no hosts</td></tr>';
  document.getElementById('timeline').innerHTML = view.timeline.map((e) =>
    '<li><time>' + esc(e.at.slice(11, 19)) + '</time>' + esc(e.message) + '</li>').join('');
  document.getElementById('outputs').innerHTML = view.hosts.filter((h) => h.output).map((h) =>
    '<h3>' + esc(h.host) + '</h3><pre>' + esc(h.output) + '</pre>').join('') || '<p class="muted">no output yet</p>';
}
render();
async function poll() {
  if (view.final) return;
  try { const r = await fetch(jsonUrl, { cache: 'no-store' }); if (r.ok) { view = await r.json(); render(); } } catch {}
  setTimeout(poll, 2000);
}
setTimeout(poll, 2000);
</script>
</body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
