/**
 * The HTML report: one self-contained file (styles and scripts inline, nothing from the network).
 * - verdict and summary; the replay command; the upstream commits of a catalog entry;
 * - a zoomable per-CPU timeline (SVG drawn by the inline script from the timeline data: wheel to
 *   zoom, drag to pan, hover for details), with grace periods and wake-up arrows;
 * - the wait-for graph, laid out by Graphviz (@viz-js/viz, WebAssembly) here at report time and
 *   inlined as SVG, the cycle in red;
 * - held locks per task and CPU; lock contention per class as a bar chart (d3-scale);
 * - the kernel-style text report.
 */
import { scaleBand, scaleLinear } from 'd3-scale';
import { build_timeline, type SliceCat } from './timeline.js';
import type { GraphModel, ReportModel } from './report_model.js';

const CATS: SliceCat[] = ['task', 'syscall', 'irq', 'lock', 'wait'];
/** Most slices the page's timeline carries (the newest; the Chrome trace has them all). */
export const HTML_MAX_SLICES = 40_000;

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));

/** Timeline data for the page's script (compact arrays, times in µs from the window start). */
function timeline_data(m: ReportModel): Record<string, unknown> | undefined {
  if (!m.trace || !m.trace.events.length) return undefined;
  const tl = build_timeline(m.trace);
  const all = tl.cpus.flatMap((c, cpu) => c.slices.map((s) => ({ cpu, s })));
  let from = tl.startUs;
  if (all.length > HTML_MAX_SLICES) {
    const ends = all.map((x) => x.s.end).sort((a, b) => b - a);
    from = ends[HTML_MAX_SLICES - 1]!;
  }
  const strings: string[] = [];
  const sid = new Map<string, number>();
  const str = (x: string): number => {
    let i = sid.get(x);
    if (i === undefined) { i = strings.length; strings.push(x); sid.set(x, i); }
    return i;
  };
  const r = (x: number): number => Math.round((x - from) * 100) / 100;
  const tip = (name: string, args: Record<string, unknown>): number => str([name, ...Object.entries(args).map(([k, v]) => `${k}: ${String(v)}`)].join('\n'));
  const slices: number[][] = [];
  for (const { cpu, s } of all) {
    if (s.end < from) continue;
    slices.push([cpu, r(Math.max(s.start, from)), Math.round((s.end - Math.max(s.start, from)) * 100) / 100, s.depth, CATS.indexOf(s.cat), str(s.name), tip(s.name, s.args)]);
  }
  const instants: number[][] = [];
  tl.cpus.forEach((c, cpu) => {
    for (const i of c.instants) if (i.ts >= from) instants.push([cpu, r(i.ts), ['sleep', 'wakeup', 'violation', 'contended'].indexOf(i.cat), str(i.name), tip(i.name, i.args)]);
  });
  const flows = tl.flows.filter((f) => f.toTs >= from && f.fromTs >= from).map((f) => [f.fromCpu, r(f.fromTs), f.toCpu, r(f.toTs)]);
  const gps = tl.gps.filter((g) => g.end >= from).map((g) => [g.flavour === 'rcu' ? 0 : 1, g.gp, r(Math.max(g.start, from)), r(g.end), g.open ? 1 : 0]);
  const lost = m.trace.lost.reduce((a, b) => a + b, 0) + tl.clipped;
  // The first view skips a long quiet stretch at the start when most of the run comes after it
  // (the setup done on the main thread before the CPU workers started, on a busy host seconds
  // earlier); "whole trace" shows it.
  const starts = slices.map((s) => s[1]!).sort((a, b) => a - b);
  const span = r(tl.endUs);
  let initial = 0;
  for (let i = 1; i < starts.length; i++) {
    const gap = starts[i]! - starts[i - 1]!;
    if (starts[i - 1]! > span * 0.1) break;
    if (gap > span * 0.3 && starts.length - i >= starts.length / 2) initial = Math.max(0, starts[i]! - (span - starts[i]!) * 0.02);
  }
  // ... and a long quiet stretch at the end (a stuck run is frozen some time after its CPUs
  // stopped): the slices still open then run on to the end of the trace.
  const last = Math.max(starts[starts.length - 1] ?? 0, ...instants.map((i) => i[1]!));
  const initialEnd = last < initial + (span - initial) * 0.5 ? last + (last - initial) * 0.15 + 1 : span;
  return {
    ncpus: m.trace.ncpus, span, initial, initialEnd, strings, slices, instants, flows, gps,
    note: `${m.trace.events.length} events${lost ? ` (the rings kept the newest; ${lost} older ones were overwritten)` : ''}${from > tl.startUs ? `; the page shows the last ${((tl.endUs - from) / 1000).toFixed(2)} ms (the newest ${HTML_MAX_SLICES} slices), the --trace file has all` : ''}`,
  };
}

/** DOT source of the wait-for graph (the cycle red and bold). */
export function graph_dot(g: GraphModel): string {
  const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  const short = (s: string, n = 56): string => (s.length > n ? s.slice(0, n - 1) + '…' : s);
  const L: string[] = [
    'digraph waitfor {',
    '  graph [rankdir=LR, fontname="Helvetica", bgcolor="transparent", nodesep=0.4, ranksep=0.9, pad=0.2];',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, fillcolor="#eef2f7", color="#8a99ad", margin="0.15,0.08"];',
    '  edge [fontname="Helvetica", fontsize=9, color="#8a99ad", fontcolor="#4a5568"];',
  ];
  g.nodes.forEach((n, i) => {
    const label = [n.label, ...n.detail.map((d) => short(d, 44))].join('\n');
    const style = n.inCycle ? ', fillcolor="#fde2e1", color="#c0392b", penwidth=2.2, fontcolor="#7b1d12"' : '';
    L.push(`  n${i} [id=${q(`node-${n.key}`)}, label=${q(label)}, tooltip=${q([n.label, ...n.detail].join('\n'))}${style}];`);
  });
  const idx = new Map(g.nodes.map((n, i) => [n.key, i]));
  for (const e of g.edges) {
    const style = e.inCycle ? ', color="#c0392b", fontcolor="#c0392b", penwidth=2.2' : '';
    L.push(`  n${idx.get(e.from)} -> n${idx.get(e.to)} [label=${q(short(e.why))}, tooltip=${q(e.why)}${style}];`);
  }
  L.push('}');
  return L.join('\n');
}

/** Render DOT to SVG with Graphviz compiled to WebAssembly (@viz-js/viz). */
export async function render_dot(dot: string): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  const svg = viz.renderString(dot, { format: 'svg' });
  return svg.replace(/^<\?xml[^>]*>\s*/, '').replace(/<!DOCTYPE[^>]*>\s*/, '').replace(/<!--[\s\S]*?-->\s*/g, '');
}

function contention_chart(m: ReportModel): string {
  const rows = m.locks.filter((l) => l.acquisitions > 0).slice(0, 14);
  if (!rows.length) return '<p class="muted">No lock acquisitions recorded.</p>';
  const W = 900;
  const left = 190;
  const right = 250;
  const rowH = 26;
  const H = rows.length * rowH + 30;
  const y = scaleBand<string>().domain(rows.map((r) => r.cls)).range([20, H - 10]).padding(0.25);
  const max = Math.max(...rows.map((r) => r.contended), 1);
  const x = scaleLinear().domain([0, max]).range([left, W - right]).nice();
  const out: string[] = [`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="lock contention per class">`];
  for (const t of x.ticks(Math.min(5, max)).filter((v) => Number.isInteger(v))) out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="14" y2="${H - 8}" class="grid"/><text x="${x(t)}" y="11" class="tick" text-anchor="middle">${t}</text>`);
  for (const r of rows) {
    const yy = y(r.cls)!;
    const bw = Math.max(0, x(r.contended) - left);
    const pct = r.acquisitions ? (100 * r.contended) / r.acquisitions : 0;
    out.push(`<text x="${left - 8}" y="${yy + y.bandwidth() / 2 + 4}" text-anchor="end" class="lbl">${esc(r.cls)}</text>`);
    out.push(`<rect x="${left}" y="${yy}" width="${bw.toFixed(1)}" height="${y.bandwidth().toFixed(1)}" class="bar"><title>${esc(`${r.cls}: ${r.contended} contended of ${r.acquisitions} acquisitions`)}</title></rect>`);
    out.push(`<text x="${left + bw + 6}" y="${yy + y.bandwidth() / 2 + 4}" class="val">${r.contended.toLocaleString('en-US')} of ${r.acquisitions.toLocaleString('en-US')} (${pct.toFixed(pct < 1 ? 2 : 1)}%)${r.wait_ms !== undefined ? `, ${r.wait_ms} ms waited` : ''}</text>`);
  }
  out.push('</svg>');
  return out.join('');
}

function held_table(m: ReportModel): string {
  if (!m.held.length) return '<p class="muted">Nothing recorded.</p>';
  const rows = m.held.map((h) => `<tr><td>${esc(h.who)}</td><td>${h.kind}</td><td>${h.locks.length ? h.locks.map((l) => `<code>${esc(l.cls)}</code> {${esc(l.mode)}} <span class="muted">${esc(l.lock)}</span>`).join('<br>') : '<span class="muted">none</span>'}</td></tr>`);
  return `<table><thead><tr><th>CPU or task</th><th>kind</th><th>locks held</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function commits_table(m: ReportModel): string {
  if (!m.commits?.length) return '';
  const rows = m.commits.map((c) => `<tr><td><code>${esc(c.id || '(no id)')}</code></td><td>${esc(c.role)}</td><td>${esc(c.subject)}${c.author ? ` <span class="muted">(${esc(c.author)})</span>` : ''}</td><td>${c.year}</td><td>${esc(c.status)}</td></tr>`);
  return `<section><h2>Upstream commits</h2><table><thead><tr><th>commit</th><th>role</th><th>subject</th><th>year</th><th>record</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2933;background:#f4f6f9}
main{max-width:1360px;margin:0 auto;padding:18px 20px 40px}header{display:flex;gap:16px;align-items:center;flex-wrap:wrap}
h1{font-size:20px;margin:0;flex:1 1 600px;min-width:0;overflow-wrap:anywhere}h2{font-size:16px;margin:0 0 10px}
.verdict{font-weight:700;padding:6px 14px;border-radius:6px;color:#fff;background:#2f855a;white-space:nowrap}.verdict.bad{background:#c0392b}
section{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:14px 16px;margin-top:14px;overflow:hidden}
ul.summary{margin:8px 0 0;padding-left:20px}pre,code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f7f9fb;border:1px solid #e2e8f0;border-radius:6px;padding:10px;white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
table{border-collapse:collapse;width:100%;table-layout:auto}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #edf0f4;vertical-align:top;overflow-wrap:anywhere}
th{font-weight:600;color:#52606d;font-size:12px}.muted{color:#7b8794}.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:14px}
@media (max-width:1100px){.grid2{grid-template-columns:minmax(0,1fr)}}
.graph svg{max-width:100%;height:auto;display:block;margin:0 auto}.chart{width:100%;height:auto;max-width:900px}
.chart .grid{stroke:#edf0f4}.chart .tick{font-size:10px;fill:#7b8794}.chart .lbl{font-size:12px;fill:#323f4b}.chart .val{font-size:11px;fill:#52606d}.chart .bar{fill:#e8a33d}
#tl-wrap{position:relative;width:100%}#tl{width:100%;display:block;user-select:none;cursor:grab;background:#fbfcfd;border:1px solid #e2e8f0;border-radius:6px}
.tl-bar{display:flex;gap:8px;align-items:center;margin-bottom:8px;flex-wrap:wrap}.tl-bar button{font:12px system-ui;padding:3px 10px;border:1px solid #cbd2d9;border-radius:4px;background:#fff;cursor:pointer}
.legend{display:flex;gap:12px;flex-wrap:wrap;font-size:12px;color:#52606d}.legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:4px;vertical-align:-1px}
#tl-tip{position:absolute;pointer-events:none;background:#1f2933;color:#fff;font:11px/1.4 ui-monospace,Menlo,monospace;padding:6px 8px;border-radius:4px;white-space:pre;display:none;max-width:520px;overflow:hidden;z-index:5}
details summary{cursor:pointer;font-weight:600}`;

/** The timeline's script: draws the visible part of the timeline into the SVG on every zoom/pan. */
const SCRIPT = `
(function(){
var el=document.getElementById('tl-data');if(!el)return;var D=JSON.parse(el.textContent);
var svg=document.getElementById('tl'),tip=document.getElementById('tl-tip'),NS='http://www.w3.org/2000/svg';
var COL={0:null,1:'#3f8f86',2:'#8e6cc0',3:'#e8a33d',4:'#d9534f'};var ICOL=['#7b8794','#2f855a','#c0392b','#dd6b20'];
var ROW=15,LBL=78,AX=22,GAP=10,n=D.ncpus,depth=[];for(var i=0;i<n;i++)depth.push(0);
D.slices.forEach(function(s){if(s[3]>depth[s[0]])depth[s[0]]=s[3];});
var laneY=[],y=AX+4;for(i=0;i<n;i++){laneY.push(y);y+=(Math.min(depth[i],9)+1)*ROW+GAP;}
var gpY=y,H=gpY+2*ROW+8;svg.setAttribute('height',H);
var v0=D.initial||0,v1=Math.max(D.initialEnd||D.span,1e-3),W=800;
function hue(s){var h=0;for(var k=0;k<s.length;k++)h=(h*31+s.charCodeAt(k))|0;return 'hsl('+(Math.abs(h)%360)+',42%,82%)';}
function fmt(us){var a=Math.abs(us);if(a<1e-9)return '0';return a>=1e6?(us/1e6).toFixed(3)+' s':a>=1e3?(us/1e3).toFixed(a>=1e4?1:3)+' ms':us.toFixed(a>=10?1:2)+' µs';}
function mk(t,a,p){var e=document.createElementNS(NS,t);for(var k in a)e.setAttribute(k,a[k]);(p||svg).appendChild(e);return e;}
function draw(){W=svg.clientWidth||800;svg.setAttribute('viewBox','0 0 '+W+' '+H);while(svg.firstChild)svg.removeChild(svg.firstChild);
var sx=(W-LBL-8)/(v1-v0),X=function(t){return LBL+(t-v0)*sx;};
var ax=mk('g',{'class':'axis'});var step=Math.pow(10,Math.floor(Math.log10((v1-v0)/6)));if((v1-v0)/step>12)step*=2;if((v1-v0)/step>12)step*=2.5;
for(var t=Math.ceil(v0/step)*step;t<=v1;t+=step){mk('line',{x1:X(t),x2:X(t),y1:AX-4,y2:H,stroke:'#edf0f4'},ax);mk('text',{x:X(t)+3,y:AX-8,'font-size':10,fill:'#7b8794'},ax).textContent=fmt(t);}
for(var c=0;c<n;c++){var g=mk('g',{'class':'cpu-track','data-cpu':c});mk('rect',{x:0,y:laneY[c]-2,width:W,height:(Math.min(depth[c],9)+1)*ROW+4,fill:c%2?'#f7f9fb':'#fff'},g);
mk('text',{x:6,y:laneY[c]+11,'font-size':12,'font-weight':600,fill:'#323f4b'},g).textContent='CPU '+c;}
var gg=mk('g',{'class':'gp-track'});mk('text',{x:6,y:gpY+11,'font-size':11,fill:'#52606d'},gg).textContent='RCU / SRCU';
var body=mk('g',{'class':'tl-body'});var drawn=0,dens={},upp=(v1-v0)/(W-LBL-8);
D.slices.forEach(function(s,k){var a=s[1],b=s[1]+s[2];if(b<v0||a>v1)return;var x0=Math.max(X(a),LBL),x1=Math.min(X(b),W-8),w=x1-x0;
if(w<0.6){var px=Math.floor(x0),key=s[0]+':'+Math.min(s[3],9)+':'+px,d=dens[key];if(!d)d=dens[key]={c:s[0],dep:Math.min(s[3],9),px:px,t:0,cat:s[4],n:''};d.t+=b-a;if(s[4]>=d.cat){d.cat=s[4];d.n=D.strings[s[5]];}return;}
var cat=s[4],dep=Math.min(s[3],9),yy=laneY[s[0]]+dep*ROW;var name=D.strings[s[5]];
var r=mk('rect',{x:x0,y:yy,width:Math.max(w,1),height:ROW-2,rx:2,fill:COL[cat]||hue(name),'data-tip':s[6],'class':'sl c'+cat},body);drawn++;
if(w>46){var tx=mk('text',{x:x0+3,y:yy+10,'font-size':10,fill:cat===0?'#1f2933':'#fff','pointer-events':'none'},body);var maxc=Math.floor((w-6)/5.6);tx.textContent=name.length>maxc?name.slice(0,Math.max(maxc-1,1))+'…':name;}});
for(var key in dens){var d=dens[key];mk('rect',{x:d.px,y:laneY[d.c]+d.dep*ROW,width:1,height:ROW-2,fill:COL[d.cat]||'#9fb3c8',opacity:Math.min(1,0.3+d.t/upp)},body);}
D.gps.forEach(function(p){var a=Math.max(p[2],v0),b=Math.min(p[3],v1);if(b<a)return;var yy=gpY+p[0]*ROW,x0=Math.max(X(a),LBL),w=Math.max(X(b)-x0,1);
mk('rect',{x:x0,y:yy,width:w,height:ROW-3,rx:2,fill:p[0]?'#b794f4':'#90cdf4','data-tip-text':(p[0]?'SRCU':'RCU')+' grace period '+p[1]+(p[4]?' (not completed)':'')},body);});
var fl=D.flows.filter(function(f){return f[3]>=v0&&f[1]<=v1;});if(fl.length<=80)fl.forEach(function(f){var x0=X(f[1]),y0=laneY[f[0]]+2,x1=X(f[3]),y1=laneY[f[2]]+2;
mk('path',{d:'M'+x0+','+y0+' C'+(x0+20)+','+y0+' '+(x1-20)+','+y1+' '+x1+','+y1,fill:'none',stroke:'#2f855a','stroke-width':1,opacity:0.7,'marker-end':'url(#arr)'},body);});
D.instants.forEach(function(e){if(e[1]<v0||e[1]>v1)return;var x=X(e[1]),yy=laneY[e[0]];var h=(Math.min(depth[e[0]],9)+1)*ROW;
if(e[2]===2){mk('line',{x1:x,x2:x,y1:yy-2,y2:yy+h,stroke:'#c0392b','stroke-width':2,'data-tip':e[4],'class':'violation'},body);mk('path',{d:'M'+(x-5)+','+(yy-4)+' L'+(x+5)+','+(yy-4)+' L'+x+','+(yy+4)+'Z',fill:'#c0392b','data-tip':e[4]},body);}
else mk('rect',{x:x-1,y:yy-3,width:2,height:5,fill:ICOL[e[2]],'data-tip':e[4]},body);});
var defs=mk('defs',{});var mkr=mk('marker',{id:'arr',viewBox:'0 0 6 6',refX:5,refY:3,markerWidth:6,markerHeight:6,orient:'auto'},defs);mk('path',{d:'M0,0 L6,3 L0,6 Z',fill:'#2f855a'},mkr);
document.getElementById('tl-range').textContent=fmt(v0)+' – '+fmt(v1)+' ('+fmt(v1-v0)+' shown, '+drawn+' slices)';}
function zoom(f,at){var c=at===undefined?(v0+v1)/2:at,nv0=c-(c-v0)*f,nv1=c+(v1-c)*f;if(nv1-nv0<0.01)return;v0=Math.max(nv0,-D.span*0.05);v1=Math.min(nv1,D.span*1.05);draw();}
svg.addEventListener('wheel',function(ev){ev.preventDefault();var b=svg.getBoundingClientRect(),sx=(W-LBL-8)/(v1-v0);zoom(ev.deltaY<0?0.8:1.25,v0+(ev.clientX-b.left-LBL)/sx);},{passive:false});
var drag=null;svg.addEventListener('mousedown',function(ev){drag={x:ev.clientX,a:v0,b:v1};svg.style.cursor='grabbing';});
window.addEventListener('mouseup',function(){drag=null;svg.style.cursor='grab';});
svg.addEventListener('mousemove',function(ev){var b=svg.getBoundingClientRect();if(drag){var d=(ev.clientX-drag.x)*(drag.b-drag.a)/(W-LBL-8);v0=drag.a-d;v1=drag.b-d;draw();return;}
var t=ev.target,txt=t.getAttribute&&(t.getAttribute('data-tip')!==null?D.strings[+t.getAttribute('data-tip')]:t.getAttribute('data-tip-text'));
if(txt){tip.textContent=txt;tip.style.display='block';var wrap=document.getElementById('tl-wrap').getBoundingClientRect();var lx=ev.clientX-wrap.left+12;if(lx+380>wrap.width)lx=Math.max(ev.clientX-wrap.left-392,0);tip.style.left=lx+'px';tip.style.top=(ev.clientY-wrap.top+14)+'px';}else tip.style.display='none';});
svg.addEventListener('mouseleave',function(){tip.style.display='none';});
document.getElementById('tl-in').onclick=function(){zoom(0.5);};document.getElementById('tl-out').onclick=function(){zoom(2);};
document.getElementById('tl-reset').onclick=function(){v0=0;v1=Math.max(D.span,1e-3);draw();};
document.getElementById('tl-end').onclick=function(){var w=Math.min(D.span,Math.max(D.span/50,1000));v1=D.span;v0=D.span-w;draw();};
window.addEventListener('resize',draw);draw();})();`;

/** The whole page. */
export async function render_html(m: ReportModel): Promise<string> {
  const data = timeline_data(m);
  const graphSvg = m.graph ? await render_dot(graph_dot(m.graph)) : undefined;
  const cycleNames = m.graph?.cycle.map((k) => m.graph!.nodes.find((n) => n.key === k)?.label ?? k) ?? [];
  const json = (x: unknown): string => JSON.stringify(x).replace(/</g, '\\u003c');
  const parts: string[] = [];
  parts.push(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`);
  parts.push(`<title>${esc(m.title)} - ${esc(m.verdict)}</title><style>${STYLE}</style></head><body><main>`);
  parts.push(`<header><h1>${esc(m.title)}</h1><div class="verdict${m.ok ? '' : ' bad'}" id="verdict">${esc(m.verdict)}</div></header>`);
  parts.push(`<section id="summary"><h2>Summary</h2><ul class="summary">${m.summary.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>`);
  if (m.replay) parts.push(`<h2 style="margin-top:12px">Replay</h2><pre id="replay">${esc(m.replay)}</pre>`);
  parts.push('</section>');
  parts.push(commits_table(m));
  parts.push(`<section id="timeline"><h2>Timeline per CPU</h2>`);
  if (data) {
    parts.push(`<div class="tl-bar"><button id="tl-in" type="button">zoom in</button><button id="tl-out" type="button">zoom out</button><button id="tl-reset" type="button">whole trace</button><button id="tl-end" type="button">the end</button><span class="muted" id="tl-range"></span></div>`);
    parts.push(`<div class="legend"><span><i style="background:hsl(210,42%,82%)"></i>task running</span><span><i style="background:#3f8f86"></i>system call</span><span><i style="background:#e8a33d"></i>lock held</span><span><i style="background:#d9534f"></i>waiting for a lock</span><span><i style="background:#8e6cc0"></i>interrupt</span><span><i style="background:#90cdf4"></i>RCU grace period</span><span><i style="background:#b794f4"></i>SRCU grace period</span><span><i style="background:#2f855a"></i>wake-up</span><span><i style="background:#c0392b"></i>violation</span></div>`);
    parts.push(`<div id="tl-wrap"><svg id="tl" xmlns="http://www.w3.org/2000/svg" height="200" role="img" aria-label="per-CPU timeline"></svg><div id="tl-tip"></div></div>`);
    parts.push(`<p class="muted">Wheel to zoom, drag to pan, hover for details. ${esc(String(data.note))}.</p>`);
  } else parts.push('<p class="muted">No trace in this report (run with --trace or --html to record one).</p>');
  parts.push('</section>');
  if (graphSvg) {
    parts.push(`<section id="waitfor" class="graph"><h2>Wait-for graph${m.graph!.cycle.length ? ': the cycle in red' : ' (no cycle: blocked chains)'}</h2>`);
    if (cycleNames.length) parts.push(`<p id="cycle">${cycleNames.map(esc).join(' &rarr; ')} &rarr; ${esc(cycleNames[0]!)}</p>`);
    parts.push(graphSvg, '</section>');
  }
  parts.push(`<div class="grid2"><section id="held"><h2>Held locks per task and CPU <span class="muted">(${esc(m.heldSource ?? '')})</span></h2>${held_table(m)}</section>`);
  parts.push(`<section id="contention"><h2>Lock contention per class <span class="muted">(${esc(m.locksSource ?? '')})</span></h2>${contention_chart(m)}</section></div>`);
  if (m.text) parts.push(`<section id="log"><details><summary>Kernel-style report</summary><pre>${esc(m.text)}</pre></details></section>`);
  if (data) parts.push(`<script type="application/json" id="tl-data">${json(data)}</script><script>${SCRIPT}</script>`);
  parts.push('</main></body></html>');
  return parts.join('\n');
}
