// The gateway's console: one page, two views (admin, user), driven by the gateway's own APIs.
// Everything shown is inserted as text (textContent, SVG text nodes), never as HTML; the page's
// Content-Security-Policy allows this file and the stylesheet only.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "gateway-console-key";
const SVG = "http://www.w3.org/2000/svg";
let keys = []; // the admin's key list, to name tenants

// --- helpers -------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "on") Object.entries(value).forEach(([event, fn]) => node.addEventListener(event, fn));
    else node.setAttribute(name, String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = "Bearer " + key;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data.error && data.error.message) || response.status + " " + response.statusText);
  return data;
}

const when = (epoch) => (epoch ? new Date(epoch * 1000).toISOString().replace("T", " ").slice(0, 16) + "Z" : "");
const dash = (value) => (value === null || value === undefined ? "—" : String(value));
const tenantName = (tenant) => {
  const key = keys.find((k) => k.tenant === tenant);
  return key ? key.name + " (" + key.id + ")" : tenant;
};

function fill(table, rows) {
  const body = $(table).tBodies[0];
  body.replaceChildren(...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c)))));
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 20, class: "empty" }, "none")));
}

function figures(list, pairs) {
  $(list).replaceChildren(...pairs.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, dash(value))]));
}

// A horizontal bar chart, as SVG: one row a group, its length the metric, its label and value as text.
function chart(target, groups, label, metric) {
  const rows = groups.map((g) => ({ label: String(g[label]), value: Number(g[metric]) || 0 }));
  const max = Math.max(1e-12, ...rows.map((r) => r.value));
  const width = 420, row = 22, labelWidth = 150, barWidth = width - labelWidth - 80;
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${Math.max(row, rows.length * row)}`, role: "img", width });
  rows.forEach((r, i) => {
    const y = i * row;
    const shown = metric === "cost_usd" ? "$" + r.value.toFixed(4) : r.value.toLocaleString("en");
    svg.append(
      el("svg:g", { class: "bar", "data-label": r.label, "data-value": r.value },
        el("svg:title", {}, `${r.label}: ${shown}`),
        el("svg:text", { x: 0, y: y + 15, class: "label" }, r.label.length > 22 ? r.label.slice(0, 21) + "…" : r.label),
        el("svg:rect", { x: labelWidth, y: y + 4, height: row - 8, width: Math.max(1, (r.value / max) * barWidth) }),
        el("svg:text", { x: labelWidth + (r.value / max) * barWidth + 6, y: y + 15, class: "value" }, shown)));
  });
  if (!rows.length) svg.append(el("svg:text", { x: 0, y: 15, class: "label" }, "no usage yet"));
  $(target).replaceChildren(svg);
}

// The hosted tool calls that ran, named only when there were some.
const HOSTED = [["web_search_requests", "web search", "es"], ["web_fetch_requests", "web fetch", "es"],
  ["mcp_calls", "MCP call", "s"]];
const hostedLine = (t) =>
  HOSTED.filter(([name]) => t[name]).map(([name, label, many]) => `, ${t[name]} ${label}${t[name] === 1 ? "" : many}`).join("");
const totalLine = (t) =>
  `${t.requests} requests, ${t.total_tokens.toLocaleString("en")} tokens${hostedLine(t)}, $${t.cost_usd.toFixed(4)}`;

// --- admin view ----------------------------------------------------------------------------
let adminUsage = null;

async function loadAdmin() {
  keys = (await api("GET", "/admin/keys")).data;
  fill("keys", keys.map((k) => {
    const p = k.policy;
    return [k.name, el("code", {}, k.id), p.models ? p.models.join(", ") : "all", dash(p.rpm), dash(p.max_concurrent),
      p.budget_usd === null ? "—" : `$${p.budget_usd}/${p.budget_period}`,
      p.token_budget === null ? "—" : `${p.token_budget}/${p.budget_period}`, when(k.created),
      el("span", { class: "row-actions" },
        el("button", { type: "button", class: "edit", "data-id": k.id, on: { click: () => editKey(k) } }, "Edit"),
        el("button", { type: "button", class: "revoke", "data-id": k.id, on: { click: () => revokeKey(k) } }, "Revoke"))];
  }));
  const [byKey, byModel, byDay, stats, sessions, errors] = await Promise.all([
    api("GET", "/admin/usage?group_by=key"), api("GET", "/admin/usage?group_by=model"),
    api("GET", "/admin/usage?group_by=day"), api("GET", "/v1/sessions/stats"), api("GET", "/admin/sessions"),
    api("GET", "/admin/errors?limit=20"),
  ]);
  byKey.by_key.forEach((g) => (g.key = tenantName(g.key.startsWith("gk_") ? "key-" + g.key : g.key)));
  adminUsage = { key: byKey.by_key, model: byModel.by_model, day: byDay.by_day };
  $("admin-usage-total").textContent = "this month: " + totalLine(byKey.total);
  drawAdminCharts();
  const p = stats.gateway.processes || {};
  figures("processes", [["live", `${p.live} of ${p.max_live}`], ["spares", p.spares], ["parked", p.parked],
    ["frozen", p.frozen], ["exiting", p.exiting], ["memory", `${p.memory_in_use_mib} MiB of ${p.memory_budget_mib} MiB`],
    ["spawned", p.spawned_total], ["spare hits", `${p.spare_hits} of ${p.spares_started} started`],
    ["conversations", stats.gateway.conversations], ["sessions", stats.sessions]]);
  fill("all-sessions", sessions.data.map((s) => [tenantName(s.tenant), el("code", {}, s.id), s.model, s.turns,
    s.message_count, when(s.last_used)]));
  fill("errors", errors.data.map((e) => [when(e.at), e.key_id ? tenantName("key-" + e.key_id) : e.tenant, e.door,
    e.model, dash(e.session_id), e.input_tokens + e.output_tokens, (e.duration_ms / 1000).toFixed(1) + " s", dash(e.error)]));
}

function drawAdminCharts() {
  const metric = $("metric").value;
  for (const by of ["key", "model", "day"]) chart("chart-" + by, adminUsage[by], by, metric);
}

function keyBody(creating) {
  const body = { name: $("f-name").value.trim(), budget_period: $("f-budget_period").value };
  const models = $("f-models").value.split(",").map((m) => m.trim()).filter(Boolean);
  body.models = models.length ? models : null;
  for (const field of ["rpm", "max_concurrent", "max_sessions", "max_processes", "budget_usd", "token_budget"]) {
    const value = $("f-" + field).value;
    if (value !== "" || !creating) body[field] = value === "" ? null : Number(value);
  }
  return body;
}

function editKey(key) {
  $("new-key").hidden = true;
  $("key-id").value = key.id;
  $("f-name").value = key.name;
  $("f-models").value = (key.policy.models || []).join(", ");
  for (const field of ["rpm", "max_concurrent", "max_sessions", "max_processes", "budget_usd", "token_budget"])
    $("f-" + field).value = key.policy[field] ?? "";
  $("f-budget_period").value = key.policy.budget_period;
  $("key-submit").textContent = "Save " + key.name;
  $("key-cancel").hidden = false;
}

function resetKeyForm() {
  $("key-form").reset();
  $("key-id").value = "";
  $("key-submit").textContent = "Create key";
  $("key-cancel").hidden = true;
}

async function submitKey(event) {
  event.preventDefault();
  $("key-error").textContent = "";
  const id = $("key-id").value;
  try {
    if (id) await api("PATCH", "/admin/keys/" + encodeURIComponent(id), keyBody(false));
    else {
      const created = await api("POST", "/admin/keys", keyBody(true));
      $("new-key-value").textContent = created.key;
      $("new-key").hidden = false;
    }
    resetKeyForm();
    await loadAdmin();
  } catch (error) {
    $("key-error").textContent = error.message;
  }
}

async function revokeKey(key) {
  if (!confirm(`Revoke ${key.name} (${key.id})? Its next request gets a 401 and its sessions end.`)) return;
  try {
    await api("DELETE", "/admin/keys/" + encodeURIComponent(key.id));
    await loadAdmin();
  } catch (error) {
    $("key-error").textContent = error.message;
  }
}

// --- user view -----------------------------------------------------------------------------
async function loadUser(me) {
  const policy = (me.key && me.key.policy) || {};
  figures("me", [["name", me.key ? me.key.name : me.keyless ? "keyless (this machine)" : "unmanaged key"],
    ["id", me.key && me.key.id], ["models", policy.models ? policy.models.join(", ") : "all"], ["rpm", policy.rpm],
    ["budget", policy.budget_usd === undefined || policy.budget_usd === null ? null : `$${policy.budget_usd}/${policy.budget_period}`]]);
  const models = policy.models || [];
  $("model-list").replaceChildren(...models.map((m) => el("option", { value: m })));
  if (models.length && !models.includes($("chat-model").value)) $("chat-model").value = models[0];
  const [usage, sessions] = await Promise.all([api("GET", "/v1/usage"), api("GET", "/v1/sessions")]);
  $("user-usage-total").textContent = "this month: " + totalLine(usage.total);
  chart("chart-my-day", usage.by_day, "day", "total_tokens");
  chart("chart-my-model", usage.by_model, "model", "total_tokens");
  await loadBatches();
  fill("sessions", sessions.data.map((s) => [el("code", {}, s.id), s.model, s.turns, when(s.last_used),
    el("span", { class: "row-actions" },
      el("button", { type: "button", class: "view", "data-id": s.id, on: { click: () => viewSession(s.id) } }, "View"),
      el("button", { type: "button", class: "delete", "data-id": s.id, on: { click: () => deleteSession(s.id) } }, "Delete"))]));
}

// Both APIs' batches, newest first, with their progress (requests ended of all).
async function loadBatches() {
  const [anthropic, openai] = await Promise.all([api("GET", "/v1/messages/batches?limit=20"), api("GET", "/v1/batches?limit=20")]);
  const rows = anthropic.data.map((b) => {
    const c = b.request_counts, total = c.processing + c.succeeded + c.errored + c.canceled + c.expired;
    return { id: b.id, api: "Anthropic", status: b.processing_status, done: `${total - c.processing}/${total}`, at: Date.parse(b.created_at) / 1000 };
  }).concat(openai.data.map((b) => {
    const c = b.request_counts;
    return { id: b.id, api: "OpenAI", status: b.status, done: `${c.completed + c.failed}/${c.total}`, at: b.created_at };
  })).sort((a, b) => b.at - a.at);
  fill("batches", rows.map((b) => [el("code", {}, b.id), b.api, b.status, b.done, when(b.at)]));
}

function contentText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (p.type === "text" ? p.text : `[${p.type}]`)).join("\n");
  return JSON.stringify(content);
}

async function viewSession(id) {
  let session;
  try {
    session = await api("GET", "/v1/sessions/" + encodeURIComponent(id));
  } catch (error) {
    $("error").textContent = error.message;
    return;
  }
  $("conversation-id").textContent = id;
  $("messages").replaceChildren(...session.messages.map((m) =>
    el("li", { class: "message " + m.role }, el("b", {}, m.role), el("pre", {}, contentText(m.content)))));
  $("conversation").hidden = false;
}

async function deleteSession(id) {
  if (!confirm(`Delete session ${id}?`)) return;
  try {
    await api("DELETE", "/v1/sessions/" + encodeURIComponent(id));
  } catch (error) {
    $("error").textContent = error.message;
  }
  if ($("conversation-id").textContent === id) $("conversation").hidden = true;
  await refresh();
}

function newSession() {
  $("chat-session").value = "console-" + crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  $("chat-log").replaceChildren();
}

// The playground: one streamed chat completion (fetch + ReadableStream over SSE), in a named session.
async function send(event) {
  event.preventDefault();
  const text = $("chat-input").value;
  $("chat-error").textContent = "";
  $("chat-log").append(el("li", { class: "message user" }, el("b", {}, "user"), el("pre", {}, text)));
  const answer = el("pre", { class: "streaming" });
  $("chat-log").append(el("li", { class: "message assistant" }, el("b", {}, "assistant"), answer));
  $("chat-send").disabled = true;
  try {
    const key = sessionStorage.getItem(KEY);
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(key ? { Authorization: "Bearer " + key } : {}) },
      body: JSON.stringify({ model: $("chat-model").value, stream: true, session_id: $("chat-session").value,
        messages: [{ role: "user", content: text }] }),
    });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new Error((data.error && data.error.message) || String(response.status));
    }
    $("chat-input").value = "";
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      const frames = buffered.split("\n\n");
      buffered = frames.pop();
      for (const frame of frames) {
        const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
        if (!data || data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        for (const choice of chunk.choices || []) answer.textContent += (choice.delta && choice.delta.content) || "";
      }
    }
  } catch (error) {
    $("chat-error").textContent = error.message;
  } finally {
    answer.classList.remove("streaming");
    $("chat-send").disabled = false;
    refresh();
  }
}

// --- signing in ----------------------------------------------------------------------------
let current = null;

async function refresh() {
  if (!current) return;
  $("error").textContent = "";
  try {
    if (current.admin) await loadAdmin();
    else await loadUser(current);
  } catch (error) {
    $("error").textContent = error.message;
  }
}

async function signIn(event) {
  if (event) event.preventDefault();
  if (event) sessionStorage.setItem(KEY, $("key").value.trim());
  $("signin-error").textContent = "";
  try {
    current = await api("GET", "/v1/me");
  } catch (error) {
    sessionStorage.removeItem(KEY);
    $("signin-error").textContent = error.message;
    return;
  }
  $("key").value = "";
  $("who").textContent = current.admin ? "admin" : current.key ? current.key.name : current.keyless ? "keyless" : current.tenant;
  $("signin").hidden = true;
  $("admin").hidden = !current.admin;
  $("user").hidden = current.admin;
  $("signout").hidden = $("refresh").hidden = false;
  if (!$("chat-session").value) newSession();
  await refresh();
}

function signOut() {
  sessionStorage.removeItem(KEY);
  location.reload();
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("refresh").addEventListener("click", refresh);
  $("key-form").addEventListener("submit", submitKey);
  $("key-cancel").addEventListener("click", resetKeyForm);
  $("metric").addEventListener("change", drawAdminCharts);
  $("chat-form").addEventListener("submit", send);
  $("chat-new").addEventListener("click", newSession);
  if (sessionStorage.getItem(KEY) !== null) signIn();
  showDemo();
});

// Demo mode (`--demo`): the answers are canned, say so where everything else is.
async function showDemo() {
  const health = await fetch("/health").then((r) => r.json()).catch(() => ({}));
  $("demo").hidden = health.demo !== true;
}
