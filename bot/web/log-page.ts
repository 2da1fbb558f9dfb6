// The deployment log page: timeline, hosts table, each host's output; it polls its JSON twin every
// two seconds while the deployment runs, so it updates live without a reload.
import type { DeploymentView } from './deployment-view.ts';
import { CLIENT_HELPERS, escapeHtml, PAGE_STYLE, scriptJson } from './page-parts.ts';

export function renderLogPage(view: DeploymentView, jsonUrl: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>shipguard · ${escapeHtml(view.repository)} #${view.id}</title>
<style>${PAGE_STYLE}</style></head>
<body>
<h1>${escapeHtml(view.repository)} → ${escapeHtml(view.environment)} <span class="muted">#${view.id}</span></h1>
<p id="summary"></p>
<nav id="links"></nav>
<h2>Hosts</h2>
<table id="hosts"><thead><tr><th>host</th><th>state</th><th>step</th><th>duration</th><th>result</th></tr></thead><tbody></tbody></table>
<h2>Timeline</h2><ol id="timeline"></ol>
<h2>Output</h2><p class="muted">Lines a host wrote to stderr are <span class="stderr">red</span>.</p><div id="outputs"></div>
<script>
const jsonUrl = ${JSON.stringify(jsonUrl)};
let view = ${scriptJson(view)};
${CLIENT_HELPERS}
const secs = (ms) => ms === null ? '' : (ms / 1000).toFixed(1) + ' s';
const took = (v) => v.startedAt && v.finishedAt ? '· took ' + secs(Date.parse(v.finishedAt) - Date.parse(v.startedAt)) : '';
function outputHtml(h) {
  const stderr = new Set(h.stderrLines);
  return h.output.split('\\n').map((line, i) => stderr.has(i) ? '<span class="stderr">' + esc(line) + '</span>' : esc(line)).join('\\n');
}
function render() {
  document.getElementById('summary').innerHTML =
    '<span class="state ' + esc(view.state) + '" id="state">' + esc(view.state) + '</span> <span id="description">' + esc(view.summary) + '</span>' +
    ' <span class="muted" id="live">' + (view.final ? took(view) : '· live, updating every 2 s') + '</span>' +
    '<br><span class="muted"><code>' + esc(view.sha) + '</code>' + (view.ref !== view.sha ? ' (' + esc(view.ref) + ')' : '') + ' · task ' + esc(view.task) +
    ' · requested by @' + esc(view.requestedBy) + ' ' + when(view.receivedAt) +
    (view.finishedAt ? ' · ended ' + when(view.finishedAt) : '') +
    (view.environmentUrl ? ' · ' + link(view.environmentUrl, view.environmentUrl) : '') + '</span>' +
    (view.detail && view.detail !== view.description ? '<pre>' + esc(view.detail) + '</pre>' : '');
  const l = view.links;
  document.getElementById('links').innerHTML = l ? [
    link(l.commit, 'commit ' + view.sha.slice(0, 7), 'commit-link'),
    l.pullRequest ? link(l.pullRequest, 'pull request #' + l.pullRequest.split('/').pop(), 'pull-request-link') : '',
    link(l.deployments, 'deployments on GitHub', 'deployments-link'),
    link(l.environments, 'all environments', 'environments-link'),
  ].join('') : '';
  document.querySelector('#hosts tbody').innerHTML = view.hosts.map((h) =>
    '<tr data-host="' + esc(h.host) + '"><td data-label="host">' + esc(h.host) + '</td><td data-label="state"><span class="state ' + esc(h.state) + '">' + esc(h.state) + '</span></td>' +
    '<td data-label="step">' + esc(h.steps) + '</td><td data-label="duration">' + secs(h.durationMs) + '</td><td data-label="result">' + esc(h.message) + '</td></tr>').join('') ||
    '<tr><td colspan="5" class="muted">no hosts</td></tr>';
  document.getElementById('timeline').innerHTML = view.timeline.map((e) =>
    '<li><time datetime="' + esc(e.at) + '" title="' + esc(utc(e.at)) + '">' + esc(e.at.slice(11, 19)) + ' UTC</time> ' + esc(e.message) + '</li>').join('');
  document.getElementById('outputs').innerHTML = view.hosts.filter((h) => h.output).map((h) =>
    '<h3>' + esc(h.host) + '</h3><pre>' + outputHtml(h) + '</pre>').join('') || '<p class="muted">no output yet</p>';
}
render();
setInterval(() => { if (view.final) render(); }, 30000); // keeps "… ago" current
async function poll() {
  if (view.final) return;
  try { const r = await fetch(jsonUrl, { cache: 'no-store' }); if (r.ok) { view = await r.json(); render(); } } catch {}
  setTimeout(poll, 2000);
}
setTimeout(poll, 2000);
</script>
</body></html>`;
}
