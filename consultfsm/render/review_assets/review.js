// The design-review page's script (consultfsm.render.review inlines it).
// It only shows what Python computed: the model's rows, the edge of each row,
// and for each case the row every input took and the states after it. It
// never decides a transition itself. On the desk and CCM pages a case's steps
// are its run through the composition (`verify.ccm.case_states`): the desks'
// or the CCM's states and rows per input, as Python observed them. A loaded
// replay output is shown as it
// is: its events by consumer and, from `consultfsm replay --states`, the
// states and rows its `states` records name (a plain output has none).
(function () {
  "use strict";

  const model = JSON.parse(document.getElementById("model").textContent);
  const rowsById = new Map(model.rows.map((r) => [r.id, r]));
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const nodeOf = (region, state) =>
    document.getElementById("n-" + model.machine + "-" + region + "__" + state);
  const edgeOf = (id) => (id ? document.getElementById(id) : null);
  const el = (tag, attrs, text) => {
    const out = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) out.setAttribute(k, v);
    if (text !== undefined) out.textContent = text;
    return out;
  };
  const regionTitle = new Map(model.regions.map((r) => [r.id, r.title]));
  const idOfKey = new Map(model.rows.map((r) => [r.key, r.id]));

  // --- pan and zoom: one per panel ------------------------------------------------
  const viewers = new Map();

  function panZoom(section) {
    const vp = $(".viewport", section);
    const svg = $("svg", vp);
    const width = svg.width.baseVal.value;
    const height = svg.height.baseVal.value;
    svg.style.width = width + "px";
    svg.style.height = height + "px";
    // A wide, flat region gets a flat panel: no screen spent on white space.
    const room = vp.getBoundingClientRect().width;
    vp.style.height = Math.round(Math.max(180, Math.min(460, (room * height) / width + 40))) + "px";
    let s = 1, x = 0, y = 0;
    const apply = () => {
      svg.style.transform = "translate(" + x + "px," + y + "px) scale(" + s + ")";
    };
    const fit = () => {
      const r = vp.getBoundingClientRect();
      s = Math.min(r.width / width, r.height / height, 1.25);
      x = (r.width - width * s) / 2;
      y = (r.height - height * s) / 2;
      apply();
    };
    const zoom = (factor, cx, cy) => {
      const r = vp.getBoundingClientRect();
      if (cx === undefined) { cx = r.width / 2; cy = r.height / 2; }
      const next = Math.max(0.05, Math.min(8, s * factor));
      x = cx - ((cx - x) * next) / s;
      y = cy - ((cy - y) * next) / s;
      s = next;
      apply();
    };
    const pan = (dx, dy) => { x += dx; y += dy; apply(); };
    // Centre an element of the drawing when it is not (fully) in view; with
    // `close`, also zoom in until its labels can be read.
    // An edge is found by its label (where its rows are read), not its curve.
    const box = (target) => {
      const texts = $$("text", target);
      if (!texts.length) return target.getBoundingClientRect();
      const rects = texts.map((t) => t.getBoundingClientRect());
      const left = Math.min(...rects.map((q) => q.left)), top = Math.min(...rects.map((q) => q.top));
      const right = Math.max(...rects.map((q) => q.right)), bottom = Math.max(...rects.map((q) => q.bottom));
      return { left, top, right, bottom, width: right - left, height: bottom - top };
    };
    const reveal = (target, close) => {
      const r = vp.getBoundingClientRect();
      const b = box(target);
      const inside = b.left >= r.left && b.right <= r.right && b.top >= r.top && b.bottom <= r.bottom;
      if (inside && !(close && s < 1)) return;
      if (close && s < 1) zoom(1 / s);
      else if (s < 0.6) zoom(0.6 / s);
      const c = box(target);
      pan(r.left + r.width / 2 - (c.left + c.width / 2), r.top + r.height / 2 - (c.top + c.height / 2));
    };
    vp.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = vp.getBoundingClientRect();
      zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    let drag = null;
    vp.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, moved: false };
    });
    vp.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!drag.moved) { drag.moved = true; vp.setPointerCapture(e.pointerId); vp.classList.add("dragging"); }
      drag.x = e.clientX; drag.y = e.clientY;
      pan(dx, dy);
    });
    const stop = () => {
      if (drag && drag.moved) vp.dataset.dragged = "1";
      drag = null;
      vp.classList.remove("dragging");
    };
    vp.addEventListener("pointerup", stop);
    vp.addEventListener("pointercancel", stop);
    vp.addEventListener("keydown", (e) => {
      const step = 60;
      const keys = {
        "+": () => zoom(1.2), "=": () => zoom(1.2), "-": () => zoom(1 / 1.2), "0": fit,
        ArrowLeft: () => pan(step, 0), ArrowRight: () => pan(-step, 0),
        ArrowUp: () => pan(0, step), ArrowDown: () => pan(0, -step),
      };
      if (keys[e.key]) { e.preventDefault(); e.stopPropagation(); keys[e.key](); }
    });
    for (const button of $$("[data-zoom]", section)) {
      button.addEventListener("click", () => {
        const how = button.dataset.zoom;
        if (how === "in") zoom(1.25);
        else if (how === "out") zoom(1 / 1.25);
        else fit();
      });
    }
    fit();
    return { fit, reveal };
  }

  function revealIn(target, close) {
    const section = target && target.closest(".panel");
    if (section && viewers.has(section)) viewers.get(section).reveal(target, close);
  }

  // --- states, rows and edges ------------------------------------------------------
  const tbody = $("#rows tbody");
  const caption = $("#rows-caption");

  function clear(cls) {
    for (const n of $$("." + cls)) n.classList.remove(cls);
  }

  // Identifiers may break after an underscore, never inside a word.
  function cellText(td, text) {
    (text || "").split("_").forEach((part, i) => {
      if (i) { td.append("_"); td.append(el("wbr")); }
      td.append(part);
    });
    return td;
  }
  const cell = (text) => cellText(el("td"), text);

  // Scroll a container (not the window) so that `target` is inside it.
  function within(box, target) {
    const b = box.getBoundingClientRect(), t = target.getBoundingClientRect();
    const head = $(".player-head", box);
    const top = b.top + (head ? head.getBoundingClientRect().height : 0);
    if (t.top < top) box.scrollTop -= top - t.top + 8;
    else if (t.bottom > b.bottom) box.scrollTop += t.bottom - b.bottom + 8;
  }

  function selectState(region, state) {
    clear("selected"); clear("hl"); clear("picked");
    for (const b of $$(".state-button")) {
      const on = b.dataset.region === region && b.dataset.state === state;
      b.setAttribute("aria-pressed", on ? "true" : "false");
    }
    const node = nodeOf(region, state);
    if (node) node.classList.add("selected");
    const rows = model.rows.filter((r) => r.region === region && r.source === state);
    tbody.textContent = "";
    for (const r of rows) {
      const tr = el("tr", {
        tabindex: "0", "data-row": r.id, "data-key": r.key, class: "disp-" + r.disposition,
        "aria-label": r.input + " to " + r.target + ", " + r.disposition,
      });
      tr.append(cell(r.input), cell(r.guards), cell(r.target), cell(r.events.join(", ")),
        cell(r.timers), cell(r.disposition));
      tr.addEventListener("click", () => selectRow(r.id));
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); selectRow(r.id); }
        if (e.key === "ArrowDown" && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
        if (e.key === "ArrowUp" && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
      });
      tbody.append(tr);
      const edge = edgeOf(r.edge);
      if (edge) edge.classList.add("hl");
    }
    caption.textContent = rows.length + " row(s) leave " + state + " in " +
      (regionTitle.get(region) || region) + ". Select a row to light up its edge.";
    document.body.dataset.selected = region + "/" + state;
  }

  // A new case, output or leg: nothing of the last one stays selected.
  function clearSelection() {
    clear("selected"); clear("hl"); clear("picked");
    for (const b of $$(".state-button")) b.setAttribute("aria-pressed", "false");
    tbody.textContent = "";
    caption.textContent = "Select a state (in a diagram or with its button) to list the rows that leave it.";
  }

  function selectRow(id) {
    const r = rowsById.get(id);
    if (!r) return;
    clear("picked");
    for (const tr of $$("tr[data-row]", tbody)) {
      const on = tr.dataset.row === id;
      tr.classList.toggle("picked", on);
      tr.setAttribute("aria-selected", on ? "true" : "false");
    }
    const target = edgeOf(r.edge) || nodeOf(r.region, r.source);
    if (target) { target.classList.add("picked"); revealIn(target); }
  }

  // --- stepping a case or a loaded replay output ---------------------------------------
  const player = { kind: "case", title: "", start: null, steps: [], lanes: [], pos: 0,
    states: false, subjects: [], note: "", composed: false };
  const select = $("#case-select");
  const subjectSelect = $("#subject-select");
  const strip = $("#state-strip");
  const lanesBox = $("#lanes");

  function traceLane(to) {
    if (to.startsWith("agentdesk:")) return "AgentDesk " + to.slice("agentdesk:".length);
    const names = { ccm: "CCM", conversation: "Conversation topic", routing_engine: "Routing Engine",
      agent_manager: "Agent Manager", host: "Host (timers, replay)" };
    return names[to] || to;
  }

  function loadCase(name) {
    const c = model.cases.find((x) => x.name === name);
    if (!c) return;
    Object.assign(player, {
      kind: "case", title: c.name + " (" + c.source + "): " + c.title, start: c.start,
      steps: c.steps.map((s) => Object.assign({}, s, { rows: s.rows || (s.row ? [s.row] : []) })),
      lanes: c.lanes || model.lanes, pos: 0, states: true, subjects: [], composed: !!c.composed,
    });
    subjectSelect.closest("label").hidden = true;
    clearSelection();
    render();
  }

  // --- a `--states` output: which machine of which leg this page shows ----------------
  // The `states` records name, per leg, the leg model's, the CCM's and each
  // AgentDesk's state and rows; this page's machine picks its part.
  function subjectsOf(states) {
    const out = [];
    const add = (value, text) => { if (!out.some((x) => x.value === value)) out.push({ value, text }); };
    for (const r of states) {
      if (model.machine === "leg" && r.leg_model) add(r.leg, "leg " + r.leg);
      if (model.machine === "ccm" && r.ccm) add(r.leg, "leg " + r.leg);
      if (model.machine === "desk") {
        for (const d of r.desks) add(JSON.stringify([r.leg, d.agent]), "leg " + r.leg + ", " + d.agent + "'s desk (" + d.role + ")");
      }
    }
    return out;
  }

  function partOf(r, subject) {
    if (model.machine === "desk") {
      const [leg, agent] = JSON.parse(subject);
      const d = r.leg === leg ? r.desks.find((x) => x.agent === agent) : null;
      return d ? { state: { [d.role]: d.state.call, page: d.state.page }, rows: d.rows } : null;
    }
    if (r.leg !== subject) return null;
    return model.machine === "leg" ? r.leg_model : r.ccm;
  }

  // Each step's state is the subject's last named one (carried over the
  // steps that did not touch it); its rows are those its records name.
  function applySubject(subject) {
    let last = null;
    for (const s of player.steps) {
      s.rows = [];
      for (const r of s.states) {
        const part = partOf(r, subject);
        if (!part) continue;
        last = part.state;
        for (const key of part.rows) if (idOfKey.has(key)) s.rows.push(idOfKey.get(key));
      }
      s.state = last;
    }
  }

  function recordLabel(r) {
    const extra = ["intent", "reason", "timer", "input", "disposition"]
      .filter((k) => r[k] !== undefined && r[k] !== null).map((k) => r[k]);
    return (r.leg ? r.leg + ": " : "") + r.event + (extra.length ? "(" + extra.join(", ") + ")" : "");
  }

  function loadTrace(name, text) {
    const records = [];
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].trim()) continue;
      try { records.push(JSON.parse(lines[i])); } catch (err) {
        $("#step-text").textContent = name + ": line " + (i + 1) + " is not JSON; nothing loaded.";
        return;
      }
    }
    const states = records.filter((r) => r.to === "review");
    const steps = [];
    if (states.length) {
      // One step per input: its records, up to its `states` records.
      let cur = { events: [], states: [] };
      for (const r of records) {
        if (r.to === "review") { cur.states.push(r); continue; }
        if (cur.states.length) { steps.push(cur); cur = { events: [], states: [] }; }
        cur.events.push(r);
      }
      if (cur.events.length || cur.states.length) steps.push(cur);
      for (const s of steps) {
        const last = s.states[s.states.length - 1];
        s.at = last ? last.at : s.events[s.events.length - 1].at;
        s.input = last ? "line " + last.line + " (" + last.input + ")" : "";
      }
    } else {
      // One step per instant: the records of consecutive lines with the same `at`.
      for (const r of records) {
        const last = steps[steps.length - 1];
        if (last && last.at === r.at) last.events.push(r);
        else steps.push({ at: r.at, events: [r], states: [] });
      }
    }
    const order = ["ccm", "conversation", "routing_engine", "agent_manager", "host"];
    const seen = [];
    for (const r of records) if (r.to !== "review" && !seen.includes(r.to)) seen.push(r.to);
    const rank = (to) => (to.startsWith("agentdesk:") ? -1 : order.indexOf(to));
    const lanes = seen.map((to, i) => ({ to, name: traceLane(to), i }))
      .sort((a, b) => rank(a.to) - rank(b.to) || a.i - b.i);
    for (const s of steps) {
      const legs = [...new Set(s.events.map((e) => e.leg).filter((l) => l))];
      s.text = (s.input ? s.input + ": " : "") + s.events.length + " record(s)" +
        (legs.length ? " of " + legs.join(", ") : "");
      s.events = s.events.map((e) => ({ to: e.to, event: e.event, label: recordLabel(e) }));
    }
    const subjects = subjectsOf(states);
    const machineName = { leg: "leg model", ccm: "CCM", desk: "AgentDesk" }[model.machine];
    const note = !states.length
      ? "This replay output carries no states (run consultfsm replay --states): its events by consumer are below."
      : !subjects.length
        ? "This output names no " + machineName + " state" + (model.machine === "desk"
          ? ": only agent_desk agents have an AgentDesk machine (CTI-driven legs' desks are stand-ins)."
          : ".")
        : "No " + machineName + " state of the shown leg yet.";
    Object.assign(player, {
      kind: "trace", title: "replay output " + name + " (" + (records.length - states.length) +
        " records" + (states.length ? ", " + states.length + " states" : "") + ")",
      start: null, steps, lanes, pos: 0, states: subjects.length > 0, subjects, note,
      composed: false,
    });
    subjectSelect.textContent = "";
    for (const x of subjects) subjectSelect.append(el("option", { value: x.value }, x.text));
    subjectSelect.closest("label").hidden = subjects.length < 1;
    if (subjects.length) applySubject(subjects[0].value);
    clearSelection();
    let option = $("option[value='__trace__']", select);
    if (!option) { option = el("option", { value: "__trace__" }); select.append(option); }
    option.textContent = "loaded: " + name;
    select.value = "__trace__";
    render();
  }

  function stateAt(pos) {
    return pos === 0 ? player.start : player.steps[pos - 1].state || null;
  }

  function render() {
    const n = player.steps.length, pos = player.pos;
    document.body.dataset.player = player.kind;
    document.body.dataset.position = String(pos);
    $("#position").textContent = n ? "step " + pos + " of " + n : "";
    $("#first").disabled = $("#prev").disabled = pos === 0;
    $("#next").disabled = $("#last").disabled = pos >= n;
    const step = pos ? player.steps[pos - 1] : null;
    const text = $("#step-text");
    text.textContent = "";
    text.append(el("strong", {}, player.title));
    text.append(el("br"));
    if (!step) text.append(document.createTextNode(n ? "Before the first input. Press n or → to step." : ""));
    else if (player.kind === "case" && !player.composed) {
      const row = step.row ? rowsById.get(step.row) : null;
      text.append(document.createTextNode("t=" + step.at + " ms: " + step.text + ": " +
        step.disposition + (row ? " by row " + row.key : step.error ? " (" + step.error + ")" : ", no row (rule 5 or 8)")));
    } else {
      text.append(document.createTextNode("t=" + step.at + " ms: " + step.text));
      if (player.states) {
        const none = player.composed
          ? (model.machine === "desk" ? "; no row taken by either desk" : "; no row taken by the CCM")
          : "; no row taken by the shown machine";
        text.append(document.createTextNode(step.rows.length ? "; rows taken: " : none));
        step.rows.forEach((id, i) => {
          if (i) text.append(document.createTextNode(", "));
          text.append(el("code", { class: "row-key", "data-key": rowsById.get(id).key }, rowsById.get(id).key));
        });
      }
    }

    // Region states, and the current state marked in each panel.
    clear("current"); clear("taken");
    strip.textContent = "";
    const states = stateAt(pos);
    if (states) {
      // One column per region: its name, then its state after this step.
      const names = el("tr"), values = el("tr");
      const before = stateAt(Math.max(0, pos - 1)) || {};
      for (const region of model.regions) {
        const value = states[region.id];
        names.append(el("th", { scope: "col" }, region.id));
        if (value === undefined) { // a desk's other role, or a machine not there yet
          values.append(el("td", { class: "absent", title: player.composed
            ? "no machine yet: it has not heard of the consult" : "not this desk's role" }, "\u2013"));
          continue;
        }
        if (typeof value === "object") { // the desk page's region page: each desk's own
          const td = el("td", { "data-region": region.id });
          for (const [role, state] of Object.entries(value)) {
            const part = el("span", { class: "part", "data-role": role, "data-state": state });
            part.append(el("b", {}, role.toUpperCase() + ": "));
            cellText(part, state);
            if (pos && (before[region.id] || {})[role] !== state) part.classList.add("changed");
            td.append(part);
            const node = nodeOf(region.id, state);
            if (node) node.classList.add("current");
          }
          values.append(td);
          continue;
        }
        const td = el("td", { "data-region": region.id, "data-state": value });
        cellText(td, value);
        if (pos && before[region.id] !== value) td.classList.add("changed");
        values.append(td);
        const node = nodeOf(region.id, value);
        if (node) node.classList.add("current");
      }
      strip.append(names, values);
    } else {
      const tr = el("tr");
      tr.append(el("td", {}, player.kind === "trace"
        ? (pos === 0 && player.states ? "Before the first input." : player.note)
        : "No case on this page."));
      strip.append(tr);
    }
    const taken = step ? step.rows || [] : [];
    if (taken.length) {
      // The last row taken is selected; every row taken is marked.
      const row = rowsById.get(taken[taken.length - 1]);
      selectState(row.region, row.source);
      selectRow(row.id);
      for (const id of taken) {
        const e = edgeOf(rowsById.get(id).edge);
        if (e) e.classList.add("taken");
      }
      const edge = edgeOf(row.edge);
      if ($("#follow").checked) {
        const target = edge || nodeOf(row.region, row.source);
        const panel = target && target.closest(".panel");
        if (panel) panel.scrollIntoView({ block: "nearest" });
        revealIn(target, true);
      }
      for (const id of taken) {
        const tr = $("tr[data-row='" + id + "']", tbody);
        if (tr) tr.classList.add("taken");
      }
    }

    // Lanes: every event up to this step, this step's marked.
    lanesBox.textContent = "";
    for (const lane of player.lanes) {
      const box = el("section", { class: "lane", "data-to": lane.to, "aria-label": lane.name });
      box.append(el("h3", {}, lane.name));
      const list = el("ol");
      player.steps.slice(0, pos).forEach((s, i) => {
        for (const e of s.events) {
          if (e.to !== lane.to) continue;
          const li = cellText(el("li", { "data-event": e.event, "data-step": String(i + 1) }), e.label);
          if (i + 1 === pos) li.classList.add("now");
          list.append(li);
        }
      });
      if (!list.children.length) box.classList.add("empty");
      box.append(list);
      lanesBox.append(box);
    }
    // Last, once the lanes have taken their height: the step's events and row in view.
    const now = $("li.now", lanesBox);
    if (now) within($("#player"), now);
    const takenRow = $("tr.taken", tbody);
    if (takenRow) within($("#rows-section"), takenRow);
  }

  function go(pos) {
    player.pos = Math.max(0, Math.min(player.steps.length, pos));
    render();
  }

  // --- wiring ----------------------------------------------------------------------------
  for (const section of $$(".panel")) viewers.set(section, panZoom(section));
  for (const b of $$(".state-button")) {
    b.setAttribute("aria-pressed", "false");
    // A state picked by name is brought into view, close enough to read.
    b.addEventListener("click", () => {
      selectState(b.dataset.region, b.dataset.state);
      const node = nodeOf(b.dataset.region, b.dataset.state);
      if (node) revealIn(node, true);
    });
  }
  for (const region of model.regions) {
    for (const state of region.states) {
      const node = nodeOf(region.id, state);
      if (!node) continue;
      node.classList.add("state");
      node.setAttribute("tabindex", "0");
      node.setAttribute("role", "button");
      node.setAttribute("aria-label", "state " + state + " of " + region.title);
      const pick = () => selectState(region.id, state);
      node.addEventListener("click", () => {
        const vp = node.closest(".viewport");
        if (vp.dataset.dragged) { delete vp.dataset.dragged; return; }
        pick();
      });
      node.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); e.stopPropagation(); pick(); }
      });
    }
  }
  for (const edgeId of Object.keys(model.edges)) {
    const edge = edgeOf(edgeId);
    const rows = model.edges[edgeId];
    if (!edge || !rows.length) continue;
    edge.classList.add("has-rows");
    edge.addEventListener("click", () => {
      const r = rowsById.get(rows[0]);
      selectState(r.region, r.source);
      selectRow(r.id);
    });
  }
  if (model.cases.length) {
    for (const c of model.cases) select.append(el("option", { value: c.name }, c.name + " (" + c.source + ")"));
  } else {
    select.append(el("option", { value: "" }, "none"));
  }
  select.addEventListener("change", () => {
    if (select.value && select.value !== "__trace__") loadCase(select.value);
  });
  subjectSelect.addEventListener("change", () => {
    if (player.kind !== "trace" || !subjectSelect.value) return;
    applySubject(subjectSelect.value);
    clearSelection();
    render();
  });
  $("#trace-input").addEventListener("change", (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => loadTrace(file.name, String(reader.result));
    reader.readAsText(file);
  });
  $("#first").addEventListener("click", () => go(0));
  $("#prev").addEventListener("click", () => go(player.pos - 1));
  $("#next").addEventListener("click", () => go(player.pos + 1));
  $("#last").addEventListener("click", () => go(player.steps.length));
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    // Form fields keep their keys; a diagram takes the arrows (it pans) and
    // stops them there, so n, p, Home and End still step from it.
    if (t.closest && t.closest("input, select, textarea")) return;
    const keys = {
      ArrowRight: () => go(player.pos + 1), n: () => go(player.pos + 1),
      ArrowLeft: () => go(player.pos - 1), p: () => go(player.pos - 1),
      Home: () => go(0), End: () => go(player.steps.length),
    };
    if (keys[e.key]) {
      e.preventDefault();
      keys[e.key]();
    }
  });

  // `leg.html#case=NAME` opens that case (the index links them so).
  const hashCase = () => {
    const wanted = /(?:^#|&)case=([^&]+)/.exec(location.hash);
    return wanted ? decodeURIComponent(wanted[1]) : "";
  };
  window.addEventListener("hashchange", () => {
    const name = hashCase();
    if (name) { select.value = name; loadCase(name); }
  });
  const first = hashCase() || (model.cases.length ? model.cases[0].name : "");
  if (first) { select.value = first; loadCase(first); } else render();
  document.body.dataset.ready = "1";
})();
