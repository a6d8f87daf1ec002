/**
 * The dashboard's (and the report's) stylesheet: no horizontal overflow from 1280 px up, tables scroll inside cards.
 * (Raw template pieces joined with +, so that no source line passes 120 columns; the joined text is unchanged.)
 */
export const DASHBOARD_STYLE =
  String.raw`
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:8px 16px;display:flex;flex-wrap:wrap;gap:12px;align-items:center}
header h1{font-size:18px;margin:0} header small{opacity:.7} header select{max-width:320px}
nav{display:flex;flex-wrap:wrap;gap:4px;padding:6px 16px;background:#e9ecf2;border-bottom:1px solid #d5d9e1}
nav a{padding:4px 10px;border-radius:4px;color:#1d2330;text-decoration:none} nav a.sel{background:#1d2330;color:#fff}
main{padding:14px 16px;min-width:0;max-width:100%}
.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:10px 12px;margin-bottom:14px;min-width:0}
h2{font-size:16px;margin:0 0 8px} h3{font-size:14px;margin:10px 0 6px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,540px),1fr));gap:14px;margin-bottom:14px}
.grid2>.card{margin-bottom:0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{border-bottom:1px solid #eceff3;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#fafbfc;overflow-wrap:normal}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.heat{text-align:center;font-variant-numeric:tabular-nums}
pre,.mono{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
pre{background:#f3f4f7;padding:6px;border-radius:4px;max-height:320px;overflow:auto}
.muted{color:#667} .add{color:#176b2c} .del{color:#a3212a} .warn{color:#9a5b00}
.chart{position:relative;height:380px;width:100%} .chart.small{height:260px}
.pill{display:inline-block;white-space:nowrap;font-size:11px;padding:0 6px;` +
  String.raw`border-radius:8px;background:#eee;margin-right:3px}
.pill.completed,.pill.succeeded,.pill.scored,.pill.confirmed{background:#d8f0dc} ` +
  String.raw`.pill.failed,.pill.invalidated,.pill.rejected{background:#f8d7d7}
.pill.running,.pill.working,.pill.suspected,.pill.probed{background:#fbf0cc} .pill.promoted{background:#dbe6fb} ` +
  String.raw`.pill.retired,.pill.dead{background:#eadcf5}
.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:8px}
select,input,button{font:inherit;padding:2px 6px;max-width:100%}
details{margin:3px 0} summary{cursor:pointer}
a{color:#2456b8}
`;
