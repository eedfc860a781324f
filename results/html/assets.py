"""The one stylesheet and the little JavaScript the UI and the HTML export inline (no external URLs)."""

CSS = """
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#6b7383; --line:#e2e5ea; --accent:#2563eb;
        --ok:#15803d; --bad:#b91c1c; --warn:#b45309; --diff-old:#fde2e1; --diff-new:#dcfce7; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
       background:var(--bg); color:var(--ink); }
header { background:#111827; color:#fff; padding:10px 24px; display:flex; gap:24px; align-items:center; }
header .brand { font-weight:700; letter-spacing:.02em; }
header a { color:#cbd5e1; text-decoration:none; } header a.on, header a:hover { color:#fff; }
main { padding:18px 24px 40px; }
h1 { font-size:20px; margin:4px 0 14px; } h2 { font-size:16px; margin:22px 0 8px; }
a { color:var(--accent); }
.cards { display:flex; gap:12px; flex-wrap:wrap; margin-bottom:14px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 16px; min-width:150px; }
.card .n { font-size:22px; font-weight:700; } .card .l { color:var(--muted); font-size:12px; text-transform:uppercase; }
table { border-collapse:collapse; width:100%; background:var(--card); border:1px solid var(--line); border-radius:8px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { font-size:12px; color:var(--muted); text-transform:uppercase; white-space:nowrap; background:#fafbfc; }
th a { color:inherit; text-decoration:none; } th.sort { cursor:pointer; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
th.span { text-align:center; border-left:1px solid var(--line); }
.wide { overflow-x:auto; } table.overview th, table.overview td { padding:5px 7px; } table.overview { font-size:13px; }
table.overview th { font-size:11px; }
table.facts { width:auto; min-width:520px; } table.facts th { width:140px; }
.zero { font-weight:400; }
tr.idle td { color:#a0a7b4; }
tr:hover td { background:#f9fafb; }
.zero { color:#c0c5ce; }
.rate { display:inline-block; width:64px; height:8px; background:#fee2e2; border-radius:4px; vertical-align:middle; margin-right:6px; }
.rate > i { display:block; height:100%; background:var(--ok); border-radius:4px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; }
.badge.open { background:#fef3c7; color:var(--warn); } .badge.regressed { background:#fee2e2; color:var(--bad); }
.badge.accepted { background:#e0e7ff; color:#3730a3; } .badge.fixed { background:#dcfce7; color:var(--ok); }
.badge.inconclusive { background:#fef3c7; color:var(--warn); } .badge.fail { background:#fee2e2; color:var(--bad); }
tr.inconclusive td:first-child { border-left:3px solid var(--warn); }
.v-mismatch { color:var(--bad); font-weight:600; } .v-shadow_error { color:var(--warn); font-weight:600; }
form.filters { display:flex; gap:10px; align-items:end; flex-wrap:wrap; background:var(--card);
               border:1px solid var(--line); border-radius:8px; padding:10px 12px; margin-bottom:14px; }
form.filters label, form.action label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:2px; }
input, select, textarea, button { font:inherit; padding:4px 8px; border:1px solid #cbd0d8; border-radius:6px; background:#fff; }
button { background:var(--accent); color:#fff; border-color:var(--accent); cursor:pointer; }
button.secondary { background:#fff; color:var(--ink); border-color:#cbd0d8; }
.actions { display:flex; gap:16px; flex-wrap:wrap; }
form.action { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px; display:flex;
              gap:8px; align-items:end; flex-wrap:wrap; }
.flash { background:#ecfdf5; border:1px solid #a7f3d0; padding:8px 12px; border-radius:8px; margin-bottom:12px; }
.error { background:#fef2f2; border:1px solid #fecaca; padding:8px 12px; border-radius:8px; margin-bottom:12px; }
.meta { color:var(--muted); } code, pre, .val { font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace; font-size:12.5px; }
.example { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px; margin:12px 0; }
.sides { display:grid; grid-template-columns:1fr 1fr; gap:12px; }
.sides h3 { margin:6px 0; font-size:13px; color:var(--muted); }
.val { white-space:pre; overflow:auto; background:#fbfbfc; border:1px solid var(--line); border-radius:6px; padding:8px; max-height:420px; }
.legacy .hl { background:var(--diff-old); outline:1px solid #f5b5b1; }
.new .hl { background:var(--diff-new); outline:1px solid #9be2b4; }
td.old { background:var(--diff-old); } td.new { background:var(--diff-new); }
.pager { margin:10px 0; display:flex; gap:10px; align-items:center; }
.login { max-width:380px; margin:80px auto; background:var(--card); border:1px solid var(--line); border-radius:10px; padding:24px; }
.login form { display:flex; flex-direction:column; gap:10px; }
/* ramp plots (server-side SVG): colours from variables, so light and dark both read */
:root { --plot-bg:#fff; --plot-grid:#e5e7eb; --plot-ink:#4b5563; --s-pct:#7c3aed; --s-match:#15803d;
        --s-legacy:#64748b; --s-new:#2563eb; --go:#15803d; --hold:#d97706; --rollback:#dc2626;
        --p0:#2563eb; --p1:#db2777; --p2:#059669; --p3:#d97706; --p4:#7c3aed; --p5:#0891b2; --p6:#dc2626; }
.plots { display:grid; grid-template-columns:repeat(auto-fill, minmax(760px, 1fr)); gap:14px; }
figure.plot { margin:0; background:var(--plot-bg); border:1px solid var(--line); border-radius:8px; padding:8px 10px; }
figure.plot figcaption { font-size:12px; color:var(--muted); text-transform:uppercase; margin-bottom:2px; }
figure.plot svg { max-width:100%; height:auto; }
svg .grid { stroke:var(--plot-grid); stroke-width:1; } svg .tick, svg .empty { fill:var(--plot-ink); font-size:11px; }
svg .series polyline { fill:none; stroke:currentColor; stroke-width:2; } svg .series circle { fill:currentColor; }
svg .series.dashed polyline { stroke-dasharray:5 4; stroke-width:1.5; }
.s-pct { color:var(--s-pct); } .s-match { color:var(--s-match); } .s-legacy { color:var(--s-legacy); } .s-new { color:var(--s-new); }
.s0 { color:var(--p0); } .s1 { color:var(--p1); } .s2 { color:var(--p2); } .s3 { color:var(--p3); }
.s4 { color:var(--p4); } .s5 { color:var(--p5); } .s6 { color:var(--p6); }
svg .mark path { stroke:none; } svg .mark.go path { fill:var(--go); } svg .mark.hold path { fill:var(--hold); }
svg .mark.rollback path { fill:var(--rollback); }
.key { display:inline-flex; align-items:center; gap:4px; margin-right:10px; font-size:12px; }
.key i { display:inline-block; width:14px; height:3px; background:currentColor; }
.key.go { color:var(--go); } .key.hold { color:var(--hold); } .key.rollback { color:var(--rollback); }
.legend { display:flex; flex-wrap:wrap; color:var(--ink); }
.advice { background:var(--card); border:1px solid var(--line); border-left:4px solid var(--hold); border-radius:8px; padding:6px 14px; margin:12px 0; }
.advice.go { border-left-color:var(--go); } .advice.rollback { border-left-color:var(--rollback); }
.advice .decision { text-transform:uppercase; } .advice.go .decision { color:var(--go); }
.advice.hold .decision { color:var(--hold); } .advice.rollback .decision { color:var(--rollback); }
.advice table { margin-bottom:8px; }
svg.spark .series polyline { stroke-width:1.5; } td.trend { padding-top:2px; padding-bottom:0; }
@media (prefers-color-scheme: dark) {
  :root { --bg:#0f141b; --card:#161d27; --ink:#e5e9f0; --muted:#9aa4b2; --line:#2a3441; --accent:#7aa7ff;
          --ok:#4ade80; --bad:#f87171; --warn:#fbbf24; --diff-old:#4c1d1d; --diff-new:#123d26;
          --plot-bg:#161d27; --plot-grid:#2a3441; --plot-ink:#aab4c3; --s-pct:#c4a1ff; --s-match:#4ade80;
          --s-legacy:#a3b1c6; --s-new:#7aa7ff; --go:#4ade80; --hold:#fbbf24; --rollback:#f87171;
          --p0:#7aa7ff; --p1:#f472b6; --p2:#34d399; --p3:#fbbf24; --p4:#c4a1ff; --p5:#22d3ee; --p6:#f87171; }
  th { background:#1b2430; } tr:hover td { background:#1b2430; } header { background:#05080c; }
  input, select, textarea { background:#0f141b; color:var(--ink); border-color:var(--line); }
  .val { background:#0f141b; } button.secondary { background:#161d27; color:var(--ink); }
}
"""

# Sort any table.sortable by clicking a header; auto-submit filter forms when a select changes.
JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  var heads = table.tHead.rows[table.tHead.rows.length - 1].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.classList.add('sort');
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir === 1 ? 'asc' : 'desc';
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        if (!isNaN(nx) && !isNaN(ny)) { return (nx - ny) * dir; }
        return x.localeCompare(y) * dir;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.querySelectorAll('form.filters select').forEach(function (s) {
  s.addEventListener('change', function () { s.form.submit(); });
});
"""
