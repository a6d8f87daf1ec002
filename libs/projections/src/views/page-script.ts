import { joinContinued, SCRIPT_PAGES } from './page-script-pages';

/**
 * The dashboard page, shared by the live API (data from the REST views, live updates over server-sent events) and
 * `aevo report` (the same script reading the views embedded in the file; no server, no network). One script, so the
 * report shows exactly what the dashboard shows.
 *
 * Charts: Chart.js 4 (MIT), its UMD build served by the API at /assets/chart.umd.js or inlined into the report. It
 * draws scatter, line and bar charts with legends, axis titles and tooltips, needs no network or build step, and its
 * single file can be inlined into a self-contained report.
 */

export const DASHBOARD_SCRIPT =
  joinContinued`
(function () {
  'use strict';
  var dataEl = document.getElementById('aevo-report-data');
  var REPORT = dataEl ? JSON.parse(dataEl.textContent) : null;
  var $ = function (id) { return document.getElementById(id); };
  var esc = function (s) { return String(s === null || s === undefined ? '' : s).replace(/[&<>"']/g, function (c) { \
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); };
  var fmt = function (x, d) { return x === null || x === undefined || (typeof x === 'number' && isNaN(x)) ? '—' : \
      typeof x === 'number' ? x.toFixed(d === undefined ? 3 : d) : esc(x); };
  var signed = function (x) { return x === null || x === undefined ? '—' : (x > 0 ? '+' : '') + x.toFixed(3); };
  var interval = function (e) { return e.low === null ? '<span class="muted">n=' + e.n + '</span>' : '[' + \
      e.low.toFixed(3) + ', ' + e.high.toFixed(3) + ']'; };
  var enc = encodeURIComponent;
  var NL = String.fromCharCode(10);
  var charts = [];
  var current = null, route = { view: 'overview', arg: null, query: {} };
  var VIEWS = [['overview', 'Overview'], ['scatter', 'Dev vs leaderboard'], ['candidates', 'Candidates'], ['evidence', \
      'Evidence'], ['axes', 'Axis effects'], ['lineage', 'Lineage'], ['compare', 'Compare'], ['budget', 'Budget'], \
      ['events', 'Event log']];

  function get(path) { return fetch(path).then(function (r) { if (!r.ok) throw new Error(path + ': HTTP ' + r.status); \
      return r.json(); }); }
  var source = REPORT ? {
    campaigns: function () { return Promise.resolve(REPORT.campaigns); },
    view: function (id, name) { return Promise.resolve(REPORT.views[id][name]); },
    candidate: function (id, cid) { var p = REPORT.views[id].pages[cid]; return p ? Promise.resolve(p) : \
        Promise.reject(new Error('no candidate ' + cid)); },
    compare: function (id, kind, a, b) { var s = REPORT.views[id].summaries[kind]; return Promise.resolve({ \
        campaignId: id, kind: kind, a: s[a], b: s[b] }); },
    events: function (id) { return Promise.resolve({ report: true, counts: REPORT.views[id].eventTypes }); }
  } : {
    campaigns: function () { return get('/api/views/campaigns'); },
    view: function (id, name) { return get('/api/campaigns/' + enc(id) + '/views/' + name); },
    candidate: function (id, cid) { return get('/api/campaigns/' + enc(id) + '/candidates/' + enc(cid) + '/page'); },
    compare: function (id, kind, a, b) { return get('/api/campaigns/' + enc(id) + '/compare?kind=' + kind + '&a=' + \
        enc(a) + '&b=' + enc(b)); },
    events: function (id, q) { return get('/api/campaigns/' + enc(id) + '/events?offset=' + q.offset + '&limit=' + \
        q.limit + (q.type ? '&type=' + enc(q.type) : '')); }
  };

  function roundColour(r, n) { var h = Math.round(((r - 1) / Math.max(1, n)) * 300); return 'hsl(' + h + ',65%,45%)'; }
  function heat(v) { if (v === null || v === undefined) return '<td class="heat">—</td>'; var h = Math.round(v * 120); \
      return '<td class="heat" style="background:hsl(' + h + ',70%,86%)">' + v.toFixed(3) + '</td>'; }
  function pill(s) { return '<span class="pill ' + esc(String(s).split(' ')[0]) + '">' + esc(s) + '</span>'; }
  function candLink(cid) { return '<a href="#/' + enc(current) + '/candidate/' + enc(cid) + '" data-candidate-link="' \
      + esc(cid) + '">' + esc(cid) + '</a>'; }
  function table(head, rows, attrs) { return '<div class="scroll"><table' + (attrs || '') + '><thead><tr>' + \
      head.map(function (h) { var n = h.charAt(0) === '#'; return '<th' + (n ? ' class="n"' : '') + '>' + esc(n ? \
      h.slice(1) : h) + '</th>'; }).join('') + '</tr></thead><tbody>' + rows.join('') + '</tbody></table></div>'; }
  function chart(canvasId, config) {
    var el = $(canvasId); if (!el || typeof Chart === 'undefined') return null;
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options \
        || {});
    var c = new Chart(el, config); charts.push(c); return c;
  }
  function axisTitle(text) { return { display: true, text: text }; }

  function parseHash() {
    var h = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
    var q = {}, qi = h.indexOf('?');
    if (qi >= 0) { h.slice(qi + 1).split('&').forEach(function (kv) { var p = kv.split('='); if (p[0]) q[p[0]] = p[1] \
        || ''; }); h = h.slice(0, qi); }
    var parts = h.split('/');
    return { campaign: parts[0] || null, view: parts[1] || 'overview', arg: parts.slice(2).join('/') || null, query: q \
        };
  }
  function go(view, arg, query) {
    var qs = query ? '?' + Object.keys(query).map(function (k) { return k + '=' + enc(query[k]); }).join('&') : '';
    location.hash = '#/' + enc(current) + '/' + view + (arg ? '/' + enc(arg) : '') + qs;
  }

  async function loadCampaigns() {
    var list = await source.campaigns();
    var sel = $('campaign');
    sel.innerHTML = list.map(function (c) { return '<option value="' + esc(c.campaignId) + '">' + esc(c.name) + ' (' + \
        esc(c.status) + ', ' + c.rounds + '/' + c.plannedRounds + ' rounds)</option>'; }).join('');
    return list;
  }

  async function render() {
    var h = parseHash();
    var list = await loadCampaigns();
    if (!list.length) { $('view').innerHTML = '<div class="card muted">no campaigns yet</div>'; return; }
    if (!h.campaign || !list.some(function (c) { return c.campaignId === h.campaign; })) { current = list[list.length \
        - 1].campaignId; go(h.view || 'overview'); return; }
    current = h.campaign; route = h;
    $('campaign').value = current;
    $('nav').innerHTML = VIEWS.map(function (v) { return '<a href="#/' + enc(current) + '/' + v[0] + '" \
        data-testid="nav-' + v[0] + '"' + (v[0] === route.view || (route.view === 'candidate' && v[0] === \
        'candidates') ? ' class="sel"' : '') + '>' + v[1] + '</a>'; }).join('');
    charts.forEach(function (c) { c.destroy(); }); charts = [];
    var view = $('view');
    view.removeAttribute('data-ready');
    try {
      var fn = RENDER[route.view];
      if (!fn) throw new Error('unknown view "' + route.view + '"');
      view.innerHTML = await fn();
      if (AFTER[route.view]) AFTER[route.view]();
      view.setAttribute('data-view', route.view);
      view.setAttribute('data-ready', 'true');
    } catch (err) { view.innerHTML = '<div class="card del" data-testid="view-error">' + esc(err.message) + '</div>'; \
        view.setAttribute('data-ready', 'error'); }
  }

  var pending = {}, filters = {};
  var RENDER = {}, AFTER = {};

  RENDER.overview = async function () {
    var o = await source.view(current, 'overview');
    pending.overview = o;
    var res = o.result ? '<div data-testid="result">final: best <b>' + candLink(o.result.bestCandidateId || '') + \
        '</b> · public <b data-k="bestPublicLb">' + fmt(o.result.bestPublicLb) + '</b> · private <b \
        data-k="bestPrivateLb">' + fmt(o.result.bestPrivateLb) + '</b> <span class="muted">(' + esc(o.result.reason) + \
        ')</span></div>' : '<div class="muted" data-testid="result">not completed</div>';
    var rows = o.rounds.map(function (r) {
      return '<tr data-testid="round-row" data-round="' + r.round + '"><td>' + r.round + '</td><td>' + pill(r.status) \
          + '</td><td class="n">' + r.policyRevision + '</td><td class="n">' + r.completed + '/' + r.candidates + \
          '</td><td class="n" data-k="bestDev">' + fmt(r.bestDev) + '</td><td class="n" data-k="bestPublicLb">' + \
          fmt(r.bestPublicLb) +
        '</td><td class="n" data-k="bestPrivateLb">' + fmt(r.bestPrivateLb) + '</td><td class="n">' + fmt(r.anchorDev) \
            + '</td><td class="n">' + fmt(r.anchorPublicLb) + '</td><td class="n">' + fmt(r.rankCorrelation) + \
            '</td><td>' + (r.decouplingFlagged ? '<span class="warn" title="' + esc(r.decouplingReason) + \
            '">flagged</span>' : '') + '</td></tr>';
    });
    var hyps = o.decoupling.map(function (h) { return '<tr data-testid="hypothesis-row"><td>' + esc(h.id) + \
        '</td><td>' + esc(h.domain) + '</td><td>' + pill(h.status) + '</td><td>' + candLink(h.suspectCandidateId) + \
        '</td><td>' + h.probes.map(function (p) { return candLink(p.candidateId) + ' ' + esc(p.role) + ' (' + \
        esc(p.verdict) + ')'; }).join('<br>') + '</td><td>' + h.evidence.map(esc).join('<br>') + '</td></tr>'; });
    return '<div class="card"><h2 data-testid="campaign-title">' + esc(o.name) + ' ' + pill(o.status) + \
        '</h2><div>substrate <b>' + esc(o.config.substratePath) + '</b> · ' + o.config.rounds + ' rounds × ' + \
        o.config.workersPerRound + ' workers · axes ' + esc(o.config.axes.join(', ')) +
      ' · constitution ' + esc(o.constitutionSha256.slice(0, 12)) + '… · <span data-testid="event-count">' + \
          o.eventCount + '</span> events</div>' + res +
      '<div>policy revision ' + o.policy.revision + ': objective <b>' + esc(o.policy.objective) + '</b>, promotion \
          threshold ' + fmt(o.policy.promotionThreshold) + '</div></div>' +
      '<div class="grid2"><div class="card"><h2>Trajectory (best per round)</h2><div class="chart small"><canvas \
          id="trajectory" data-testid="trajectory"></canvas></div></div>' +
      '<div class="card"><h2>Don\'t waste budget on</h2>' + (o.policy.deadEnds.length ? '<ul>' + \
          o.policy.deadEnds.map(function (d) { return '<li>' + esc(d.description) + ' <span class="muted">(round ' + \
          d.round + ', ' + esc(d.axis) + ')</span></li>'; }).join('') + '</ul>' : '<span class="muted">empty</span>') +
      '<h3>Jobs</h3><div data-testid="jobs">' + (Object.keys(o.jobs.counts).map(function (k) { return pill(k) + \
          o.jobs.counts[k]; }).join(' ') || '<span class="muted">none recorded</span>') + '</div>' +
      (o.jobs.live.length ? '<div><b>in flight</b>: ' + o.jobs.live.map(function (j) { return esc(j.jobId) + ' (' + \
          esc(j.entrypoint) + ', ' + esc(j.status) + ', ' + candLink(j.candidateId) + ')'; }).join(', ') + '</div>' : \
          '') +
      o.jobs.failed.map(function (j) { return '<details><summary class="del">' + esc(j.jobId) + ' · ' + \
          esc(j.entrypoint) + ' · ' + esc(j.reason) + '</summary><pre>' + esc(j.logTail || '(no output)') + \
          '</pre></details>'; }).join('') +
      (o.refusals.length ? '<h3>Refused proposals</h3>' + o.refusals.map(function (r) { return '<div class="del">round \
          ' + r.round + ': ' + esc(r.rule) + ' — ' + esc(r.detail) + '</div>'; }).join('') : '') + '</div></div>' +
      '<div class="card"><h2>Rounds</h2>' + table(['round', 'status', '#policy', '#done', '#best dev', '#best public \
          LB', '#best private LB', '#anchor dev', '#anchor LB', '#rank corr.', 'decoupling'], rows, ' \
          data-testid="rounds"') + '</div>' +
      '<div class="card"><h2>Decoupling hypotheses</h2>' + (hyps.length ? table(['id', 'domain', 'status', 'suspect', \
          'probes', 'evidence'], hyps) : '<span class="muted">none</span>') + '</div>';
  };
  AFTER.overview = function () {
    var o = pending.overview, labels = o.rounds.map(function (r) { return 'R' + r.round; });
    var line = function (label, key, colour) { return { label: label, data: o.rounds.map(function (r) { return r[key]; \
        }), borderColor: colour, backgroundColor: colour, spanGaps: true }; };
    var ds = [line('best dev', 'bestDev', '#2f6fdf'), line('best public LB', 'bestPublicLb', '#d9822b'), line('anchor \
        dev', 'anchorDev', '#8aa4d6')];
    if (o.privateUnsealed) ds.push(line('best private LB', 'bestPrivateLb', '#2a9d55'));
    var c = chart('trajectory', { type: 'line', data: { labels: labels, datasets: ds }, options: { scales: { x: { \
        title: axisTitle('round') }, y: { title: axisTitle('score') } } } });
    if (c) $('trajectory').setAttribute('data-points', String(ds.reduce(function (a, d) { return a + \
        d.data.filter(function (v) { return v !== null; }).length; }, 0)));
  };

  RENDER.scatter = async function () {
    var s = await source.view(current, 'scatter');
    pending.scatter = s;
    var marked = s.points.filter(function (p) { return p.marks.length; });
    var band = s.band ? '<div data-testid="noise-band">anchor ' + candLink(s.anchor.candidateId) + ' (round ' + \
        s.anchor.round + '): dev <b data-k="anchorDev">' + fmt(s.anchor.dev) + '</b>, public LB <b data-k="anchorLb">' \
        + fmt(s.anchor.publicLb) + '</b> · noise band ±' + s.band.multiple + 'σ (policy revision ' + s.band.revision + \
        '): dev [' + fmt(s.band.devLow) + ', ' + fmt(s.band.devHigh) + '], LB [' + fmt(s.band.lbLow) + ', ' + \
        fmt(s.band.lbHigh) + ']</div>' : '<div class="muted" data-testid="noise-band">no scored anchor yet</div>';
    var rows = s.points.map(function (p) { return '<tr data-testid="scatter-point" data-candidate="' + \
        esc(p.candidateId) + '"><td>' + candLink(p.candidateId) + (p.isAnchor ? ' ⚓' : '') + '</td><td class="n">' + \
        p.round + '</td><td>' + esc(p.axis) + (p.prescribed ? ' <span class="muted">(' + esc(p.prescribed) + \
        ')</span>' : '') + '</td><td class="n" data-k="dev">' + fmt(p.dev) + '</td><td class="n" data-k="publicLb">' + \
        fmt(p.publicLb) + '</td><td class="n" data-k="privateLb">' + fmt(p.privateLb) + '</td><td>' + \
        p.marks.map(pill).join('') + '</td></tr>'; });
    return '<div class="card"><h2>Dev vs leaderboard</h2><div class="muted">Every scored candidate: dev (chosen \
        checkpoint) against its best public LB score' + (s.privateUnsealed ? '; hollow points: the private LB, \
        revealed by the final audit' : '') + '. Colour: round. Dashed box: the anchor ± the measured noise \
        band.</div>' + band +
      '<div class="chart"><canvas id="scatter" data-testid="scatter-chart"></canvas></div></div>' +
      '<div class="card"><h2>Decoupling suspicions, probes and confirmations (' + marked.length + ' candidates)</h2>' \
          + (s.hypotheses.length ? s.hypotheses.map(function (h) { return '<div data-testid="scatter-hypothesis">' + \
          pill(h.status) + ' <b>' + esc(h.domain) + '</b> — suspect ' + candLink(h.suspectCandidateId) + ' (dev ' + \
          signed(h.suspectDevDelta) + ', LB ' + signed(h.suspectLbDelta) + ' vs anchor); probes: ' + \
          (h.probes.map(function (p) { return candLink(p.candidateId) + ' ' + esc(p.role) + ' dev ' + \
          signed(p.devDelta) + ', LB ' + signed(p.lbDelta) + ' → ' + esc(p.verdict); }).join('; ') || 'none yet') + ' \
          · steps: ' + h.steps.map(function (x) { return esc(x.step) + ' (round ' + x.round + ')'; }).join(', ') + \
          '</div>'; }).join('') : '<span class="muted">none</span>') + '</div>' +
      '<div class="card"><details><summary>All ' + s.points.length + ' points</summary>' + table(['candidate', \
          '#round', 'axis', '#dev', '#public LB', '#private LB', 'marks'], rows) + '</details></div>';
  };
  AFTER.scatter = function () {
    var s = pending.scatter, nr = s.rounds.length ? s.rounds[s.rounds.length - 1] : 1, ds = [];
    s.rounds.forEach(function (r) {
      var pts = s.points.filter(function (p) { return p.round === r; });
      if (!pts.length) return;
      ds.push({ label: 'round ' + r, data: pts.map(function (p) { return { x: p.dev, y: p.publicLb, id: p.candidateId \
          }; }), backgroundColor: roundColour(r, nr), borderColor: roundColour(r, nr), pointRadius: pts.map(function \
          (p) { return p.isAnchor ? 7 : 4; }), pointStyle: pts.map(function (p) { return p.isAnchor ? 'star' : \
          'circle'; }) });
    });
    if (s.privateUnsealed) {
      var priv = s.points.filter(function (p) { return p.privateLb !== null; });
      if (priv.length) ds.push({ label: 'private LB', data: priv.map(function (p) { return { x: p.dev, y: p.privateLb, \
          id: p.candidateId }; }), backgroundColor: 'rgba(0,0,0,0)', borderColor: '#2a9d55', pointRadius: 4 });
    }
    var markStyle = { suspected: ['triangle', '#e0a800'], probed: ['rectRot', '#7b3fbf'], confirmed: ['crossRot', \
        '#c62828'], refuted: ['rect', '#607d8b'] };
    Object.keys(markStyle).forEach(function (m) {
      var pts = s.points.filter(function (p) { return p.marks.indexOf(m) >= 0; });
      if (pts.length) ds.push({ label: 'decoupling ' + m, data: pts.map(function (p) { return { x: p.dev, y: \
          p.publicLb, id: p.candidateId }; }), pointStyle: markStyle[m][0], pointRadius: 11, borderWidth: 2, \
          borderColor: markStyle[m][1], backgroundColor: 'rgba(0,0,0,0)' });
    });
    if (s.band) ds.push({ label: 'anchor ± ' + s.band.multiple + 'σ noise', type: 'line', data: [{ x: s.band.devLow, \
        y: s.band.lbLow }, { x: s.band.devHigh, y: s.band.lbLow }, { x: s.band.devHigh, y: s.band.lbHigh }, { x: \
        s.band.devLow, y: s.band.lbHigh }, { x: s.band.devLow, y: s.band.lbLow }], borderColor: '#444', borderDash: \
        [6, 4], borderWidth: 1.5, pointRadius: 0, fill: false, showLine: true });
    var c = chart('scatter', { type: 'scatter', data: { datasets: ds }, options: { scales: { x: { grace: '3%', title: \
        axisTitle('dev (chosen checkpoint, overall)') }, y: { grace: '3%', title: axisTitle('public leaderboard' + \
        (s.privateUnsealed ? ' / private (hollow)' : '')) } }, plugins: { tooltip: { callbacks: { label: function \
        (ctx) { var p = ctx.raw; return (p.id || ctx.dataset.label) + ': dev ' + p.x.toFixed(3) + ', LB ' + \
        p.y.toFixed(3); } } } },
      onClick: function (evt, els) { if (els.length) { var p = ds[els[0].datasetIndex].data[els[0].index]; if (p.id) \
          go('candidate', p.id); } } } });
    var el = $('scatter');
    if (c) { el.setAttribute('data-points', String(s.points.length)); el.setAttribute('data-marked', \
        String(s.points.filter(function (p) { return p.marks.length; }).length)); el.setAttribute('data-band', s.band \
        ? 'yes' : 'no'); }
  };

  RENDER.candidates = async function () {
    var rows = await source.view(current, 'candidates');
    pending.candidates = rows;
    var uniq = function (k) { return rows.map(function (r) { return r[k]; }).filter(function (v, i, a) { return \
        a.indexOf(v) === i; }).sort(function (a, b) { return a < b ? -1 : a > b ? 1 : 0; }); };
    var opt = function (id, label, vals) { return '<label>' + label + ' <select id="' + id + '"><option \
        value="">all</option>' + vals.map(function (v) { return '<option>' + esc(v) + '</option>'; }).join('') + \
        '</select></label>'; };
    return '<div class="card"><h2>Candidates</h2><div class="filters">' + opt('f-round', 'round', uniq('round')) + \
        opt('f-axis', 'axis', uniq('axis')) + opt('f-status', 'status', uniq('status')) + '<input id="f-text" \
        placeholder="filter by id or change" data-testid="candidate-filter"> <span id="f-count" \
        class="muted"></span></div><div id="cand-table"></div></div>';
  };
  AFTER.candidates = function () {
    var rows = pending.candidates, PAGE = 100;
    var domains = rows.reduce(function (a, r) { Object.keys(r.domains).forEach(function (d) { if (a.indexOf(d) < 0) \
        a.push(d); }); return a; }, []).sort();
    var draw = function () {
      var fr = $('f-round').value, fa = $('f-axis').value, fs = $('f-status').value, ft = \
          $('f-text').value.trim().toLowerCase();
      var shown = rows.filter(function (r) { return (!fr || String(r.round) === fr) && (!fa || r.axis === fa) && (!fs \
          || r.status === fs) && (!ft || (r.candidateId + ' ' + r.changes.join(' ')).toLowerCase().indexOf(ft) >= 0); \
          });
      var pages = Math.max(1, Math.ceil(shown.length / PAGE));
      filters.page = Math.min(filters.page || 0, pages - 1);
      $('f-count').innerHTML = shown.length + ' of ' + rows.length + (pages > 1 ? ' · page ' + (filters.page + 1) + ' \
          of ' + pages + ' <button id="f-prev"' + (filters.page === 0 ? ' disabled' : '') + '>previous</button> \
          <button id="f-next"' + (filters.page >= pages - 1 ? ' disabled' : '') + '>next</button>' : '');
      if (pages > 1) { $('f-prev').onclick = function () { filters.page -= 1; draw(); }; $('f-next').onclick = \
          function () { filters.page += 1; draw(); }; }
      // Paged in the browser: a 64 × 20 campaign has 1280 rows, too many to lay out at once.
      shown = shown.slice(filters.page * PAGE, (filters.page + 1) * PAGE);
      $('cand-table').innerHTML = table(['candidate', '#round', 'axis', 'status', '#dev'].concat(domains.map(function \
          (d) { return '#' + d; }), ['#public LB', '#private LB', 'changes', 'failures', '#GPU-s']), \
          shown.map(function (r) {
        return '<tr data-testid="candidate-row" data-candidate="' + esc(r.candidateId) + '"><td>' + \
            candLink(r.candidateId) + (r.isAnchor ? ' ⚓' : '') + (r.prescribed ? ' <span class="muted">(' + \
            esc(r.prescribed) + ')</span>' : '') + '</td><td class="n">' + r.round + '</td><td>' + esc(r.axis) + \
            '</td><td>' + pill(r.status) + '</td>' + heat(r.dev).replace('<td', '<td data-k="dev"') + \
            domains.map(function (d) { return heat(r.domains[d]); }).join('') + '<td class="n" data-k="publicLb">' + \
            fmt(r.publicLb) + '</td><td class="n" data-k="privateLb">' + fmt(r.privateLb) + '</td><td class="mono">' + \
            r.changes.map(esc).join(NL) + '</td><td>' + r.failures.map(esc).join(', ') + '</td><td class="n">' + \
            fmt(r.gpuSeconds, 1) + '</td></tr>';
      }));
    };
    // Filters survive the live refresh (which re-renders the view).
    var keep = function () { ['f-round', 'f-axis', 'f-status', 'f-text'].forEach(function (id) { filters[id] = \
        $(id).value; }); filters.page = 0; draw(); };
    ['f-round', 'f-axis', 'f-status'].forEach(function (id) { $(id).onchange = keep; });
    $('f-text').oninput = keep;
    if (filters.campaign !== current) filters = { campaign: current };
    ['f-round', 'f-axis', 'f-status', 'f-text'].forEach(function (id) { if (filters[id] !== undefined) $(id).value = \
        filters[id]; });
    if (route.query.round) $('f-round').value = route.query.round;
    draw();
  };

` + SCRIPT_PAGES;
