/* exactcells interactive report: draws the data embedded in #ec-data with plotly.js.
   Exact values arrive as strings and are shown as they are; float arrays are for drawing only. */
(function () {
  'use strict';
  var T = { start: performance.now() };
  var DATA = JSON.parse(document.getElementById('ec-data').textContent);
  T.parsed = performance.now();

  function bytes(s) {
    if (typeof s !== 'string') return s;  // already unpacked bytes
    var bin = atob(s), n = bin.length, out = new Uint8Array(n);
    for (var i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  // packed parts of DATA ({packed: 'lines' | 'bytes', z: base64 of zlib}) are inflated by the
  // browser's DecompressionStream: what the picture needs before it is drawn, the exact texts
  // for hover and click (EXACT keys) right after (the page says so until they are there)
  var EXACT = { signs: 1, volumes: 1, affine: 1, details: 1 };
  function isPacked(v) { return !!(v && typeof v === 'object' && v.packed && typeof v.z === 'string'); }
  function unpack(node, done, skip, later) {
    if (!node || typeof node !== 'object' || ArrayBuffer.isView(node)) return done;
    if (Array.isArray(node) && (!node.length || typeof node[0] !== 'object')) return done;
    Object.keys(node).forEach(function (k) {
      var v = node[k];
      if (skip && skip[k]) later.push({ node: node, k: k });
      else if (isPacked(v)) inflate(node, k, done);
      else unpack(v, done, skip, later);
    });
    return done;
  }
  function inflate(node, k, done) {
    // the browser decodes the base64 (a data: URL) and inflates it off the page's script
    var v = node[k];
    done.push(fetch('data:application/octet-stream;base64,' + v.z).then(function (res) {
      return new Response(res.body.pipeThrough(new DecompressionStream('deflate'))).arrayBuffer();
    }).then(function (buf) {
      node[k] = v.packed === 'lines' ? new TextDecoder().decode(buf).split('\x1e') : new Uint8Array(buf);
    }));
  }
  var exactReady = false;
  function f32(s) { return new Float32Array(bytes(s).buffer); }
  function i32(s) { return new Int32Array(bytes(s).buffer); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  // diverging blue-white-red, and a categorical palette
  var STOPS = [[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247],
               [253, 219, 199], [239, 138, 98], [178, 24, 43]];
  function diverging(t) {
    t = Math.max(0, Math.min(1, t)) * (STOPS.length - 1);
    var i = Math.min(Math.floor(t), STOPS.length - 2), u = t - i, a = STOPS[i], b = STOPS[i + 1];
    return 'rgb(' + [0, 1, 2].map(function (k) { return Math.round(a[k] + u * (b[k] - a[k])); }).join(',') + ')';
  }
  var PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1',
                 '#ff9da7', '#9c755f', '#bab0ac'];
  var COLORSCALE = STOPS.map(function (c, i) { return [i / (STOPS.length - 1), 'rgb(' + c.join(',') + ')']; });
  var BINS = 33;

  // -- one 2-D complex: drawing, exact hover, click panel ------------------------------------
  function ComplexView(cx) {
    this.cx = cx;
    this.R = cx.num_regions;
    this.px = f32(cx.poly_x); this.py = f32(cx.poly_y); this.ps = i32(cx.poly_start);
    this.colourValues = cx.colourings.map(function (c) {
      return c.kind === 'category' ? i32(c.values) : f32(c.values);
    });
    this.bx = f32(cx.boundary_x); this.by = f32(cx.boundary_y);
    this.points = cx.points ? f32(cx.points) : null;
    this.width = cx.entry_names.length;
    this._grid();
    T.view = performance.now();
  }
  // the exact data for hover and click, decoded on first use (false while still packed)
  ComplexView.prototype.exact = function () {
    if (this.signs) return true;
    var cx = this.cx;
    if (!exactReady && (isPacked(cx.signs) || isPacked(cx.volumes) || isPacked(cx.affine) || isPacked(cx.details))) {
      return false;
    }
    this.signs = bytes(cx.signs);
    if (cx.details) {
      var d = cx.details;
      this.ev = i32(d.edge_vertices); this.ezp = i32(d.edge_zero_ptr); this.ezi = i32(d.edge_zero_idx);
      this.es = i32(d.edge_sides); this.rep = i32(d.region_edge_ptr); this.re = i32(d.region_edges);
    }
    return true;
  };
  ComplexView.prototype._grid = function () {
    var b = this.cx.bounds, R = this.R, G = Math.max(1, Math.min(512, Math.ceil(Math.sqrt(R))));
    var x0 = b[0], y0 = b[2], sx = (b[1] - b[0]) / G || 1, sy = (b[3] - b[2]) / G || 1;
    var cells = new Array(G * G), box = this.bbox = new Float64Array(4 * R);
    for (var r = 0; r < R; r++) {
      var lo = this.ps[r], hi = this.ps[r + 1], ax = Infinity, bx = -Infinity, ay = Infinity, by = -Infinity;
      for (var k = lo; k < hi; k++) {
        ax = Math.min(ax, this.px[k]); bx = Math.max(bx, this.px[k]);
        ay = Math.min(ay, this.py[k]); by = Math.max(by, this.py[k]);
      }
      box[4 * r] = ax; box[4 * r + 1] = bx; box[4 * r + 2] = ay; box[4 * r + 3] = by;
      var i0 = Math.max(0, Math.floor((ax - x0) / sx)), i1 = Math.min(G - 1, Math.floor((bx - x0) / sx));
      var j0 = Math.max(0, Math.floor((ay - y0) / sy)), j1 = Math.min(G - 1, Math.floor((by - y0) / sy));
      for (var i = i0; i <= i1; i++) for (var j = j0; j <= j1; j++) {
        var c = j * G + i; (cells[c] || (cells[c] = [])).push(r);
      }
    }
    this.grid = { G: G, x0: x0, y0: y0, sx: sx, sy: sy, cells: cells };
  };
  ComplexView.prototype.locate = function (x, y) {
    var g = this.grid, i = Math.floor((x - g.x0) / g.sx), j = Math.floor((y - g.y0) / g.sy);
    if (i < 0 || j < 0 || i >= g.G || j >= g.G) return -1;
    var cand = g.cells[j * g.G + i] || [];
    for (var n = 0; n < cand.length; n++) {
      var r = cand[n], lo = this.ps[r], hi = this.ps[r + 1], inside = false;
      for (var a = lo, b = hi - 1; a < hi; b = a++) {
        var xa = this.px[a], ya = this.py[a], xb = this.px[b], yb = this.py[b];
        if ((ya > y) !== (yb > y) && x < (xb - xa) * (y - ya) / (yb - ya) + xa) inside = !inside;
      }
      if (inside) return r;
    }
    return -1;
  };
  ComplexView.prototype.signChars = function (r) {
    var out = [], st = this.cx.sign_stride;
    for (var k = 0; k < this.width; k++) {
      var code = (this.signs[r * st + (k >> 2)] >> ((k & 3) * 2)) & 3;
      out.push(code === 1 ? '+' : code === 2 ? '-' : '0');
    }
    return out;
  };
  ComplexView.prototype.grouped = function (chars) {
    var g = this.cx.groups;
    return chars.slice(0, g[0]).join('') + ' | ' + chars.slice(g[0], g[1]).join('') + ' | ' +
      chars.slice(g[1]).join('');
  };
  ComplexView.prototype.classText = function (r) {
    for (var k = 0; k < this.cx.colourings.length; k++) {
      var c = this.cx.colourings[k];
      if (c.kind === 'category') return c.labels[this.colourValues[k][r]];
    }
    return '';
  };
  ComplexView.prototype.hoverText = function (r) {
    if (!this.exact()) {
      return 'region ' + r + ' (cell ' + (this.cx.first_region_cell + r) + ')\nclass: ' + this.classText(r) +
        '\n(the exact data is being unpacked: a moment)';
    }
    return ['region ' + r + ' (cell ' + (this.cx.first_region_cell + r) + ')',
            'sign vector (neurons | domain facets | output): ' + this.grouped(this.signChars(r)),
            'area (exact): ' + this.cx.volumes[r],
            'class: ' + this.classText(r),
            'output on the region (exact): ' + this.cx.affine[r]].join('\n');
  };
  // the colouring k: a colour index per region, the CSS colours, and the plotly traces that only
  // carry the legend / colour bar (the regions themselves are painted on a canvas); cached
  ComplexView.prototype.colouring = function (k) {
    this._colourings = this._colourings || {};
    if (this._colourings[k]) return this._colourings[k];
    var col = this.cx.colourings[k], vals = this.colourValues[k], R = this.R, traces = [];
    var bin = new Int32Array(R), colours = [], vmax = 0, r;
    if (col.kind === 'category') {
      for (r = 0; r < R; r++) bin[r] = vals[r];
      for (var b = 0; b < col.labels.length; b++) {
        colours.push(PALETTE[b % PALETTE.length]);
        traces.push({ type: 'scatter', mode: 'markers', x: [null], y: [null], name: col.labels[b],
          marker: { symbol: 'square', size: 11, color: colours[b] }, hoverinfo: 'skip', legendgroup: 'classes' });
      }
    } else {
      for (r = 0; r < R; r++) vmax = Math.max(vmax, Math.abs(vals[r]));
      if (!(vmax > 0)) vmax = 1;
      for (r = 0; r < R; r++) bin[r] = Math.max(0, Math.min(BINS - 1, Math.floor((vals[r] / vmax + 1) / 2 * BINS)));
      for (b = 0; b < BINS; b++) colours.push(diverging((b + 0.5) / BINS));
      traces.push({ type: 'scatter', x: [null], y: [null], mode: 'markers', hoverinfo: 'skip', showlegend: false,
        marker: { color: [-vmax, vmax], cmin: -vmax, cmax: vmax, colorscale: COLORSCALE, showscale: true,
                  colorbar: { title: { text: col.name, side: 'right' }, thickness: 12, len: 0.8 } } });
    }
    if (this.bx.length) {
      traces.push({ type: 'scatter', mode: 'lines', x: [null], y: [null], name: 'decision boundary',
        line: { color: 'black', width: 2.5 }, hoverinfo: 'skip' });
    }
    if (this.points) {
      traces.push({ type: 'scatter', mode: 'markers', x: [null], y: [null], name: 'data points',
        marker: { size: 5, color: 'black', opacity: 0.7 }, hoverinfo: 'skip' });
    }
    return (this._colourings[k] = { colours: colours, bin: bin, traces: traces });
  };

  // -- painting the regions: a canvas over the plot area, redrawn for the axes' ranges ----------
  // The regions (convex polygons) are rasterized here, not by the canvas: every pixel takes the
  // colour of the region containing its centre (crisp, no seams, a few operations per pixel and
  // per region, whatever the number of regions). What cannot be seen is decimated and counted: a
  // region that contains no pixel centre at the current zoom is not painted (it cannot be seen),
  // and outlines are drawn only around regions at least OUTLINE_PX pixels across.
  var OUTLINE_PX = 4;
  function rgba(css) {
    var m = /^#(..)(..)(..)$/.exec(css), c;
    if (m) c = [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
    else c = css.replace(/[^0-9,]/g, '').split(',').map(Number);
    return [c[0], c[1], c[2], 255];
  }
  function Painter(widget) {
    this.w = widget;
    this.clip = el('div', { 'class': 'ec-canvas', id: widget.host.id + '-canvas' });
    this.base = el('canvas'); this.over = el('canvas');
    // painted by the CPU and read back in tests: no GPU round trips
    this.base.getContext('2d', { willReadFrequently: true });
    this.over.getContext('2d', { willReadFrequently: true });
    this.clip.appendChild(this.base); this.clip.appendChild(this.over);
    this.drawn = null;
  }
  Painter.prototype.attach = function () {
    // between plotly's first SVG (background, axes) and its top SVG (zoom box, legend, colour bar)
    var paper = this.w.div.querySelector('.svg-container > svg.main-svg');
    if (paper && this.clip.previousSibling !== paper) paper.parentNode.insertBefore(this.clip, paper.nextSibling);
  };
  Painter.prototype.frame = function () {
    var fl = this.w.div._fullLayout;
    if (!fl || !fl.xaxis || !fl.yaxis) return null;
    var xa = fl.xaxis, ya = fl.yaxis;
    return { left: xa._offset, top: ya._offset, width: xa._length, height: ya._length,
             x0: xa.range[0], x1: xa.range[1], y0: ya.range[0], y1: ya.range[1] };
  };
  Painter.prototype._size = function (f) {
    var dpr = window.devicePixelRatio || 1, s = this.clip.style;
    s.left = f.left + 'px'; s.top = f.top + 'px'; s.width = f.width + 'px'; s.height = f.height + 'px';
    var W = Math.max(1, Math.round(f.width * dpr)), H = Math.max(1, Math.round(f.height * dpr));
    [this.base, this.over].forEach(function (c) {
      if (c.width !== W || c.height !== H) { c.width = W; c.height = H; }
      c.style.width = f.width + 'px'; c.style.height = f.height + 'px'; c.style.transform = '';
    });
    return dpr;
  };
  // rasterize the regions in view into a W x H RGBA buffer; returns the counts
  Painter.prototype.raster = function (W, H, ox, oy, sx, sy, C, out, ids) {
    var v = this.w.view, px = v.px, py = v.py, ps = v.ps, bb = v.bbox, R = v.R;
    var pal = new Uint32Array(C.colours.length), lut = new Uint8Array(pal.buffer), b;
    for (b = 0; b < C.colours.length; b++) lut.set(rgba(C.colours[b]), 4 * b);
    var minx = ox, maxx = ox + W / sx, miny = oy - H / sy, maxy = oy, opx = OUTLINE_PX * this.drawnDpr;
    var X = new Float64Array(64), Y = new Float64Array(64), seen = 0, visible = 0, outlined = 0;
    var outline = new Uint8Array(R);
    for (var r = 0; r < R; r++) {
      if (bb[4 * r + 1] < minx || bb[4 * r] > maxx || bb[4 * r + 3] < miny || bb[4 * r + 2] > maxy) continue;
      visible++;
      if (Math.max((bb[4 * r + 1] - bb[4 * r]) * sx, (bb[4 * r + 3] - bb[4 * r + 2]) * sy) >= opx) {
        outline[r] = 1; outlined++;
      }
      var lo = ps[r], n = ps[r + 1] - lo, ymin = Infinity, ymax = -Infinity, k;
      if (n > X.length) { X = new Float64Array(2 * n); Y = new Float64Array(2 * n); }
      for (k = 0; k < n; k++) {
        X[k] = (px[lo + k] - ox) * sx; Y[k] = (oy - py[lo + k]) * sy;
        if (Y[k] < ymin) ymin = Y[k];
        if (Y[k] > ymax) ymax = Y[k];
      }
      // rows whose pixel centre j + 1/2 lies in [ymin, ymax)
      var j0 = Math.max(0, Math.ceil(ymin - 0.5)), j1 = Math.min(H - 1, Math.ceil(ymax - 0.5) - 1);
      var colour = pal[C.bin[r]], any = false;
      for (var j = j0; j <= j1; j++) {
        var yc = j + 0.5, xl = Infinity, xr = -Infinity;
        for (var a = 0, c = n - 1; a < n; c = a++) {
          if ((Y[a] <= yc) !== (Y[c] <= yc)) {
            var xi = X[a] + (yc - Y[a]) * (X[c] - X[a]) / (Y[c] - Y[a]);
            if (xi < xl) xl = xi;
            if (xi > xr) xr = xi;
          }
        }
        // columns whose pixel centre i + 1/2 lies in [xl, xr)
        var i0 = Math.max(0, Math.ceil(xl - 0.5)), i1 = Math.min(W - 1, Math.ceil(xr - 0.5) - 1);
        if (i0 <= i1) { out.fill(colour, j * W + i0, j * W + i1 + 1); ids.fill(r, j * W + i0, j * W + i1 + 1); any = true; }
      }
      if (any) seen++;
    }
    return { visible: visible, hidden: visible - seen, outlined: outlined, outline: outline };
  };
  // outlines: the pixels where the region changes to the right or below, darkened, when one of
  // the two regions is outlined
  function outlinePixels(W, H, ids, outline, rgbaBuf) {
    var k = 0.55, g = 70 * k;
    for (var j = 0; j < H; j++) {
      for (var i = 0, p = j * W; i < W; i++, p++) {
        var a = ids[p], b, mark = false;
        if (i + 1 < W && (b = ids[p + 1]) !== a && ((a >= 0 && outline[a]) || (b >= 0 && outline[b]))) mark = true;
        else if (j + 1 < H && (b = ids[p + W]) !== a && ((a >= 0 && outline[a]) || (b >= 0 && outline[b]))) mark = true;
        if (!mark) continue;
        var q = 4 * p;
        if (a < 0) { rgbaBuf[q] = rgbaBuf[q + 1] = rgbaBuf[q + 2] = 70; rgbaBuf[q + 3] = 150; continue; }
        rgbaBuf[q] = rgbaBuf[q] * (1 - k) + g; rgbaBuf[q + 1] = rgbaBuf[q + 1] * (1 - k) + g;
        rgbaBuf[q + 2] = rgbaBuf[q + 2] * (1 - k) + g;
      }
    }
  }
  // the whole picture for the current ranges; returns what was decimated
  Painter.prototype.draw = function () {
    this.attach();
    var f = this.frame(), v = this.w.view;
    if (!f || !v) return null;
    var dpr = this._size(f), ctx = this.base.getContext('2d'), W = this.base.width, H = this.base.height;
    this.drawnDpr = dpr;
    var sx = W / (f.x1 - f.x0), sy = H / (f.y1 - f.y0), ox = f.x0, oy = f.y1;
    var C = v.colouring(this.w.colouring);
    if (!this.img || this.img.width !== W || this.img.height !== H) this.img = ctx.createImageData(W, H);
    var buf = new Uint32Array(this.img.data.buffer);
    if (!this.ids || this.ids.length !== W * H) this.ids = new Int32Array(W * H);
    buf.fill(0); this.ids.fill(-1);
    var tm = { start: performance.now() };
    var st = this.raster(W, H, ox, oy, sx, sy, C, buf, this.ids);
    tm.raster = performance.now();
    if (st.outlined) outlinePixels(W, H, this.ids, st.outline, this.img.data);
    tm.outlines = performance.now();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.putImageData(this.img, 0, 0);
    tm.put = performance.now();
    if (v.bx.length) {
      ctx.beginPath();
      for (var i = 0; i + 1 < v.bx.length; i += 3) {
        ctx.moveTo((v.bx[i] - ox) * sx, (oy - v.by[i]) * sy); ctx.lineTo((v.bx[i + 1] - ox) * sx, (oy - v.by[i + 1]) * sy);
      }
      ctx.strokeStyle = 'black'; ctx.lineWidth = 2.5 * dpr; ctx.lineCap = 'round'; ctx.stroke();
    }
    if (v.points) {
      var P = v.points, rad = 2.2 * dpr;
      ctx.fillStyle = 'rgba(0,0,0,0.7)';
      ctx.beginPath();
      for (i = 0; i + 1 < P.length; i += 2) {
        var PX = (P[i] - ox) * sx, PY = (oy - P[i + 1]) * sy;
        ctx.moveTo(PX + rad, PY); ctx.arc(PX, PY, rad, 0, 2 * Math.PI);
      }
      ctx.fill();
    }
    tm.rest = performance.now();
    this.drawn = { f: f, dpr: dpr, sx: sx, sy: sy };
    this.drawOverlay();
    this.timing = { raster: tm.raster - tm.start, outlines: tm.outlines - tm.raster, put: tm.put - tm.outlines,
                    rest: tm.rest - tm.put };
    return { visible: st.visible, hidden: st.hidden, outlined: st.outlined };
  };
  Painter.prototype._ring = function (ctx, r, ox, oy, sx, sy) {
    var v = this.w.view, lo = v.ps[r], hi = v.ps[r + 1];
    ctx.moveTo((v.px[lo] - ox) * sx, (oy - v.py[lo]) * sy);
    for (var q = lo + 1; q < hi; q++) ctx.lineTo((v.px[q] - ox) * sx, (oy - v.py[q]) * sy);
    ctx.closePath();
  };
  // the selected region and its neighbours, on the upper canvas
  Painter.prototype.drawOverlay = function () {
    var d = this.drawn, ctx = this.over.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.over.width, this.over.height);
    var w = this.w;
    if (!d || w.selectedView !== w.view || w.selected === undefined || w.selected === null) return;
    var ox = d.f.x0, oy = d.f.y1, self = this;
    if (w.neighbours && w.neighbours.length) {
      ctx.beginPath();
      w.neighbours.forEach(function (r) { self._ring(ctx, r, ox, oy, d.sx, d.sy); });
      ctx.strokeStyle = '#ffbf00'; ctx.lineWidth = 2 * d.dpr; ctx.stroke();
    }
    ctx.beginPath();
    this._ring(ctx, w.selected, ox, oy, d.sx, d.sy);
    ctx.strokeStyle = '#00c000'; ctx.lineWidth = 3.5 * d.dpr; ctx.stroke();
  };
  // while plotly pans or zooms, move the last picture with the axes (redrawn when they settle)
  Painter.prototype.follow = function () {
    var d = this.drawn, f = this.frame();
    if (!d || !f) return;
    var kx = (d.f.x1 - d.f.x0) / (f.x1 - f.x0), ky = (d.f.y1 - d.f.y0) / (f.y1 - f.y0);
    var tx = (d.f.x0 - f.x0) / (f.x1 - f.x0) * f.width, ty = (f.y1 - d.f.y1) / (f.y1 - f.y0) * f.height;
    var t = 'translate(' + tx + 'px,' + ty + 'px) scale(' + kx + ',' + ky + ')';
    this.base.style.transformOrigin = this.over.style.transformOrigin = '0 0';
    this.base.style.transform = this.over.style.transform = t;
  };

  // -- the widget: selector, plot, tooltip, click panel --------------------------------------
  function ComplexWidget(host, panel, opts) {
    this.host = host; this.panel = panel; this.opts = opts || {};
    var bar = el('div', { 'class': 'ec-bar' });
    bar.appendChild(el('label', { 'for': host.id + '-colour' }, 'colour by: '));
    this.select = el('select', { id: host.id + '-colour' });
    bar.appendChild(this.select);
    host.appendChild(bar);
    this.wrap = el('div', { 'class': 'ec-plotwrap' });
    this.div = el('div', { id: host.id + '-plot', 'class': 'ec-plot' });
    this.tip = el('div', { 'class': 'ec-tip', id: host.id + '-tip' });
    this.wrap.appendChild(this.div); this.wrap.appendChild(this.tip);
    host.appendChild(this.wrap);
    this.notice = el('p', { 'class': 'ec-note ec-decimation', id: host.id + '-decimation' });
    host.appendChild(this.notice);
    this.painter = new Painter(this);
    var self = this;
    this.select.addEventListener('change', function () { self.colour(+self.select.value); });
    var pending = null;
    this.div.addEventListener('mousemove', function (ev) {
      if (pending === null) pending = requestAnimationFrame(function () { pending = null; self._move(ev); });
    });
    this.div.addEventListener('mouseleave', function () { self.tip.style.display = 'none'; });
    var down = null;
    this.div.addEventListener('mousedown', function (ev) { down = [ev.clientX, ev.clientY]; }, true);
    document.addEventListener('mouseup', function (ev) {
      if (down && Math.abs(ev.clientX - down[0]) < 4 && Math.abs(ev.clientY - down[1]) < 4) {
        var p = self.dataCoords(ev);
        if (p) { var r = self.view.locate(p[0], p[1]); if (r >= 0) self.selectRegion(r); }
      }
      down = null;
    });
  }
  ComplexWidget.prototype.show = function (cx, title) {
    if (!cx.view) cx.view = new ComplexView(cx);
    this.view = cx.view; this.title = title;
    var keep = this.select.value, opts = cx.colourings.map(function (c) { return c.name; });
    this.select.innerHTML = '';
    for (var i = 0; i < opts.length; i++) this.select.appendChild(el('option', { value: String(i) }, opts[i]));
    var k = (keep !== '' && +keep < opts.length && this.started) ? +keep : (cx.default_colouring || 0);
    this.select.value = String(k);
    this.started = true;
    if (this.panel) this.panel.textContent = 'Click a region to see its facets and neighbours.';
    return this.colour(k);
  };
  ComplexWidget.prototype.colour = function (k) {
    var b = this.view.cx.bounds, dx = (b[1] - b[0]) * 0.01, dy = (b[3] - b[2]) * 0.01;
    var layout = {
      title: { text: this.title || '', font: { size: 13 } }, hovermode: false, dragmode: 'zoom',
      xaxis: { range: [b[0] - dx, b[1] + dx], title: { text: this.view.cx.coords[0] }, zeroline: false },
      yaxis: { range: [b[2] - dy, b[3] + dy], title: { text: this.view.cx.coords[1] }, scaleanchor: 'x',
               zeroline: false },
      margin: { l: 50, r: 20, t: 40, b: 45 }, legend: { orientation: 'h', y: -0.12 },
      uirevision: this.host.id, plot_bgcolor: 'white'
    };
    var t0 = performance.now(), self = this;
    this.colouring = k;
    var tr = this.view.colouring(k).traces;
    return Plotly.react(this.div, tr, layout, { responsive: true, displaylogo: false, scrollZoom: true })
      .then(function () {
        if (!self.hooked) {
          self.hooked = true;
          self.div.on('plotly_afterplot', function () { self.schedule(); });
          self.div.on('plotly_relayouting', function () { self.painter.follow(); });
        }
        self.redraw();
        self.host.dataset.colouring = String(k);
        self.colourMs = performance.now() - t0;
      });
  };
  ComplexWidget.prototype.schedule = function () {
    var self = this;
    this.dirty = true;
    requestAnimationFrame(function () { if (self.dirty) self.redraw(); });
  };
  // paint the regions for the current ranges and say what could not be seen
  ComplexWidget.prototype.redraw = function () {
    this.dirty = false;
    var t0 = performance.now(), s = this.painter.draw();
    if (!s) return;
    this.drawMs = performance.now() - t0;
    this.drawCount = (this.drawCount || 0) + 1;
    this.decimation = s;
    var nb = this.notice, fmt = function (n) { return n.toLocaleString('en-US'); };
    nb.dataset.visible = String(s.visible); nb.dataset.hidden = String(s.hidden);
    nb.dataset.outlined = String(s.outlined); nb.dataset.outlinePx = String(OUTLINE_PX);
    var text = fmt(s.visible) + ' of ' + fmt(this.view.R) + ' regions in view; each pixel shows the region ' +
      'at its centre. ';
    if (s.hidden) {
      text += fmt(s.hidden) + ' regions are too small to contain a pixel centre at this zoom: they cannot be ' +
        'seen and are not painted; zoom in (drag a box or scroll) to see them. ';
    } else text += 'Every region in view is painted. ';
    if (s.outlined < s.visible) {
      text += 'Outlines are drawn only around the ' + fmt(s.outlined) + ' regions at least ' + OUTLINE_PX +
        ' pixels across. ';
    } else text += 'Every region in view has its outline. ';
    nb.textContent = text + 'Hovering and clicking find every region, however small.';
  };
  ComplexWidget.prototype.dataCoords = function (ev) {
    var fl = this.div._fullLayout;
    if (!fl || !fl.xaxis) return null;
    var xa = fl.xaxis, ya = fl.yaxis, rect = this.div.getBoundingClientRect();
    var px = ev.clientX - rect.left - xa._offset, py = ev.clientY - rect.top - ya._offset;
    if (px < 0 || py < 0 || px > xa._length || py > ya._length) return null;
    return [xa.p2l(px), ya.p2l(py)];
  };
  ComplexWidget.prototype._move = function (ev) {
    var p = this.dataCoords(ev), r = p ? this.view.locate(p[0], p[1]) : -1;
    if (r < 0) { this.tip.style.display = 'none'; return; }
    this.hover(r, ev.clientX - this.wrap.getBoundingClientRect().left,
               ev.clientY - this.wrap.getBoundingClientRect().top);
  };
  ComplexWidget.prototype.hover = function (r, x, y) {
    this.tip.textContent = this.view.hoverText(r);
    this.tip.dataset.region = String(r);
    this.tip.style.display = 'block';
    var w = this.wrap.clientWidth;
    this.tip.style.left = Math.min(x + 14, Math.max(0, w - 380)) + 'px';
    this.tip.style.top = (y + 14) + 'px';
    return this.tip.textContent;
  };
  ComplexWidget.prototype.selectRegion = function (r) {
    var v = this.view, cx = v.cx;
    this.selected = r; this.selectedView = v; this.neighbours = [];
    var panel = this.panel;
    if (!panel) { this.painter.drawOverlay(); return; }
    panel.innerHTML = '';
    panel.appendChild(el('h3', null, 'Region ' + r + ' (cell ' + (cx.first_region_cell + r) + ')'));
    panel.appendChild(el('pre', null, v.hoverText(r)));
    var neighbours = [];
    if (cx.details && v.exact()) {
      var d = cx.details, chars = v.signChars(r), names = cx.entry_names;
      var verts = d.vertices, self = this;
      var lo = v.rep[r], hi = v.rep[r + 1];
      panel.appendChild(el('h4', null, 'Facets (' + (hi - lo) + ' edges)'));
      var ul = el('ul', { 'class': 'ec-facets' });
      for (var k = lo; k < hi; k++) {
        var e = v.re[k], es = chars.slice(), on = [];
        for (var z = v.ezp[e]; z < v.ezp[e + 1]; z++) {
          var idx = v.ezi[z];
          if (es[idx] !== '0') on.push(names[idx]);
          es[idx] = '0';
        }
        var li = el('li');
        var text = 'edge cell ' + (d.edge_cell_start + e) + ': sign vector ' + v.grouped(es) +
          '; lies on ' + (on.length ? on.join(', ') + ' = 0' : '(no new zero)');
        if (verts) text += '; endpoints (' + verts[v.ev[2 * e]] + ') and (' + verts[v.ev[2 * e + 1]] + ')';
        li.appendChild(el('span', null, text + '; across it: '));
        var other = v.es[2 * e] === r ? v.es[2 * e + 1] : v.es[2 * e];
        if (other < 0) li.appendChild(el('span', null, 'the domain boundary'));
        else {
          neighbours.push(other);
          var a = el('a', { href: '#', 'data-region': String(other) }, 'region ' + other);
          a.addEventListener('click', (function (o) {
            return function (evt) { evt.preventDefault(); self.selectRegion(o); };
          })(other));
          li.appendChild(a);
        }
        ul.appendChild(li);
      }
      panel.appendChild(ul);
      panel.appendChild(el('p', null, 'Neighbours: ' + (neighbours.length ? neighbours.join(', ') : 'none')));
      if (!verts) {
        panel.appendChild(el('p', { 'class': 'ec-note' }, 'Exact vertex coordinates are left out of this ' +
          'page: their text exceeds ' + d.vertex_text_budget + ' characters.'));
      }
    } else if (cx.details) {
      panel.appendChild(el('p', { 'class': 'ec-note' }, 'The exact data is being unpacked: click again in a moment.'));
    } else {
      panel.appendChild(el('p', { 'class': 'ec-note' }, 'Facets and neighbours: see the report of ' +
        '`exactcells analyze` on this network.'));
    }
    this.neighbours = neighbours;
    this.painter.drawOverlay();
    panel.dataset.region = String(r);
  };

  // -- tables and diagrams ------------------------------------------------------------------
  function table(rows, head) {
    var t = el('table', { 'class': 'ec-table' });
    if (head) {
      var tr = el('tr');
      head.forEach(function (h) { tr.appendChild(el('th', null, h)); });
      t.appendChild(tr);
    }
    rows.forEach(function (row) {
      var tr = el('tr');
      row.forEach(function (c) { tr.appendChild(el('td', null, String(c))); });
      t.appendChild(tr);
    });
    return t;
  }
  function diagram(div, pers) {
    var traces = [], top = 0, lo = Infinity;
    pers.dims.forEach(function (d) {
      d.birth.forEach(function (b, i) {
        lo = Math.min(lo, b); top = Math.max(top, b);
        if (d.death[i] !== null) top = Math.max(top, d.death[i]);
      });
    });
    if (!isFinite(lo)) { lo = 0; top = 1; }
    var pad = (top - lo) * 0.08 || 1, inf = top + pad;
    pers.dims.forEach(function (d) {
      traces.push({ type: 'scatter', mode: 'markers', name: 'H' + d.k + ' (' + d.birth.length + ')',
        x: d.birth, y: d.death.map(function (v) { return v === null ? inf : v; }),
        text: d.text, hoverinfo: 'text', marker: { size: 8, symbol: d.k ? 'diamond' : 'circle' } });
    });
    traces.push({ type: 'scatter', mode: 'lines', x: [lo - pad, inf], y: [lo - pad, inf], hoverinfo: 'skip',
      line: { color: 'grey', width: 1 }, showlegend: false });
    traces.push({ type: 'scatter', mode: 'lines', x: [lo - pad, inf], y: [inf, inf], hoverinfo: 'skip',
      line: { color: 'grey', width: 1, dash: 'dot' }, name: 'death = ∞' });
    return Plotly.newPlot(div, traces, {
      title: { text: pers.description, font: { size: 12 } }, hovermode: 'closest',
      xaxis: { title: { text: 'birth (float view)' } }, yaxis: { title: { text: 'death (float view)' } },
      margin: { l: 50, r: 10, t: 40, b: 40 }, legend: { orientation: 'h', y: -0.2 }
    }, { responsive: true, displaylogo: false });
  }

  // -- the two pages ------------------------------------------------------------------------
  function analysisPage(root) {
    var left = el('div', { 'class': 'ec-col ec-main', id: 'ec-complex' });
    var right = el('div', { 'class': 'ec-col ec-side' });
    var row = el('div', { 'class': 'ec-row' });
    row.appendChild(left); row.appendChild(right); root.appendChild(row);
    var panel = el('div', { 'class': 'ec-panel', id: 'ec-panel' });
    var w = new ComplexWidget(left, panel);
    left.appendChild(panel);
    right.appendChild(el('h2', null, 'Betti numbers (Z/2)'));
    right.appendChild(table(DATA.betti.rows, DATA.betti.head));
    right.appendChild(el('h2', null, 'Persistence diagram'));
    var dg = el('div', { id: 'ec-diagram', 'class': 'ec-diagram' });
    right.appendChild(dg);
    root.appendChild(el('h2', null, 'Summary'));
    root.appendChild(table(DATA.summary, ['quantity', 'value']));
    var drawn = [];
    if (DATA.complex) drawn.push(w.show(DATA.complex, DATA.complex_title));
    else left.replaceChildren(el('p', { 'class': 'ec-note' }, 'No interactive picture for this complex (see the notes above).'));
    if (DATA.persistence) drawn.push(diagram(dg, DATA.persistence));
    else dg.textContent = 'no persistence diagram';
    return { widget: w, drawn: Promise.all(drawn) };
  }

  function trainingPage(root) {
    var ctl = el('div', { 'class': 'ec-bar' });
    var play = el('button', { id: 'ec-play' }, '▶ play');
    var slider = el('input', { type: 'range', id: 'ec-slider', min: '0', max: String(DATA.frames.length - 1),
      step: '1', value: '0' });
    var label = el('span', { id: 'ec-epoch' });
    ctl.appendChild(play); ctl.appendChild(el('span', null, ' epoch ')); ctl.appendChild(slider);
    ctl.appendChild(label);
    root.appendChild(ctl);
    var row = el('div', { 'class': 'ec-row' });
    var left = el('div', { 'class': 'ec-col ec-main', id: 'ec-complex' });
    var right = el('div', { 'class': 'ec-col ec-side' });
    var curves = el('div', { id: 'ec-curves', 'class': 'ec-curves' });
    right.appendChild(curves);
    row.appendChild(left); row.appendChild(right); root.appendChild(row);
    var panel = el('div', { 'class': 'ec-panel', id: 'ec-panel' });
    var w = new ComplexWidget(left, panel);
    left.appendChild(panel);
    var C = DATA.curves, traces = [], n = C.panels.length, gap = 0.03, layout = {
      hovermode: 'x', showlegend: true, margin: { l: 60, r: 10, t: 20, b: 40 },
      legend: { orientation: 'h', y: -0.1 }, height: 170 * n + 110,
      xaxis: { title: { text: 'epoch' }, anchor: 'y' + (n > 1 ? n : '') },
      shapes: [{ type: 'line', xref: 'x', yref: 'paper', x0: 0, x1: 0, y0: 0, y1: 1,
                 line: { color: '#d62728', width: 2 } }]
    };
    C.panels.forEach(function (p, i) {
      var ax = i ? String(i + 1) : '';
      p.series.forEach(function (s) {
        traces.push({ type: 'scatter', mode: 'lines+markers', x: C.epoch, y: s.values, name: s.name,
          xaxis: 'x', yaxis: 'y' + ax, marker: { size: 4 } });
      });
      layout['yaxis' + ax] = { title: { text: p.title, font: { size: 11 } }, type: p.log ? 'log' : 'linear',
        domain: [(n - 1 - i) / n + gap, (n - i) / n - gap], anchor: 'x' };
    });
    var drawn = [Plotly.newPlot(curves, traces, layout, { responsive: true, displaylogo: false })];
    function go(i) {
      var f = DATA.frames[i];
      if (!f) return Promise.resolve();
      slider.value = String(i);
      label.textContent = ' ' + f.epoch + ' (' + (i + 1) + '/' + DATA.frames.length + ')';
      root.dataset.frame = String(i);
      return Promise.all([w.show(f.complex, f.title),
                          Plotly.relayout(curves, { 'shapes[0].x0': f.epoch, 'shapes[0].x1': f.epoch })]);
    }
    slider.addEventListener('input', function () { go(+slider.value); });
    curves.on('plotly_click', function (ev) {
      var e = ev.points[0].x, best = 0;
      DATA.frames.forEach(function (f, i) {
        if (Math.abs(f.epoch - e) < Math.abs(DATA.frames[best].epoch - e)) best = i;
      });
      go(best);
    });
    var timer = null;
    play.addEventListener('click', function () {
      if (timer) { clearInterval(timer); timer = null; play.textContent = '▶ play'; return; }
      play.textContent = '❚❚ pause';
      timer = setInterval(function () { go((+slider.value + 1) % DATA.frames.length); }, 600);
    });
    if (DATA.frames.length) drawn.push(go(0));
    else { ctl.style.display = 'none'; left.style.display = 'none'; }
    return { widget: w, go: go, drawn: Promise.all(drawn) };
  }

  var root = document.getElementById('ec-root');
  var api = { data: DATA, timing: T };
  window.exactcellsReport = api;
  function start() {
    T.unpacked = performance.now();
    var page = DATA.kind === 'analysis' ? analysisPage(root) : trainingPage(root);
    api.widget = page.widget;
    if (page.go) api.go = page.go;
    api.hoverRegion = function (r) { return api.widget.hover(r, 20, 20); };
    api.selectRegion = function (r) { api.widget.selectRegion(r); return api.widget.panel.textContent; };
    api.scriptMs = performance.now();
    return page.drawn;
  }
  // "ready": plotly has drawn every plot and the regions are painted (ms since navigation start)
  var packed, later = [];
  try { packed = unpack(DATA, [], EXACT, later); } catch (e) {
    root.appendChild(el('p', { 'class': 'ec-note' }, 'This browser cannot unpack the page\'s data ' +
      '(it needs DecompressionStream: Chrome 80, Firefox 113, Safari 16.4 or later).'));
    throw e;
  }
  Promise.all(packed).then(start).then(function () {
    api.readyMs = performance.now();
    api.ready = true;
    document.body.dataset.ready = '1';
    // then the exact texts ("exactReady": hover and click show them)
    var exact = [];
    later.forEach(function (it) {
      if (isPacked(it.node[it.k])) inflate(it.node, it.k, exact);
      else unpack(it.node[it.k], exact, null, null);
    });
    return Promise.all(exact);
  }).then(function () {
    exactReady = true;
    api.exactMs = performance.now();
    api.exactReady = true;
  }, function (e) { console.error(e); });
})();
