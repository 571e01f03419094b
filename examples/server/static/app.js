// Power Search page: plain JavaScript over the /v1 API, no build step.
"use strict";

// The search-box fields, as search.ParseBox reads them ("dept" is an alias).
const FIELDS = ["department", "dept", "division", "office", "tag", "group", "status", "sort", "limit"];
const SINGLE = ["status", "sort", "limit"];
const $ = (id) => document.getElementById(id);
const state = { org: "", cursors: [""], page: 0, next: null };

function token() { return sessionStorage.getItem("dirsync-token") || ""; }

async function api(method, path) {
  const headers = { "Accept": "application/json" };
  if (token()) headers["Authorization"] = "Bearer " + token();
  const res = await fetch(path, { method, headers });
  let body = null;
  try { body = await res.json(); } catch (e) { /* empty body */ }
  if (!res.ok) {
    if (res.status === 401) $("token-box").open = true;
    const msg = body && body.error ? body.error.message : res.statusText;
    throw new Error(msg);
  }
  return { status: res.status, body };
}

// parseBox turns the search-box syntax into URL parameters, as the server's
// search.ParseBox does: field:value, field:"quoted value", and free text.
function parseBox(s) {
  const params = new URLSearchParams();
  const text = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i])) i++;
    if (i >= s.length) break;
    const start = i;
    const m = /^([a-z_]+):/.exec(s.slice(i));
    if (m) {
      const field = m[1];
      if (!FIELDS.includes(field)) throw new Error(`unknown field "${field}" at position ${start + 1}`);
      i += m[0].length;
      let value = "";
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i++];
        }
        if (i >= s.length) throw new Error(`unterminated quote at position ${start + 1}`);
        i++;
      } else {
        while (i < s.length && !/\s/.test(s[i])) value += s[i++];
      }
      const name = field === "dept" ? "department" : field;
      if (value) {
        if (SINGLE.includes(name)) params.set(name, value);
        else params.append(name, value);
      }
      continue;
    }
    let word = "";
    while (i < s.length && !/\s/.test(s[i])) word += s[i++];
    text.push(word);
  }
  if (text.length) params.set("q", text.join(" "));
  return params;
}

function quote(v) { return /[\s"]/.test(v) ? '"' + v.replace(/["\\]/g, "\\$&") + '"' : v; }

function showError(msg) {
  const el = $("error");
  el.textContent = msg || "";
  el.hidden = !msg;
}

function params() {
  const p = parseBox($("q").value);
  if (!p.has("status")) p.set("status", $("status").value);
  return p;
}

async function search(resetPaging) {
  showError("");
  let p;
  try { p = params(); } catch (e) { showError(e.message); return; }
  if (resetPaging) { state.cursors = [""]; state.page = 0; }
  const cursor = state.cursors[state.page];
  const sp = new URLSearchParams(p);
  if (cursor) sp.set("cursor", cursor);
  try {
    const [users, facets] = await Promise.all([
      api("GET", `/v1/orgs/${encodeURIComponent(state.org)}/users?${sp}`),
      api("GET", `/v1/orgs/${encodeURIComponent(state.org)}/facets?${p}`),
    ]);
    renderUsers(users.body);
    renderFacets(facets.body, p);
  } catch (e) { showError(e.message); }
}

function renderUsers(body) {
  const tbody = $("people").querySelector("tbody");
  tbody.replaceChildren();
  for (const u of body.data) {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "link person";
    btn.textContent = `${u.first_name} ${u.last_name}`.trim() || u.email || u.id;
    btn.addEventListener("click", () => showPerson(u.id));
    name.append(btn);
    tr.append(name);
    for (const v of [u.email, u.department, u.office, u.title]) {
      const td = document.createElement("td");
      td.textContent = v || "";
      tr.append(td);
    }
    tbody.append(tr);
  }
  state.next = body.next_cursor;
  $("next").disabled = !state.next;
  $("prev").disabled = state.page === 0;
  $("page-no").textContent = `Page ${state.page + 1}`;
  $("summary").textContent = body.data.length === 0 ? "No one matches." :
    `Showing ${body.data.length} ${body.data.length === 1 ? "person" : "people"}${state.next ? " (more on the next page)" : ""}.`;
}

function renderFacets(f, p) {
  const nav = $("facets");
  nav.replaceChildren();
  const groups = [["Department", "department", f.department], ["Division", "division", f.division],
    ["Office", "office", f.office]];
  for (const [name, vals] of Object.entries(f.tag_fields || {})) groups.push([name.replace(/_/g, " "), "tag", vals]);
  for (const [label, field, counts] of groups) {
    const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    if (!entries.length) continue;
    const sec = document.createElement("section");
    const h = document.createElement("h3");
    h.textContent = label;
    h.id = "facet-" + label.replace(/\W+/g, "-").toLowerCase();
    sec.setAttribute("aria-labelledby", h.id);
    const ul = document.createElement("ul");
    for (const [value, n] of entries.slice(0, 12)) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "facet";
      const on = p.getAll(field).includes(value);
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.dataset.field = field;
      b.dataset.value = value;
      b.textContent = `${value} (${n})`;
      b.addEventListener("click", () => toggleFacet(field, value, on));
      li.append(b);
      ul.append(li);
    }
    sec.append(h, ul);
    nav.append(sec);
  }
}

function toggleFacet(field, value, on) {
  const token = `${field}:${quote(value)}`;
  let q = $("q").value;
  if (on) q = q.split(token).join(" ").replace(/\s+/g, " ").trim();
  else q = (q + " " + token).trim();
  $("q").value = q;
  search(true);
}

async function showPerson(id) {
  try {
    const { body: u } = await api("GET", `/v1/orgs/${encodeURIComponent(state.org)}/users/${encodeURIComponent(id)}`);
    const dl = $("detail-list");
    dl.replaceChildren();
    const rows = [["Name", `${u.first_name} ${u.last_name}`], ["Email", u.email], ["Title", u.title],
      ["Department", u.department], ["Division", u.division], ["Office", u.office],
      ["Status", u.active ? "Active" : "Inactive"], ["Groups", (u.groups || []).map((g) => g.name).join(", ")]];
    for (const [field, vals] of Object.entries(u.tag_fields || {})) rows.push([field.replace(/_/g, " "), vals.join(", ")]);
    rows.push(["ID", u.id], ["External ID", u.external_id]);
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v || "—";
      dl.append(dt, dd);
    }
    $("detail").hidden = false;
    $("detail").focus();
  } catch (e) { showError(e.message); }
}

function describeRun(r) {
  if (!r) return "Never synced.";
  const when = r.finished_at || r.started_at;
  let s = `Last sync (${r.mode}) ${r.status} at ${new Date(when).toLocaleString()}: ` +
    `${r.created} created, ${r.updated} updated, ${r.deactivated} deactivated, ${r.unchanged} unchanged`;
  if (r.status === "halted") s += ` — halted: ${r.halt_reason} (${r.held} deactivations held for approval)`;
  return s + ".";
}

async function loadOrgs() {
  const { body } = await api("GET", "/v1/orgs");
  const sel = $("org");
  sel.replaceChildren();
  for (const o of body.data) {
    const opt = document.createElement("option");
    opt.value = o.id;
    opt.textContent = o.name;
    sel.append(opt);
  }
  if (!state.org && body.data.length) state.org = body.data[0].id;
  sel.value = state.org;
  const cur = body.data.find((o) => o.id === state.org);
  $("last-run").textContent = describeRun(cur && cur.last_run);
}

async function runSync(dry) {
  const plan = $("plan");
  plan.replaceChildren();
  $("last-run").textContent = dry ? "Computing a preview…" : "Syncing…";
  try {
    const { body: run } = await api("POST", `/v1/orgs/${encodeURIComponent(state.org)}/sync?wait=60s${dry ? "&dry_run=1" : ""}`);
    if (dry) {
      const { body: full } = await api("GET", `/v1/orgs/${encodeURIComponent(state.org)}/sync/runs/${encodeURIComponent(run.id)}`);
      renderPlan(full);
      $("last-run").textContent = `Preview: ${full.status === "running" ? "still running" : `${full.created} to create, ${full.updated} to update, ${full.deactivated + full.held} to deactivate, ${full.unchanged} unchanged`}.`;
    } else {
      await loadOrgs();
      search(true);
    }
  } catch (e) { showError(e.message); await loadOrgs().catch(() => {}); }
}

function renderPlan(run) {
  const plan = $("plan");
  const items = run.plan || [];
  if (!items.length) { plan.textContent = "No changes."; return; }
  const table = document.createElement("table");
  table.id = "plan-table";
  const cap = document.createElement("caption");
  cap.textContent = `Planned changes (${items.length})`;
  table.append(cap);
  const head = document.createElement("tr");
  for (const h of ["Change", "External ID", "Before", "After"]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = h;
    head.append(th);
  }
  table.append(head);
  const fmt = (o) => o ? Object.entries(o).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join("; ") : "";
  for (const it of items.slice(0, 200)) {
    const tr = document.createElement("tr");
    for (const v of [it.kind, it.external_id, fmt(it.before), fmt(it.after)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    table.append(tr);
  }
  plan.replaceChildren(table);
}

document.addEventListener("DOMContentLoaded", async () => {
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search(true); });
  $("status").addEventListener("change", () => search(true));
  $("org").addEventListener("change", async () => { state.org = $("org").value; await loadOrgs(); search(true); });
  $("next").addEventListener("click", () => {
    if (!state.next) return;
    state.cursors[state.page + 1] = state.next;
    state.page++;
    search(false).then(() => $("results").focus());
  });
  $("prev").addEventListener("click", () => {
    if (state.page === 0) return;
    state.page--;
    search(false).then(() => $("results").focus());
  });
  $("detail-close").addEventListener("click", () => { $("detail").hidden = true; });
  $("run-sync").addEventListener("click", () => runSync(false));
  $("preview").addEventListener("click", () => runSync(true));
  $("token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    sessionStorage.setItem("dirsync-token", $("token").value);
    $("token").value = "";
    $("token-box").open = false;
    await start();
  });
  await start();
});

async function start() {
  try {
    await loadOrgs();
    await search(true);
  } catch (e) { showError(e.message); }
}
