/**
 * The dashboard: one self-contained page (no build step, no CDN — the machine has no internet). It reads the
 * REST endpoints and follows /api/stream (server-sent events) to refresh live parts.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aevo — campaigns</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
 header{background:#1d2330;color:#fff;padding:10px 18px;display:flex;gap:16px;align-items:baseline}
 header h1{font-size:18px;margin:0} header small{opacity:.7}
 main{display:grid;grid-template-columns:260px 1fr;gap:14px;padding:14px}
 section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:10px 12px;margin-bottom:14px}
 h2{font-size:15px;margin:0 0 8px} table{border-collapse:collapse;width:100%;font-size:12.5px}
 th,td{border-bottom:1px solid #eceff3;padding:3px 6px;text-align:left;vertical-align:top} th{background:#fafbfc}
 .camp{cursor:pointer;padding:6px;border-radius:4px} .camp:hover,.camp.sel{background:#e8eefc}
 .st{font-size:11px;padding:1px 6px;border-radius:8px;background:#eee} .st.running{background:#d8f0dc} .st.completed{background:#dbe6fb} .st.aborted{background:#f8d7d7} .st.paused{background:#fbf0cc}
 .heat{text-align:center;font-variant-numeric:tabular-nums} .mono{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap}
 .grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px} .muted{color:#778} .bar{height:8px;background:#e5e8ee;border-radius:4px;overflow:hidden;display:flex}
 .bar i{display:block;height:100%} .add{color:#176b2c} .del{color:#a3212a} details{margin:4px 0}
 select,input{font:inherit;padding:2px 4px}
</style></head>
<body>
<header><h1>aevo</h1><small>autonomous post-training control plane</small><span id="live" class="muted" data-testid="live">connecting…</span></header>
<main>
 <div><section><h2>Campaigns</h2><div id="campaigns" data-testid="campaigns"><span class="muted">none yet</span></div></section></div>
 <div id="detail">
  <section><h2 id="title">Select a campaign</h2><div id="summary"></div></section>
  <div class="grid2">
   <section><h2>Trajectory (best per round)</h2><svg id="chart" data-testid="trajectory" width="520" height="220"></svg>
     <div class="muted"><span style="color:#2f6fdf">● dev</span> &nbsp; <span style="color:#d9822b">● public LB</span> &nbsp; <span style="color:#2a9d55">● private LB</span> (after the final audit)</div></section>
   <section><h2>Policy revisions</h2><div id="policies" data-testid="policies"></div></section>
  </div>
  <section><h2>Candidates <select id="roundSel"></select></h2><div id="candidates" data-testid="candidates"></div></section>
  <section><h2>Round evidence</h2><div id="evidence" data-testid="evidence"></div></section>
  <div class="grid2">
   <section><h2>Don't waste budget on</h2><div id="deadends" data-testid="deadends"></div></section>
   <section><h2>Live jobs</h2><div id="jobs" data-testid="jobs"></div></section>
  </div>
  <section><h2>Event log <input id="typeFilter" placeholder="filter by type, e.g. JobFailed"></h2><div id="events" data-testid="events"></div></section>
 </div>
</main>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const fmt = (x) => x === null || x === undefined ? '—' : (typeof x === 'number' ? x.toFixed(3) : esc(x));
let current = null, round = null, refreshTimer = null;
async function get(path) { const r = await fetch(path); if (!r.ok) throw new Error(path + ': ' + r.status); return r.json(); }
async function loadCampaigns() {
  const list = await get('/api/campaigns');
  $('campaigns').innerHTML = list.length ? list.map((c) => '<div class="camp' + (c.campaignId === current ? ' sel' : '') + '" data-id="' + esc(c.campaignId) + '"><b>' + esc(c.name) +
    '</b> <span class="st ' + c.status + '">' + c.status + '</span><br><span class="muted">round ' + c.rounds + '/' + c.plannedRounds + ' · best LB ' + fmt(c.bestPublicLb) + '</span></div>').join('') : '<span class="muted">none yet</span>';
  document.querySelectorAll('.camp').forEach((el) => el.onclick = () => select(el.dataset.id));
  if (!current && list.length) select(list[list.length - 1].campaignId);
}
function chart(points) {
  const svg = $('chart'), W = 520, H = 220, P = 30;
  if (!points.length) { svg.innerHTML = '<text x="20" y="100" fill="#889">no rounds yet</text>'; return; }
  const vals = points.flatMap((p) => [p.dev, p.publicLb, p.privateLb]).filter((v) => v !== null);
  const lo = Math.max(0, Math.min(...vals) - 0.05), hi = Math.min(1, Math.max(...vals) + 0.05);
  const x = (r) => P + (points.length === 1 ? (W - 2 * P) / 2 : (r - points[0].round) * (W - 2 * P) / (points[points.length - 1].round - points[0].round));
  const y = (v) => H - P - (v - lo) * (H - 2 * P) / ((hi - lo) || 1);
  const line = (key, color) => { const pts = points.filter((p) => p[key] !== null); return pts.length ? '<polyline fill="none" stroke="' + color + '" stroke-width="2" points="' + pts.map((p) => x(p.round) + ',' + y(p[key])).join(' ') + '"/>' +
    pts.map((p) => '<circle cx="' + x(p.round) + '" cy="' + y(p[key]) + '" r="3" fill="' + color + '"><title>' + key + ' r' + p.round + ': ' + p[key].toFixed(3) + '</title></circle>').join('') : ''; };
  let axes = '<line x1="' + P + '" y1="' + (H - P) + '" x2="' + (W - P) + '" y2="' + (H - P) + '" stroke="#99a"/>';
  for (const p of points) axes += '<text x="' + x(p.round) + '" y="' + (H - 10) + '" font-size="11" text-anchor="middle">R' + p.round + '</text>';
  for (let i = 0; i <= 4; i++) { const v = lo + (hi - lo) * i / 4; axes += '<text x="2" y="' + (y(v) + 4) + '" font-size="10">' + v.toFixed(2) + '</text>'; }
  svg.innerHTML = axes + line('dev', '#2f6fdf') + line('publicLb', '#d9822b') + line('privateLb', '#2a9d55');
}
function heat(v) { if (v === null || v === undefined) return '<td class="heat">—</td>'; const h = Math.round(v * 120); return '<td class="heat" style="background:hsl(' + h + ',70%,85%)">' + v.toFixed(2) + '</td>'; }
async function renderCandidates() {
  if (!current) return;
  const rows = await get('/api/campaigns/' + encodeURIComponent(current) + '/candidates' + (round ? '?round=' + round : ''));
  const domains = [...new Set(rows.flatMap((r) => r.dev ? Object.keys(r.dev.domains) : []))].sort();
  $('candidates').innerHTML = '<table><tr><th>candidate</th><th>axis</th><th>status</th><th>jobs</th><th>dev</th>' + domains.map((d) => '<th>' + esc(d) + '</th>').join('') +
    '<th>public LB</th><th>private LB</th><th>changes</th><th>failures</th></tr>' + rows.map((r) => '<tr data-testid="candidate-row"><td>' + esc(r.candidateId) + (r.isAnchor ? ' ⚓' : '') + '</td><td>' + esc(r.axis) + '</td><td>' + esc(r.status) +
    '</td><td><div class="bar" title="running ' + r.jobs.running + ', done ' + r.jobs.done + ', failed ' + r.jobs.failed + '"><i style="width:' + (r.jobs.done * 12) + 'px;background:#4caf50"></i><i style="width:' + (r.jobs.running * 12) + 'px;background:#2f6fdf"></i><i style="width:' + (r.jobs.failed * 12) + 'px;background:#d33"></i></div></td>' +
    heat(r.dev ? r.dev.overall : null) + domains.map((d) => heat(r.dev ? r.dev.domains[d] : null)).join('') + '<td>' + fmt(r.publicLb) + '</td><td>' + fmt(r.privateLb) + '</td><td class="mono">' +
    r.recipeChanges.map((c) => esc(c.path) + ': ' + esc(JSON.stringify(c.from)) + ' → ' + esc(JSON.stringify(c.to))).join('\\n') + '</td><td>' + r.failureModes.map((f) => esc(f.kind)).join(', ') + '</td></tr>').join('') + '</table>';
}
async function renderEvidence() {
  if (!current || !round) { $('evidence').innerHTML = '<span class="muted">no round selected</span>'; return; }
  try {
    const ev = await get('/api/campaigns/' + encodeURIComponent(current) + '/rounds/' + round + '/evidence');
    const cal = ev.calibration;
    $('evidence').innerHTML = '<details open><summary><b>1. Per-candidate summaries</b> (' + ev.candidateSummaries.length + ')</summary><table><tr><th>candidate</th><th>axis</th><th>dev</th><th>LB</th><th>dev vs anchor (σ)</th><th>LB vs anchor (σ)</th></tr>' +
      ev.candidateSummaries.map((c) => '<tr><td>' + esc(c.candidateId) + '</td><td>' + esc(c.axis) + '</td><td>' + fmt(c.dev && c.dev.overall) + '</td><td>' + fmt(c.publicLb) + '</td><td>' + fmt(c.devVsAnchor) + '</td><td>' + fmt(c.lbVsAnchor) + '</td></tr>').join('') + '</table></details>' +
      '<details open><summary><b>2. Cross-candidate patterns</b></summary><table><tr><th>axis</th><th>dev effect</th><th>LB effect</th><th>beyond noise</th></tr>' + ev.crossCandidatePatterns.axes.map((a) => '<tr><td>' + esc(a.axis) + '</td><td>' + fmt(a.devEffect) + '</td><td>' + fmt(a.lbEffect) + '</td><td>' + (a.devBeyondNoise ? 'dev ' : '') + (a.lbBeyondNoise ? 'LB' : '') + '</td></tr>').join('') + '</table></details>' +
      '<details open><summary><b>3. Dev/leaderboard calibration</b></summary>gap ' + fmt(cal.devLbGap) + ' · rank correlation ' + fmt(cal.rankCorrelation) + ' · <b data-testid="decoupling">proxy decoupling: ' + (cal.proxyDecoupling.flagged ? 'FLAGGED' : 'no') + '</b> <span class="muted">' + esc(cal.proxyDecoupling.reason) + '</span></details>' +
      '<details><summary><b>4. Surprises</b> (' + ev.surprises.length + ')</summary>' + ev.surprises.map((s) => '<div>' + esc(s.candidateId) + ' ' + esc(s.metric) + ' ' + fmt(s.observed) + ' outside [' + fmt(s.expectedLow) + ', ' + fmt(s.expectedHigh) + '] — ' + esc(s.note) + '</div>').join('') + '</details>' +
      '<details><summary><b>5. Design-rationale audit</b></summary>' + ev.designRationaleAudit.onAxis.map((a) => '<div>' + esc(a.candidateId) + ': ' + (a.stayedOnAxis ? 'on axis' : 'OFF axis (' + esc(a.offAxisPaths.join(', ')) + ')') + '</div>').join('') +
      '<div>GPU-seconds ' + fmt(ev.designRationaleAudit.budget.gpuSeconds) + ', tokens ' + ev.designRationaleAudit.budget.tokens + ', submissions ' + ev.designRationaleAudit.budget.submissions + '</div></details>';
  } catch { $('evidence').innerHTML = '<span class="muted">round ' + round + ' has no evidence record yet</span>'; }
}
async function renderPolicies() {
  const p = await get('/api/campaigns/' + encodeURIComponent(current) + '/policies');
  $('policies').innerHTML = p.revisions.map((r) => '<details' + (r === p.revisions[p.revisions.length - 1] ? ' open' : '') + '><summary>revision ' + r.revision + ' (after round ' + r.round + ', ' + esc(r.proposer) + ') — objective ' + esc(r.policy.objective) + ', threshold ' + fmt(r.policy.promotionThreshold) +
    '</summary><div class="mono">' + r.changes.map((c) => '<span class="add">+ ' + esc(c) + '</span>').join('\\n') + '</div><div class="muted">' + esc(r.policy.rationale) + '</div></details>').join('') +
    (p.refusals.length ? '<div><b>Refused proposals</b>' + p.refusals.map((r) => '<div class="del">round ' + r.round + ': ' + esc(r.rule) + ' — ' + esc(r.detail) + '</div>').join('') + '</div>' : '');
  $('deadends').innerHTML = p.deadEnds.length ? '<ul>' + p.deadEnds.map((d) => '<li>' + esc(d.description) + ' <span class="muted">(round ' + d.round + ', ' + esc(d.axis) + ')</span></li>').join('') + '</ul>' : '<span class="muted">empty</span>';
}
async function renderJobs() {
  const jobs = await get('/api/campaigns/' + encodeURIComponent(current) + '/jobs');
  const live = jobs.filter((j) => j.status === 'running' || j.status === 'queued' || j.status === 'requested');
  const recent = jobs.filter((j) => !live.includes(j)).slice(-5);
  $('jobs').innerHTML = '<div>' + live.length + ' running/queued, ' + jobs.filter((j) => j.status === 'succeeded').length + ' done, ' + jobs.filter((j) => j.status === 'failed').length + ' failed</div>' +
    [...live, ...recent].map((j) => '<details><summary>' + esc(j.jobId) + ' · ' + esc(j.entrypoint) + ' · ' + esc(j.status) + '</summary><div class="mono">' + esc(j.logTail || '(no output yet)') + '</div></details>').join('');
}
async function renderEvents() {
  const t = $('typeFilter').value.trim();
  const evs = await get('/api/events?campaign=' + encodeURIComponent(current) + '&limit=1000' + (t ? '&type=' + encodeURIComponent(t) : ''));
  $('events').innerHTML = '<table><tr><th>#</th><th>type</th><th>stream</th><th>source</th><th>time</th></tr>' + evs.slice(-200).reverse().map((e) => '<tr><td>' + e.position + '</td><td>' + esc(e.type) + '</td><td>' + esc(e.streamId) + '</td><td>' + esc(e.source) + '</td><td>' + esc(e.time) + '</td></tr>').join('') + '</table>';
}
async function select(id) {
  const keep = id === current ? round : null;
  current = id;
  const d = await get('/api/campaigns/' + encodeURIComponent(id));
  $('title').textContent = d.name + ' (' + d.status + ')';
  $('summary').innerHTML = 'substrate <b>' + esc(d.config.substratePath) + '</b> · ' + d.config.rounds + ' rounds × ' + d.config.workersPerRound + ' workers · constitution ' + esc(d.constitutionSha256.slice(0, 12)) + '… · ' + d.eventCount + ' events' +
    (d.result ? ' · <b>final: public ' + fmt(d.result.bestPublicLb) + ', private ' + fmt(d.result.bestPrivateLb) + '</b>' : '');
  const rounds = d.rounds.map((r) => r.round);
  round = keep !== null && rounds.includes(keep) ? keep : (rounds.length ? rounds[rounds.length - 1] : null);
  $('roundSel').innerHTML = rounds.map((r) => '<option' + (r === round ? ' selected' : '') + '>' + r + '</option>').join('');
  $('roundSel').onchange = () => { round = Number($('roundSel').value); renderCandidates(); renderEvidence(); };
  chart(d.trajectory);
  await Promise.all([renderCandidates(), renderEvidence(), renderPolicies(), renderJobs(), renderEvents(), loadCampaigns()]);
}
$('typeFilter').onchange = () => current && renderEvents();
const es = new EventSource('/api/stream');
es.addEventListener('event', () => { clearTimeout(refreshTimer); refreshTimer = setTimeout(() => current ? select(current) : loadCampaigns(), 400); });
es.onopen = () => { $('live').textContent = 'live'; };
es.onerror = () => { $('live').textContent = 'reconnecting…'; };
loadCampaigns();
</script></body></html>`;
