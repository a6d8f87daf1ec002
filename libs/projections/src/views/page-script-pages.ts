/**
 * The script's text with each backslash-newline and the next line's indentation removed: long lines of the script are
 * written over several source lines, and the page still gets them byte for byte. No substitutions, raw text (as
 * String.raw).
 */
export const joinContinued = (s: TemplateStringsArray): string => s.raw[0].replace(/\\\n */g, '');

/** The dashboard script from the candidate page on (page-script.ts holds what comes before). */
export const SCRIPT_PAGES = joinContinued`  RENDER.candidate = async function () {
    var p = await source.candidate(current, route.arg);
    var head = '<div class="card" data-testid="candidate-page" data-candidate="' + esc(p.candidateId) + '"><h2>' + \
        esc(p.candidateId) + (p.isAnchor ? ' ⚓ anchor' : '') + ' ' + pill(p.status) + ' ' + \
        p.decoupling.map(pill).join('') + '</h2>' +
      '<div>round ' + p.round + ' · axis <b>' + esc(p.axis) + '</b> · seeds ' + esc(p.seeds.join(', ')) + (p.worker ? \
          ' · worker ' + esc(p.worker.workerId) + ' (' + esc(p.worker.agentKind) + ', ' + p.worker.starts + ' \
          start(s)' + (p.worker.resumedFromSteps.length ? ', resumed from step ' + p.worker.resumedFromSteps.join(', \
          ') : '') + ')' : '') + '</div>' +
      (p.prescribed ? '<div>prescribed <b>' + esc(p.prescribed.kind) + '</b>' + (p.prescribed.role ? ' (' + \
          esc(p.prescribed.role) + ')' : '') + ' of ' + esc(p.prescribed.of) + '</div>' : '') +
      '<div>hypothesis: <i data-testid="cand-hypothesis">' + esc(p.hypothesis || '—') + '</i></div>' +
      '<div>dev <b data-testid="cand-dev">' + fmt(p.dev) + '</b> · public LB <b data-testid="cand-lb">' + \
          fmt(p.publicLb) + '</b> · private LB <b data-testid="cand-private">' + fmt(p.privateLb) + '</b>' + (p.anchor \
          ? ' · vs anchor ' + candLink(p.anchor.candidateId) + ': dev ' + signed(p.anchor.devDelta) + ', LB ' + \
          signed(p.anchor.lbDelta) : '') + '</div>' +
      (p.workerFailure ? '<div class="del">worker failed: ' + esc(p.workerFailure) + '</div>' : '') + '</div>';
    var recipe = '<div class="card"><h2>Recipe diff</h2>' + (p.recipeChanges.length ? '<ul>' + \
        p.recipeChanges.map(function (c) { return '<li class="mono">' + esc(c.text) + '</li>'; }).join('') + '</ul>' : \
        '<span class="muted">no change (standing recipe)</span>') +
      '<div>changed pipeline files: ' + (p.filesChanged.length ? p.filesChanged.map(function (f) { return '<code>' + \
          esc(f) + '</code>'; }).join(', ') : '<span class="muted">none</span>') + '</div>' + (p.recipeDiff ? '<pre>' \
          + esc(p.recipeDiff) + '</pre>' : '') +
      (p.recipeEdits.length ? '<details><summary>' + p.recipeEdits.length + ' edit(s) as recorded</summary>' + \
          p.recipeEdits.map(function (e) { return '<div><code>' + esc(e.file) + '</code></div><pre>' + esc(e.diff) + \
          '</pre>'; }).join('') + '</details>' : '') + '</div>';
    var trace = '<div class="card"><h2>Worker trace (' + p.trace.length + ' steps)</h2>' + (p.trace.length ? \
        table(['#step', 'tool', 'input', 'outcome', 'LLM'], p.trace.map(function (t) { return '<tr \
        data-testid="trace-step"><td class="n">' + t.step + '</td><td>' + esc(t.tool) + '</td><td class="mono">' + \
        esc(JSON.stringify(t.input)).slice(0, 600) + '</td><td>' + (t.ok === null ? '<span class="muted">no \
        outcome</span>' : t.ok ? pill('succeeded') : pill('failed')) + ' <span class="mono">' + \
        esc(JSON.stringify(t.output)).slice(0, 600) + '</span></td><td class="muted">' + (t.llm ? esc(t.llm.model) + ' \
        ' + (t.llm.inputTokens + t.llm.outputTokens) + ' tok' : '') + '</td></tr>'; })) : '<span class="muted">no \
        trace recorded</span>') + '</div>';
    var jobs = '<div class="card"><h2>Jobs (' + p.jobs.length + ')</h2>' + (p.jobs.length ? p.jobs.map(function (j) { \
        return '<details data-testid="job"><summary>' + esc(j.jobId) + ' · ' + esc(j.entrypoint) + ' ' + \
        pill(j.status) + ' · ' + fmt(j.gpuSeconds, 1) + ' ' + esc(j.budgetUnit || 'GPU-s') + (j.reason ? ' · <span \
        class="del">' + esc(j.reason) + '</span>' : '') + '</summary><pre>' + esc(j.logTail || '(no output)') + \
        '</pre></details>'; }).join('') : '<span class="muted">no jobs recorded</span>') + '</div>';
    var ck = '<div class="card"><h2>Checkpoints (dev per domain)</h2>' + (p.checkpoints.length ? table(['checkpoint', \
        '#seed', '#step', '#overall'].concat(p.domains), p.checkpoints.map(function (k) { return '<tr \
        data-testid="checkpoint-row"' + (k.chosen ? ' style="font-weight:600"' : '') + '><td>' + esc(k.checkpoint) + \
        (k.chosen ? ' ✓' : '') + '</td><td class="n">' + k.seed + '</td><td class="n">' + k.step + '</td>' + \
        heat(k.overall) + k.domains.map(heat).join('') + '</tr>'; })) : '<span class="muted">none</span>') +
      '<h3>Selection</h3>' + (p.chosen ? '<div data-testid="cand-selection"><b>' + esc(p.chosen.checkpoint) + '</b> by \
          <b>' + esc(p.chosen.criterion) + '</b>: ' + esc(p.chosen.reason) + (p.selection ? ' · evaluation service \
          chose ' + esc(p.selection.checkpoint) + ' (score ' + fmt(p.selection.score) + ' of ' + \
          p.selection.considered + ' considered, criterion ' + esc(p.selection.criterion.kind) + ')' : '') + '</div>' \
          : '<span class="muted">no checkpoint chosen</span>') +
      (p.evaluationFailures.length ? '<div class="del">' + p.evaluationFailures.map(function (f) { return esc(f.kind) \
          + ': ' + esc(f.reason); }).join('<br>') + '</div>' : '') + '</div>';
    var subs = '<div class="card"><h2>Submissions</h2>' + (p.submissions.length ? table(['submission', 'status', \
        'checkpoint', 'reason', '#public', '#private'], p.submissions.map(function (s) { return '<tr \
        data-testid="submission-row"><td>' + esc(s.submissionId) + '</td><td>' + pill(s.status) + (s.rejection ? ' \
        <span class="del">' + esc(s.rejection) + '</span>' : '') + '</td><td>' + esc(s.checkpoint) + '</td><td>' + \
        esc(s.reason) + '</td><td class="n">' + fmt(s.publicScore) + '</td><td class="n">' + fmt(s.privateScore) + \
        '</td></tr>'; })) : '<span class="muted">not submitted</span>') + '</div>';
    var frozen = '<div class="card"><h2>Frozen-path checks</h2>' + (p.frozen.verifications.length ? \
        p.frozen.verifications.map(function (v) { return '<div class="add" data-testid="frozen-ok">verified before \
        evaluation (' + esc(v.requestId) + ', by ' + esc(v.verifiedBy) + ')</div>'; }).join('') : '<div \
        class="muted">no verification recorded</div>') + p.frozen.violations.map(function (v) { return '<div \
        class="del" data-testid="frozen-violation">' + esc(v.kind) + ': ' + esc(v.path) + ' (' + esc(v.checkedAt) + ') \
        — ' + esc(v.detail) + '</div>'; }).join('') +
      (p.failureModes.length ? '<h3>Failure modes</h3>' + p.failureModes.map(function (f) { return '<div class="del">' \
          + esc(f.kind) + ': ' + esc(f.detail) + '</div>'; }).join('') : '') +
      (p.cost ? '<h3>Cost</h3><div>' + fmt(p.cost.gpuSeconds, 1) + ' GPU-s · ' + (p.cost.inputTokens + \
          p.cost.outputTokens) + ' LLM tokens · ' + p.cost.toolCalls + ' tool calls · ' + p.cost.jobs + ' jobs</div>' \
          : '') + '</div>';
    return head + '<div class="grid2">' + recipe + subs + '</div>' + trace + '<div class="grid2">' + ck + frozen + \
        '</div>' + jobs;
  };

  RENDER.evidence = async function () {
    var ev = await source.view(current, 'evidence');
    var recorded = ev.rounds.filter(function (r) { return r.evidence; });
    if (!recorded.length) return '<div class="card muted">no round has an evidence record yet</div>';
    var want = Number(route.query.round || recorded[recorded.length - 1].round);
    var r = recorded.filter(function (x) { return x.round === want; })[0] || recorded[recorded.length - 1];
    pending.evidence = r;
    var e = r.evidence, cal = e.calibration, noise = cal.noise;
    var sel = '<select id="ev-round" data-testid="evidence-round">' + recorded.map(function (x) { return '<option' + \
        (x.round === r.round ? ' selected' : '') + '>' + x.round + '</option>'; }).join('') + '</select>';
    return '<div class="card" data-testid="evidence" data-round="' + r.round + '"><h2>Round evidence ' + sel + \
        '</h2><div class="muted">evidence <code>' + esc((r.evidenceSha256 || '').slice(0, 12)) + '…</code> · trigger ' \
        + esc(r.trigger) + '</div>' +
      '<h3>1. Per-candidate summaries (' + e.candidateSummaries.length + ')</h3>' + table(['candidate', 'axis', \
          'status', '#dev', '#public LB', '#dev vs anchor (σ)', '#LB vs anchor (σ)', 'changes'], \
          e.candidateSummaries.map(function (c) { return '<tr data-testid="evidence-candidate"><td>' + \
          candLink(c.candidateId) + '</td><td>' + esc(c.axis) + '</td><td>' + pill(c.status) + '</td><td class="n">' + \
          fmt(c.dev && c.dev.overall) + '</td><td class="n">' + fmt(c.publicLb) + '</td><td class="n">' + \
          fmt(c.devVsAnchor) + '</td><td class="n">' + fmt(c.lbVsAnchor) + '</td><td class="mono">' + \
          c.recipeChanges.map(function (x) { return esc(x.path) + ' → ' + esc(JSON.stringify(x.to)); }).join(NL) + \
          '</td></tr>'; })) +
      '<h3>2. Cross-candidate patterns</h3>' + table(['axis', '#candidates', '#dev effect', '#LB effect', 'beyond \
          noise'], e.crossCandidatePatterns.axes.map(function (a) { return '<tr><td>' + esc(a.axis) + '</td><td \
          class="n">' + a.candidates + '</td><td class="n">' + fmt(a.devEffect) + '</td><td class="n">' + \
          fmt(a.lbEffect) + '</td><td>' + (a.devBeyondNoise ? 'dev ' : '') + (a.lbBeyondNoise ? 'LB' : '') + \
          '</td></tr>'; })) +
      ((e.crossCandidatePatterns.interactions || []).length ? '<div>' + \
          e.crossCandidatePatterns.interactions.map(function (i) { return '<div>' + esc(i.kind) + ': ' + esc(i.note) + \
          '</div>'; }).join('') + '</div>' : '') +
      '<h3>3. Dev/leaderboard calibration</h3><div>gap ' + fmt(cal.devLbGap) + ' · rank correlation ' + \
          fmt(cal.rankCorrelation) + ' · noise σ dev ' + fmt(noise.devStd) + ' (' + esc(noise.devSource) + '), LB ' + \
          fmt(noise.lbStd) + ' (' + esc(noise.lbSource) + ') · <b data-testid="decoupling">proxy decoupling: ' + \
          (cal.proxyDecoupling.flagged ? 'FLAGGED' : 'no') + '</b> <span class="muted">' + \
          esc(cal.proxyDecoupling.reason) + '</span></div>' +
      '<h3>4. Surprises (' + e.surprises.length + ')</h3>' + (e.surprises.map(function (x) { return '<div>' + \
          candLink(x.candidateId) + ' ' + esc(x.metric) + ' ' + fmt(x.observed) + ' outside [' + fmt(x.expectedLow) + \
          ', ' + fmt(x.expectedHigh) + '] — ' + esc(x.note) + '</div>'; }).join('') || '<span \
          class="muted">none</span>') +
      '<h3>5. Design-rationale audit</h3>' + e.designRationaleAudit.onAxis.map(function (a) { return '<div>' + \
          candLink(a.candidateId) + ': ' + (a.stayedOnAxis ? 'on axis' : '<span class="del">OFF axis (' + \
          esc(a.offAxisPaths.join(', ')) + ')</span>') + '</div>'; }).join('') +
      '<div>GPU-seconds ' + fmt(e.designRationaleAudit.budget.gpuSeconds, 1) + ', tokens ' + \
          e.designRationaleAudit.budget.tokens + ', submissions ' + e.designRationaleAudit.budget.submissions + \
          '</div>' +
      (e.prose ? '<h3>Prose</h3>' + Object.keys(e.prose).map(function (k) { return '<div><b>' + esc(k) + '</b>: ' + \
          esc(e.prose[k]) + '</div>'; }).join('') : '') + '</div>';
  };
  AFTER.evidence = function () { var el = $('ev-round'); if (el) el.onchange = function () { go('evidence', null, { \
      round: el.value }); }; };

  RENDER.axes = async function () {
    var a = await source.view(current, 'axes');
    pending.axes = a;
    var actions = function (xs) { return xs.map(function (x) { return pill(x === 'dead end' ? 'dead end' : x); \
        }).join(''); };
    var axisRows = a.axes.map(function (r) { return '<tr data-testid="axis-row" data-axis="' + esc(r.axis) + '"><td>' \
        + esc(r.axis) + (r.active ? '' : ' <span class="muted">(inactive)</span>') + '</td><td class="n">' + r.n + \
        '</td><td class="n" data-k="devMean">' + signed(r.dev.mean) + '</td><td class="n">' + interval(r.dev) + \
        '</td><td class="n" data-k="lbMean">' + signed(r.lb.mean) + '</td><td class="n">' + interval(r.lb) + \
        '</td><td>' + actions(r.actions) + (r.retired ? ' <span class="muted">' + esc(r.retired.reason) + '</span>' : \
        '') + (r.deadEnds.length ? '<div class="muted">' + r.deadEnds.map(esc).join('<br>') + '</div>' : '') + \
        '</td></tr>'; });
    var knobRows = a.knobs.map(function (r) { return '<tr data-testid="knob-row" data-knob="' + esc(r.knob) + '"><td \
        class="mono">' + esc(r.path) + '</td><td>' + esc(r.direction) + '</td><td class="n">' + r.n + '</td><td \
        class="n">' + signed(r.dev.mean) + '</td><td class="n">' + interval(r.dev) + '</td><td class="n">' + \
        signed(r.lb.mean) + '</td><td class="n">' + interval(r.lb) + '</td><td>' + actions(r.actions) + \
        (r.promoted.length ? '<div class="muted">' + r.promoted.map(esc).join('<br>') + '</div>' : '') + '</td><td \
        class="muted">' + (r.ledger ? 'LB gains ' + r.ledger.lbGains.map(signed).join(', ') : '') + '</td></tr>'; });
    return '<div class="card"><h2>Axis effects</h2><div class="muted">Each non-anchor candidate paired with its \
        round\'s anchor (dev: chosen checkpoint; LB: best public score vs the anchor\'s mean). Mean and 95% t interval \
        over the campaign\'s candidates.</div><div class="chart small"><canvas id="axes-chart" \
        data-testid="axes-chart"></canvas></div>' +
      table(['axis', '#n', '#dev effect', '#95% interval', '#LB effect', '#95% interval', 'policy'], axisRows, ' \
          data-testid="axes"') + '</div>' +
      '<div class="card"><h2>Recipe knobs</h2>' + table(['knob', 'direction', '#n', '#dev effect', '#95% interval', \
          '#LB effect', '#95% interval', 'policy', 'move ledger'], knobRows) + '</div>';
  };
  AFTER.axes = function () {
    var a = pending.axes, labels = a.axes.map(function (r) { return r.axis; });
    var ival = function (k) { return a.axes.map(function (r) { return r[k].low === null ? (r[k].mean === null ? null : \
        [r[k].mean, r[k].mean]) : [r[k].low, r[k].high]; }); };
    var c = chart('axes-chart', { type: 'bar', data: { labels: labels, datasets: [{ label: 'dev effect (95% \
        interval)', data: ival('dev'), backgroundColor: 'rgba(47,111,223,.55)' }, { label: 'LB effect (95% interval)', \
        data: ival('lb'), backgroundColor: 'rgba(217,130,43,.55)' }] }, options: { scales: { x: { title: \
        axisTitle('axis') }, y: { title: axisTitle('difference to the round\'s anchor') } } } });
    if (c) $('axes-chart').setAttribute('data-points', String(labels.length));
  };

  RENDER.lineage = async function () {
    var l = await source.view(current, 'lineage');
    var items = l.revisions.map(function (r) {
      return '<div class="card" data-testid="revision" data-revision="' + r.revision + '"><h3>revision ' + r.revision \
          + (r.round ? ' · after round ' + r.round : ' · initial') + ' · ' + esc(r.proposer) + (r.llmRefused ? ' <span \
          class="del">(Claude proposal refused)</span>' : '') + '</h3>' +
        '<div>objective ' + esc(r.objective) + ' · threshold ' + fmt(r.promotionThreshold) + ' · noise σ dev ' + \
            fmt(r.noiseBand.devStd) + ', LB ' + fmt(r.noiseBand.lbStd) + ' · selection ' + esc(r.selection) + \
            (r.evidenceSha256 ? ' · evidence <code>' + esc(r.evidenceSha256.slice(0, 12)) + '…</code>' : '') + \
            '</div>' +
        (r.promotions.length ? '<div><b>promoted</b><ul>' + r.promotions.map(function (p) { return '<li \
            data-testid="promotion"><span class="mono">' + esc(p.path) + ': ' + esc(JSON.stringify(p.from)) + ' → ' + \
            esc(JSON.stringify(p.to)) + '</span> — from ' + (p.candidates.length ? p.candidates.map(candLink).join(', \
            ') : '<span class="muted">no candidate recorded this value</span>') + '</li>'; }).join('') + '</ul></div>' \
            : '') +
        (r.deadEndsAdded.length ? '<div><b>dead ends added</b><ul>' + r.deadEndsAdded.map(function (d) { return '<li>' \
            + esc(d.description) + (d.candidateId ? ' — ' + candLink(d.candidateId) : '') + ' <span class="muted">' + \
            esc(d.evidence) + '</span></li>'; }).join('') + '</ul></div>' : '') +
        (r.retired.length ? '<div><b>retired</b>: ' + r.retired.map(function (x) { return esc(x.axis) + ' (' + \
            esc(x.reason) + ')'; }).join(', ') + '</div>' : '') +
        (r.decoupling.length ? '<div><b>decoupling</b>: ' + r.decoupling.map(function (d) { return pill(d.step) + \
            esc(d.domain) + ' (suspect ' + candLink(d.suspectCandidateId) + ')'; }).join(', ') + '</div>' : '') +
        (r.refusals.length ? '<div class="del">refused: ' + r.refusals.map(function (x) { return esc(x.rule); \
            }).join(', ') + '</div>' : '') +
        '<details><summary>' + r.changes.length + ' change(s)</summary><div class="mono">' + r.changes.map(function \
            (c) { return '<span class="add">+ ' + esc(c) + '</span>'; }).join(NL) + '</div></details></div>';
    });
    return '<div class="card"><h2>Standing recipe now</h2><div class="mono">' + \
        Object.keys(l.standingRecipe).map(function (k) { return esc(k) + ': ' + \
        esc(JSON.stringify(l.standingRecipe[k])); }).join(NL) + '</div></div><h2>Policy revisions</h2>' + \
        items.slice().reverse().join('');
  };

  RENDER.compare = async function () {
    var kind = route.query.kind === 'rounds' ? 'rounds' : 'candidates';
    var opts;
    if (kind === 'candidates') opts = (await source.view(current, 'candidates')).map(function (c) { return \
        c.candidateId; });
    else opts = (await source.view(current, 'overview')).rounds.map(function (r) { return String(r.round); });
    var a = route.query.a || opts[0], b = route.query.b || opts[Math.min(1, opts.length - 1)];
    var sel = function (id, v) { return '<select id="' + id + '" data-testid="' + id + '">' + opts.map(function (o) { \
        return '<option' + (o === v ? ' selected' : '') + '>' + esc(o) + '</option>'; }).join('') + '</select>'; };
    var body = '';
    if (a && b) {
      var c = await source.compare(current, kind, a, b);
      var domains = Object.keys(c.a.domains).concat(Object.keys(c.b.domains)).filter(function (v, i, xs) { return \
          xs.indexOf(v) === i; }).sort();
      var row = function (label, f, k) { return '<tr><th>' + esc(label) + '</th><td' + (k ? ' data-testid="compare-a-' \
          + k + '"' : '') + '>' + f(c.a) + '</td><td' + (k ? ' data-testid="compare-b-' + k + '"' : '') + '>' + f(c.b) \
          + '</td></tr>'; };
      var rows = [row('', function (x) { return x.kind === 'candidate' ? candLink(x.id) : esc(x.id); }), row('round', \
          function (x) { return String(x.round); }), row('axis', function (x) { return esc(x.axis); }), row('status', \
          function (x) { return pill(x.status); }),
        row('recipe', function (x) { return '<div class="mono">' + (x.recipe.map(esc).join(NL) || '<span \
            class="muted">standing recipe</span>') + '</div>'; }),
        row('dev', function (x) { return fmt(x.dev); }, 'dev'), row('public LB', function (x) { return \
            fmt(x.publicLb); }, 'lb'), row('private LB', function (x) { return fmt(x.privateLb); }, 'private')]
        .concat(domains.map(function (d) { return row('dev ' + d, function (x) { return fmt(x.domains[d]); }); }))
        .concat([row('GPU-seconds', function (x) { return fmt(x.cost.gpuSeconds, 1); }, 'gpu'), row('LLM tokens', \
            function (x) { return String(x.cost.llmTokens); }), row('jobs', function (x) { return String(x.cost.jobs); \
            }), row('submissions', function (x) { return String(x.cost.submissions); })]);
      body = '<div class="scroll"><table \
          data-testid="compare-table"><thead><tr><th></th><th>A</th><th>B</th></tr></thead><tbody>' + rows.join('') + \
          '</tbody></table></div>';
    }
    return '<div class="card"><h2>Compare</h2><div class="filters"><label>compare <select id="cmp-kind" \
        data-testid="cmp-kind"><option' + (kind === 'candidates' ? ' selected' : '') + '>candidates</option><option' + \
        (kind === 'rounds' ? ' selected' : '') + '>rounds</option></select></label> A ' + sel('cmp-a', a) + ' B ' + \
        sel('cmp-b', b) + '</div>' + body + '</div>';
  };
  AFTER.compare = function () {
    var upd = function () { go('compare', null, { kind: $('cmp-kind').value, a: $('cmp-a').value, b: $('cmp-b').value \
        }); };
    $('cmp-a').onchange = upd; $('cmp-b').onchange = upd;
    $('cmp-kind').onchange = function () { go('compare', null, { kind: $('cmp-kind').value }); };
  };

  RENDER.budget = async function () {
    var b = await source.view(current, 'budget');
    pending.budget = b;
    var pct = function (x, cap) { return cap ? ' <span class="muted">(' + (100 * x / cap).toFixed(1) + '% of ' + cap + \
        ')</span>' : ''; };
    var rows = b.rounds.map(function (r) { return '<tr data-testid="budget-row" data-round="' + r.round + '"><td>' + \
        r.round + '</td><td class="n" data-k="gpuSeconds">' + fmt(r.gpuSeconds, 1) + '</td><td class="n">' + \
        fmt(r.cumulativeGpuSeconds, 1) + '</td><td class="n" data-k="llmTokens">' + r.llmTokens + '</td><td \
        class="n">' + r.cumulativeLlmTokens + '</td><td class="n" data-k="submissions">' + r.submissions + ' / ' + \
        r.submissionCap + '</td><td class="n">' + r.scored + '</td><td class="n">' + r.rejected + '</td><td \
        class="muted">' + (r.spentAtClose ? fmt(r.spentAtClose.gpuSeconds, 1) + ' GPU-s, ' + r.spentAtClose.llmTokens \
        + ' tok' : '') + '</td></tr>'; });
    return '<div class="card"><h2>Budget</h2><div data-testid="budget-totals">GPU-seconds <b data-k="gpuSeconds">' + \
        fmt(b.totals.gpuSeconds, 1) + '</b>' + pct(b.totals.gpuSeconds, b.caps.gpuSeconds) + ' · LLM tokens <b \
        data-k="llmTokens">' + b.totals.llmTokens + '</b>' + pct(b.totals.llmTokens, b.caps.llmTokens) + ' · \
        submissions <b data-k="submissions">' + b.totals.submissions + '</b> <span class="muted">(cap ' + \
        b.caps.submissionsPerRound + ' per round)</span>' + (b.exhausted ? ' · <span class="del">exhausted in round ' \
        + b.exhausted.round + ': ' + esc(b.exhausted.exhausted.join(', ')) + '</span>' : '') + '</div>' +
      '<div class="grid2"><div class="chart small"><canvas id="budget-gpu" \
          data-testid="budget-chart"></canvas></div><div class="chart small"><canvas \
          id="budget-subs"></canvas></div></div>' +
      table(['round', '#GPU-s', '#cumulative', '#LLM tokens', '#cumulative', '#submissions / cap', '#scored', \
          '#rejected', 'recorded at close'], rows) + '</div>';
  };
  AFTER.budget = function () {
    var b = pending.budget, labels = b.rounds.map(function (r) { return 'R' + r.round; });
    var cap = function (v) { return b.rounds.map(function () { return v; }); };
    chart('budget-gpu', { type: 'line', data: { labels: labels, datasets: [{ label: 'cumulative GPU-seconds', data: \
        b.rounds.map(function (r) { return r.cumulativeGpuSeconds; }), borderColor: '#2f6fdf', yAxisID: 'y' }, { \
        label: 'GPU-second cap', data: cap(b.caps.gpuSeconds), borderColor: '#2f6fdf', borderDash: [6, 4], \
        pointRadius: 0, yAxisID: 'y' }, { label: 'cumulative LLM tokens', data: b.rounds.map(function (r) { return \
        r.cumulativeLlmTokens; }), borderColor: '#7b3fbf', yAxisID: 'y2' }, { label: 'LLM token cap', data: \
        cap(b.caps.llmTokens), borderColor: '#7b3fbf', borderDash: [6, 4], pointRadius: 0, yAxisID: 'y2' }] },
      options: { scales: { x: { title: axisTitle('round') }, y: { title: axisTitle('GPU-seconds'), beginAtZero: true \
          }, y2: { position: 'right', title: axisTitle('LLM tokens'), beginAtZero: true, grid: { drawOnChartArea: \
          false } } } } });
    chart('budget-subs', { type: 'bar', data: { labels: labels, datasets: [{ label: 'submissions', data: \
        b.rounds.map(function (r) { return r.submissions; }), backgroundColor: '#d9822b' }, { label: 'cap per round', \
        type: 'line', data: b.rounds.map(function (r) { return r.submissionCap; }), borderColor: '#a3212a', \
        borderDash: [6, 4], pointRadius: 0 }] }, options: { scales: { x: { title: axisTitle('round') }, y: { title: \
        axisTitle('submissions'), beginAtZero: true } } } });
    var el = $('budget-gpu'); if (el) el.setAttribute('data-points', String(b.rounds.length));
  };

  RENDER.events = async function () {
    var limit = 50, offset = Number(route.query.offset || 0), type = route.query.type || '';
    var r = await source.events(current, { offset: offset, limit: limit, type: type });
    if (r.report) return '<div class="card"><h2>Events</h2><div class="muted">The report carries the views, not the \
        log; the log is in the event store. Events by type:</div>' + table(['type', '#count'], \
        Object.keys(r.counts).sort().map(function (k) { return '<tr data-testid="event-type-row"><td>' + esc(k) + \
        '</td><td class="n">' + r.counts[k] + '</td></tr>'; })) + '</div>';
    pending.events = { offset: offset, limit: limit, type: type, total: r.total };
    return '<div class="card"><h2>Event log</h2><div class="filters"><input id="ev-type" data-testid="events-type" \
        placeholder="types, e.g. JobFailed,LeaderboardScored" value="' + esc(type) + '"> <button id="ev-prev" \
        data-testid="events-prev"' + (offset <= 0 ? ' disabled' : '') + '>newer</button> <button id="ev-next" \
        data-testid="events-next"' + (offset + limit >= r.total ? ' disabled' : '') + '>older</button> <span \
        class="muted" data-testid="events-range">' + (r.total ? (offset + 1) + '–' + Math.min(r.total, offset + limit) \
        : '0') + ' of <span data-testid="events-total">' + r.total + '</span> (newest first)</span></div>' +
      table(['#position', 'type', 'stream', 'source', 'time'], r.events.map(function (e) { return '<tr \
          data-testid="event-row"><td class="n">' + e.position + '</td><td>' + esc(e.type) + '</td><td>' + \
          esc(e.streamId) + '</td><td>' + esc(e.source) + '</td><td>' + esc(e.time) + '</td></tr>'; })) + '</div>';
  };
  AFTER.events = function () {
    var s = pending.events; if (!s) return;
    var at = function (offset) { var q = { offset: String(offset) }; if ($('ev-type').value.trim()) q.type = \
        $('ev-type').value.trim(); go('events', null, q); };
    $('ev-type').onchange = function () { at(0); };
    $('ev-prev').onclick = function () { at(Math.max(0, s.offset - s.limit)); };
    $('ev-next').onclick = function () { at(s.offset + s.limit); };
  };

  $('campaign').onchange = function () { current = $('campaign').value; go(route.view === 'candidate' ? 'candidates' : \
      route.view); };
  window.addEventListener('hashchange', function () { render(); });
  if (!REPORT && typeof EventSource !== 'undefined') {
    var timer = null, es = new EventSource('/api/stream');
    es.addEventListener('event', function (m) {
      var campaignId = null; try { campaignId = JSON.parse(m.data).campaignId; } catch (e) { /* not JSON: refresh \
          anyway */ }
      if (campaignId && current && campaignId !== current) return;
      // Throttled, not debounced: a busy campaign appends events continuously and the view must still refresh.
      if (!timer) timer = setTimeout(function () { timer = null; render(); }, 1000);
    });
    es.onopen = function () { $('live').textContent = 'live'; };
    es.onerror = function () { $('live').textContent = 'reconnecting…'; };
  } else if (REPORT) { $('live').textContent = REPORT.caption; }
  render();
})();
`;
