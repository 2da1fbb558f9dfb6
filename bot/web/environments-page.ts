// A repository's environments page: per environment, the commit live there and since when, who deployed
// it, the lock, the queue and the last deployments linked to their log pages. Like the log page, it polls
// its JSON twin every two seconds while anything waits or runs (every five otherwise, to see a deploy
// start), and updates without a reload.
import type { EnvironmentsView } from './environments-view.ts';
import { CLIENT_HELPERS, escapeHtml, PAGE_STYLE, scriptJson } from './page-parts.ts';

export function renderEnvironmentsPage(view: EnvironmentsView, jsonUrl: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>shipguard · ${escapeHtml(view.repository)} environments</title>
<style>${PAGE_STYLE}
  section { border: 1px solid #d1d9e0; border-radius: .5rem; padding: 0 1rem; margin: 1rem 0; }
  h2 { font-size: 1.15rem; }
</style></head>
<body>
<h1>${escapeHtml(view.repository)} <span class="muted">environments</span></h1>
<p class="muted" id="live"></p>
<div id="environments"></div>
<script>
const jsonUrl = ${JSON.stringify(jsonUrl)};
let view = ${scriptJson(view)};
${CLIENT_HELPERS}
const short = (sha) => sha.slice(0, 7);
const deployment = (d) => link(d.logUrl, '#' + d.id);
function rows(list, empty) {
  if (!list.length) return '<p class="muted">' + empty + '</p>';
  return '<table><thead><tr><th>deployment</th><th>state</th><th>commit</th><th>by</th><th>when</th><th>result</th></tr></thead><tbody>' +
    list.map((d) => '<tr data-deployment="' + d.id + '"><td data-label="deployment">' + deployment(d) + (d.task === 'deploy' ? '' : ' (' + esc(d.task) + ')') + '</td>' +
      '<td data-label="state"><span class="state ' + esc(d.state) + '">' + esc(d.state) + '</span></td>' +
      '<td data-label="commit">' + link(d.commitUrl, short(d.sha)) + '</td><td data-label="by">@' + esc(d.requestedBy) + '</td>' +
      '<td data-label="when">' + when(d.finishedAt ?? d.receivedAt) + '</td><td data-label="result">' + esc(d.description) + '</td></tr>').join('') +
    '</tbody></table>';
}
function render() {
  document.getElementById('live').textContent = view.active ? 'deployments running or waiting: live, updating every 2 s' : '';
  document.getElementById('environments').innerHTML = view.environments.map((e) =>
    '<section data-environment="' + esc(e.environment) + '"><h2>' + esc(e.environment) + '</h2>' +
    '<p class="live-sha">' + (e.live
      ? 'live: ' + link(e.live.commitUrl, short(e.live.sha)) + ' (' + deployment(e.live) + '), deployed by @' + esc(e.live.requestedBy) + ' ' + when(e.live.since)
      : '<span class="muted">nothing deployed by shipguard yet</span>') + '</p>' +
    '<p class="lock">' + (e.lock
      ? '<span class="state locked">locked</span> by @' + esc(e.lock.owner) + ' ' + when(e.lock.lockedAt) + (e.lock.reason ? ': ' + esc(e.lock.reason) : '')
      : '<span class="muted">not locked</span>') + '</p>' +
    '<h3>Queue</h3><div class="queue">' + rows(e.queue, 'nothing running or waiting') + '</div>' +
    '<h3>Last deployments</h3><div class="recent">' + rows(e.recent, 'none yet') + '</div></section>').join('') ||
    '<p class="muted">No deployments of this repository yet.</p>';
}
render();
setInterval(() => { if (!view.active) render(); }, 30000); // keeps "… ago" current
async function poll() {
  try { const r = await fetch(jsonUrl, { cache: 'no-store' }); if (r.ok) { view = await r.json(); render(); } } catch {}
  setTimeout(poll, view.active ? 2000 : 5000);
}
setTimeout(poll, 2000);
</script>
</body></html>`;
}
