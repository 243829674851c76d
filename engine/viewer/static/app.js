// SpatialForge gallery (engine/viewer/gallery.py writes the data files this script reads).
// Data arrive through <script> tags (SF.setMeta, SF.addRows) so the page works from file://.
"use strict";
var SF = (function () {
  var rows = [], meta = null, shown = [];
  var state = {split: "", family: "", task: "", answer: "", factor: "", fvalue: "", q: "", wrong: false, page: 0};
  var KEYS = ["split", "family", "task", "answer", "factor", "fvalue", "q", "wrong", "page"];
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svgEl(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function readHash() {
    var h = location.hash.replace(/^#/, "");
    h.split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("="), k = decodeURIComponent(kv.slice(0, i)), v = decodeURIComponent(kv.slice(i + 1));
      if (KEYS.indexOf(k) < 0) return;
      state[k] = k === "wrong" ? v === "1" : k === "page" ? (parseInt(v, 10) || 0) : v;
    });
  }
  function writeHash() {
    var parts = [];
    KEYS.forEach(function (k) {
      var v = state[k];
      if (k === "wrong") v = v ? "1" : "";
      if (k === "page") v = v ? String(v) : "";
      if (v) parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
    });
    history.replaceState(null, "", "#" + parts.join("&"));
  }
  function factorValues(r, name) {
    var v = r.factors[name];
    if (v === undefined || v === null) return ["none"];
    return Array.isArray(v) ? v : [String(v)];
  }
  function matches(r) {
    if (state.split && r.split !== state.split) return false;
    if (state.family && r.family !== state.family) return false;
    if (state.task && r.task !== state.task) return false;
    if (state.answer && r.answer !== state.answer) return false;
    if (state.factor && state.fvalue && factorValues(r, state.factor).indexOf(state.fvalue) < 0) return false;
    if (state.wrong && meta.predictions && !(r.prediction && r.prediction.wrong)) return false;
    if (state.q && (r.question || "").toLowerCase().indexOf(state.q.toLowerCase()) < 0) return false;
    return true;
  }
  function fillSelect(id, pairs, value, allLabel) {
    var s = $(id);
    s.innerHTML = "";
    s.appendChild(el("option", {value: ""}, allLabel || "all"));
    if (value && !pairs.some(function (p) { return String(p[0]) === value; })) pairs = pairs.concat([[value, 0]]);
    pairs.forEach(function (p) {
      var o = el("option", {value: p[0]}, p[0] + (p[1] !== undefined ? " (" + p[1] + ")" : ""));
      s.appendChild(o);
    });
    s.value = value;
  }
  function fillFactorValues() {
    var pairs = state.factor ? (meta.facets.factors[state.factor] || []) : [];
    fillSelect("f-fvalue", pairs, state.fvalue, state.factor ? "any" : "-");
    $("f-fvalue").disabled = !state.factor;
  }
  function drawBoxes(frame, v) {
    if (!v.w || !v.h) return;
    var s = svgEl("svg", {"class": "ov boxes", viewBox: "0 0 " + v.w + " " + v.h, preserveAspectRatio: "none"});
    var fs = v.w / 22;  // about 12 screen pixels on a 256-pixel frame
    v.boxes.forEach(function (b) {
      var x = b.box[0], y = b.box[1], w = b.box[2] - b.box[0] + 1, h = b.box[3] - b.box[1] + 1;
      s.appendChild(svgEl("rect", {x: x, y: y, width: w, height: h, fill: "none", stroke: "#ff9f1c",
                                   "stroke-width": v.w / 130, "data-obj": b.id}));
      var t = svgEl("text", {x: x + 1, y: Math.max(fs, y - 2), fill: "#fff", stroke: "#000", "stroke-width": fs / 8,
                             "paint-order": "stroke", "font-size": fs, "font-family": "sans-serif"});
      t.textContent = b.n + " " + b.id + " " + b.name;
      s.appendChild(t);
    });
    frame.appendChild(s);
  }
  function card(r) {
    var c = el("div", {"class": "card", "data-id": r.id});
    var p = r.prediction;
    if (p && p.wrong) c.classList.add("wrong");
    var head = el("div", {"class": "head"});
    head.appendChild(el("b", null, r.family + " / " + r.task));
    head.appendChild(document.createTextNode("  " + r.split + "  " + r.id + "  " + r.template_id));
    c.appendChild(head);
    var media = el("div", {"class": "media"});
    var frames = el("div", {"class": "frames" + (r.views.length > 2 ? " strip" : "")});
    r.views.forEach(function (v) {
      var f = el("div", {"class": "frame"});
      if (v.img) f.appendChild(el("img", {"class": "rgb", src: v.img, alt: v.id, loading: "lazy"}));
      if (v.depth) f.appendChild(el("img", {"class": "ov depth", src: v.depth, alt: "depth"}));
      if (v.mask) f.appendChild(el("img", {"class": "ov mask", src: v.mask, alt: "instances"}));
      drawBoxes(f, v);
      if (r.views.length > 1) f.appendChild(el("span", {"class": "vid"}, v.id));
      frames.appendChild(f);
    });
    if (r.video) {  // the camera path's MP4 under its frame strip
      var col = el("div", {"class": "strip-col"});
      col.appendChild(frames);
      var vid = el("video", {"class": "path-video", src: r.video, controls: "", preload: "metadata"});
      col.appendChild(vid);
      media.appendChild(col);
    } else media.appendChild(frames);
    if (r.topdown) {
      var td = el("div", {"class": "topdown"});
      var a = el("a", {href: r.topdown, target: "_blank", title: "open the top-down plot full size"});
      a.appendChild(el("img", {src: r.topdown, alt: "top-down", loading: "lazy"}));
      td.appendChild(a);
      media.appendChild(td);
    }
    c.appendChild(media);
    var q = r.question || "";
    if (r.choices) {  // the options listed at the end of the question are drawn as a list below
      var lines = q.split("\n");
      while (lines.length > 1 && /^[A-Z]\. /.test(lines[lines.length - 1])) lines.pop();
      q = lines.join("\n");
    }
    c.appendChild(el(q.indexOf("\n") >= 0 ? "pre" : "div", {"class": "q"}, q));
    var picked = null;
    if (r.choices) {
      var ol = el("ol", {"class": "choices", type: "A"});
      if (p && p.text) { var m = /^\W*([A-Za-z])\b/.exec(p.text); if (m) picked = m[1].toUpperCase().charCodeAt(0) - 65; }
      r.choices.forEach(function (ch, i) {
        var li = el("li", null, ch);
        if (i === r.answer_index) li.classList.add("right");
        if (picked === i && i !== r.answer_index) li.classList.add("picked");
        ol.appendChild(li);
      });
      c.appendChild(ol);
    }
    var ans = el("div", {"class": "ans"});
    ans.appendChild(el("span", {"class": "k"}, "answer"));
    if (r.answer_type === "ascii" || (r.answer || "").indexOf("\n") >= 0) { c.appendChild(ans); c.appendChild(el("pre", {"class": "answer"}, r.answer)); }
    else { ans.appendChild(el("b", {"class": "answer"}, r.answer + (r.unit && (r.answer || "").indexOf(r.unit) < 0 ? " " + r.unit : ""))); c.appendChild(ans); }
    if (p) {
      var pd = el("div", {"class": "ans pred " + (p.wrong ? "bad" : "ok")});
      pd.appendChild(el("span", {"class": "k"}, "prediction"));
      var txt = p.text === null || p.text === undefined ? "(missing)" : p.text;
      var sc = " (score " + (100 * p.score).toFixed(0) + (p.answered && !p.parsed ? ", unparsed" : "") + ")";
      if (r.answer_type === "ascii" || String(txt).indexOf("\n") >= 0) { c.appendChild(pd); pd.appendChild(document.createTextNode(sc)); c.appendChild(el("pre", {"class": "prediction"}, txt)); }
      else { pd.appendChild(el("b", {"class": "prediction"}, txt)); pd.appendChild(document.createTextNode(sc)); c.appendChild(pd); }
    }
    if (r.rationale) c.appendChild(el("div", {"class": "why"}, r.rationale));
    var tags = el("div", {"class": "tags"});
    ["answer_type", "frame", "scene_id"].forEach(function (k) { if (r[k]) tags.appendChild(el("span", null, k + ": " + r[k])); });
    if (r.objects.length) tags.appendChild(el("span", null, "objects: " + r.objects.join(", ")));
    c.appendChild(tags);
    return c;
  }
  function render() {
    shown = rows.filter(matches);
    var ps = meta.page_size, pages = Math.max(1, Math.ceil(shown.length / ps));
    if (state.page >= pages) state.page = pages - 1;
    if (state.page < 0) state.page = 0;
    var box = $("cards");
    box.innerHTML = "";
    shown.slice(state.page * ps, (state.page + 1) * ps).forEach(function (r) { box.appendChild(card(r)); });
    if (!shown.length) box.appendChild(el("div", {"class": "empty"}, "No row matches the filters."));
    $("page").textContent = "page " + (state.page + 1) + " / " + pages;
    $("count").textContent = shown.length + " rows match (of " + rows.length + " in the gallery: up to " + meta.per_task + " per task sampled from the dataset's " + meta.dataset_rows + ")";
    $("count").setAttribute("data-count", shown.length);
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    writeHash();
  }
  function syncControls() {
    ["split", "family", "task", "answer", "factor"].forEach(function (k) { $("f-" + k).value = state[k]; });
    fillFactorValues();
    $("q").value = state.q;
    $("wrong").checked = state.wrong;
  }
  function start() {
    if (!meta) { document.body.textContent = "gallery data missing (data/meta.js)"; return; }
    var f = meta.facets;
    fillSelect("f-split", f.split, "");
    fillSelect("f-family", f.family, "");
    fillSelect("f-task", f.task, "");
    fillSelect("f-answer", f.answer, "");
    fillSelect("f-factor", Object.keys(f.factors).map(function (k) { return [k]; }), "", "-");
    if (meta.predictions) $("wrong-box").hidden = false;
    readHash();
    syncControls();
    ["split", "family", "task", "answer", "fvalue"].forEach(function (k) {
      $("f-" + k).addEventListener("change", function () { state[k] = this.value; state.page = 0; render(); });
    });
    $("f-factor").addEventListener("change", function () { state.factor = this.value; state.fvalue = ""; state.page = 0; fillFactorValues(); render(); });
    $("q").addEventListener("input", function () { state.q = this.value; state.page = 0; render(); });
    $("wrong").addEventListener("change", function () { state.wrong = this.checked; state.page = 0; render(); });
    $("prev").addEventListener("click", function () { state.page -= 1; render(); window.scrollTo(0, 0); });
    $("next").addEventListener("click", function () { state.page += 1; render(); window.scrollTo(0, 0); });
    ["boxes", "depth", "mask", "topdown"].forEach(function (k) {
      var cb = $("ov-" + k);
      var apply = function () { document.body.classList.toggle("show-" + k, cb.checked); };
      cb.addEventListener("change", apply);
      apply();
    });
    window.addEventListener("hashchange", function () { readHash(); syncControls(); render(); });
    render();
  }
  return {
    setMeta: function (m) { meta = m; },
    addRows: function (rs) { rows = rows.concat(rs); },
    start: start,
    shown: function () { return shown.map(function (r) { return r.id; }); },
  };
})();
