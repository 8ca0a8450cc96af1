// The live console of a Tributary pipeline: its picture, instances, rates, aggregates and dead
// letters, fed by GET api/stream (one snapshot of the cluster a second) and the query endpoints.
import { compactNumber, drawBarChart, drawLineChart, svgElement } from "./chart.js";

const STAGES = ["ingest", "enrich", "aggregate"];
const RATE_SERIES = [
  { key: "in", label: "in", color: "#2f6fdb" },
  { key: "out", label: "out", color: "#1f9d74" },
  { key: "rejected", label: "rejected", color: "#d98a00" },
  { key: "deadLettered", label: "dead-lettered", color: "#d64545" },
];
const LAG_COLOR = "#7b5cc4";
const RATE_WINDOW_MS = 5 * 60 * 1000;
const TOP_REFRESH_MS = 2000;
const GROUP_REFRESH_MS = 10000;
const DEAD_LETTER_MIN_INTERVAL_MS = 2000;
const STALE_STREAM_MS = 5000;

const measureFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

const $ = (selector, root = document) => root.querySelector(selector);
const field = (root, name) => root.querySelector(`[data-field="${name}"]`);

// Kept in memory only: never written to storage, cookies or the URL.
let controlToken = "";

const live = {
  pipeline: null,
  members: [], // this pipeline's members in the latest snapshot, known stage
  memberStages: new Map(), // nodeId -> {stage, instance}, remembered to place members that became unreachable
  previousSnapshot: null, // {time, counters: Map nodeId -> counters}
  rateHistory: Object.fromEntries(STAGES.map((stage) => [stage, []])), // [{t, in, out, rejected, deadLettered, lag}]
  latestTime: Date.now(),
  lastSnapshotAt: 0,
  snapshotCount: 0,
  deadLetteredTotal: null,
  topsShown: false,
};

const stageCards = new Map();
const rateCards = new Map();
const aggregationCards = [];

async function main() {
  $("#token").addEventListener("input", (event) => {
    controlToken = event.target.value.trim();
    event.target.removeAttribute("aria-invalid");
  });
  $("#token-form").addEventListener("submit", (event) => event.preventDefault());
  wireDeadLetterControls();
  const pipeline = await loadPipeline();
  live.pipeline = pipeline;
  document.title = `${pipeline.pipeline} · Tributary console`;
  $("#pipeline-name").textContent = pipeline.pipeline;
  $("#pipeline-meta").textContent =
    `version ${pipeline.version} · store ${pipeline.store} · served by ${pipeline.instance} (${pipeline.stage})`;
  drawPipelinePicture(pipeline);
  buildStageCards();
  buildRateCards();
  buildAggregationCards(pipeline.aggregations ?? []);
  connectStream();
  loadDeadLetters();
  setInterval(refreshAllTops, TOP_REFRESH_MS);
  setInterval(refreshAllGroupCharts, GROUP_REFRESH_MS);
  setInterval(watchStream, 1000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshAllTops(); });
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { drawRateCharts(); aggregationCards.forEach((card) => card.redraw()); }, 150);
  });
}

// ---------------------------------------------------------------- HTTP

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new HttpError(response.status, `${response.status}: ${body?.error ?? response.statusText}`);
  }
  return body;
}

async function loadPipeline() {
  for (;;) {
    try {
      const pipeline = await getJson("api/pipeline");
      showMessage($("#load-error"), null);
      return pipeline;
    } catch (error) {
      showMessage($("#load-error"), "error", `Cannot read the pipeline (${error.message}); retrying…`);
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
  }
}

function showMessage(element, kind, text) {
  element.hidden = !kind;
  element.dataset.kind = kind ?? "";
  element.textContent = text ?? "";
}

// ---------------------------------------------------------------- pipeline picture

// Column widths of the picture, in its own units; the stage cards below use the same columns so
// each card sits under its stage box.
const COLUMNS = { sources: 130, stage: 274, bus: 124, gap: 24 };
const COLUMN_ORDER = ["sources", "ingest", "ingested", "enrich", "enriched", "aggregate", "updates"];
const LINE_HEIGHT = 17;
const DEAD_LETTER_Y = 16;
const BOX_TOP = 80;
const FLOW_Y = BOX_TOP + 34;

function columnX(name) {
  let x = 0;
  for (const column of COLUMN_ORDER) {
    if (column === name) return x;
    x += columnWidth(column) + COLUMNS.gap;
  }
  throw new Error(name);
}

function columnWidth(name) {
  return name === "sources" ? COLUMNS.sources : STAGES.includes(name) ? COLUMNS.stage : COLUMNS.bus;
}

function drawPipelinePicture(pipeline) {
  const svg = $("#pipeline-picture");
  const width = columnX("updates") + COLUMNS.bus;
  const stageLines = {
    ingest: [{ heading: "validate, stamp" }, { detail: "invalid input → dead letters" }],
    enrich: enrichLines(pipeline),
    aggregate: aggregateLines(pipeline),
  };
  const boxHeight = 44 + LINE_HEIGHT * Math.max(...Object.values(stageLines).map((lines) => lines.length)) + 30;
  const height = BOX_TOP + boxHeight + 4;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren(arrowMarkers());

  drawSources(svg, ["http", ...(pipeline.sources ?? [])]);
  for (const stage of STAGES) drawStage(svg, stage, stageLines[stage], boxHeight, stage === pipeline.stage);
  const buses = pipeline.buses ?? {};
  for (const [bus, from, to] of [["ingested", "ingest", "enrich"], ["enriched", "enrich", "aggregate"], ["updates", "aggregate", null]]) {
    drawBus(svg, { key: bus, address: buses[bus], x: columnX(bus), y: FLOW_Y - 22 });
    svg.append(arrow(columnX(from) + COLUMNS.stage, FLOW_Y, columnX(bus), FLOW_Y));
    if (to) svg.append(arrow(columnX(bus) + COLUMNS.bus, FLOW_Y, columnX(to), FLOW_Y));
  }
  drawDeadLetterBus(svg, buses.deadLetter);

  const grid = $("#stage-cards");
  grid.style.setProperty("--picture-columns",
    COLUMN_ORDER.map((column) => `${columnWidth(column)}fr`).join(` ${COLUMNS.gap}fr `));
}

function enrichLines(pipeline) {
  const lines = [];
  if (pipeline.lookups?.length) lines.push({ heading: "look-ups" });
  for (const lookup of pipeline.lookups ?? []) {
    const action = lookup.action ? ` → ${lookup.action}` : "";
    lines.push({ name: lookup.name, detail: `${lookup.kind ?? "record"} by ${lookup.by}${action}`, data: { lookup: lookup.name } });
  }
  if (pipeline.histories?.length) lines.push({ heading: "histories" });
  for (const history of pipeline.histories ?? []) {
    lines.push({ name: history.name, detail: `by ${[history.by].flat().join(", ")}`, data: { history: history.name } });
    for (const line of wrapWords((history.features ?? []).join(", "), 40)) lines.push({ detail: line, indent: true });
  }
  return lines;
}

function aggregateLines(pipeline) {
  const lines = [];
  if (pipeline.aggregations?.length) lines.push({ heading: "aggregations" });
  for (const aggregation of pipeline.aggregations ?? []) {
    lines.push({ name: aggregation.name, detail: `by ${(aggregation.groupBy ?? []).join(", ")}`, data: { aggregationNode: aggregation.name } });
    lines.push({ detail: `${aggregation.window} · keeps ${aggregation.retention}`, indent: true });
  }
  return lines;
}

function drawStage(svg, stage, lines, boxHeight, servesPage) {
  const x = columnX(stage);
  const group = svgElement("g", { class: "stage-node", "data-stage-node": stage });
  group.append(svgElement("rect", { x, y: BOX_TOP, width: COLUMNS.stage, height: boxHeight, rx: 10, class: "stage-box" }));
  group.append(svgElement("text", { x: x + 14, y: BOX_TOP + 26, class: "stage-title" }, stage));
  if (servesPage) {
    group.append(svgElement("text", { x: x + COLUMNS.stage - 12, y: BOX_TOP + 25, class: "node-note", "text-anchor": "end" }, "serves this page"));
  }
  lines.forEach((line, index) => {
    const text = svgElement("text", { x: x + (line.indent ? 26 : 14), y: BOX_TOP + 54 + index * LINE_HEIGHT });
    for (const [key, value] of Object.entries(line.data ?? {})) text.dataset[key] = value;
    if (line.heading) text.append(svgElement("tspan", { class: "node-heading" }, line.heading));
    if (line.name) text.append(svgElement("tspan", { class: "node-name" }, `${line.name} `));
    if (line.detail) text.append(svgElement("tspan", { class: "node-detail" }, fit(line.detail, 44 - (line.name?.length ?? 0))));
    text.append(svgElement("title", {}, [line.heading, line.name, line.detail].filter(Boolean).join(" ")));
    group.append(text);
  });
  group.append(svgElement("line", { x1: x, x2: x + COLUMNS.stage, y1: BOX_TOP + boxHeight - 28, y2: BOX_TOP + boxHeight - 28, class: "stage-divider" }));
  group.append(svgElement("g", { "data-instance-dots": stage, transform: `translate(${x + 14} ${BOX_TOP + boxHeight - 14})` }));
  svg.append(group);
}

function drawSources(svg, sources) {
  const x = columnX("sources");
  sources.forEach((source, index) => {
    const y = FLOW_Y - 18 + index * 46;
    const [transport, ...rest] = source === "http" ? ["HTTP", "POST /events"] : source.split(":");
    const group = svgElement("g", { class: "source-node", "data-source": source });
    group.append(svgElement("rect", { x, y, width: COLUMNS.sources, height: 36, rx: 6 }));
    group.append(svgElement("text", { x: x + 10, y: y + 15, class: "node-kind" }, transport));
    group.append(svgElement("text", { x: x + 10, y: y + 29, class: "node-address" }, fit(rest.join(":"), 20)));
    group.append(svgElement("title", {}, source === "http" ? "HTTP POST /events" : source));
    svg.append(group);
    const path = `M${x + COLUMNS.sources},${y + 18} C${x + COLUMNS.sources + 14},${y + 18} ${columnX("ingest") - 14},${FLOW_Y} ${columnX("ingest")},${FLOW_Y}`;
    svg.append(svgElement("path", { d: path, class: "flow", "marker-end": "url(#arrow)" }));
  });
}

function drawBus(svg, { key, label = key, address = "", x, y, kind = "bus" }) {
  const [transport, ...rest] = address.split(":");
  const group = svgElement("g", { class: `${kind}-node`, "data-bus": key });
  group.append(svgElement("text", { x: x + COLUMNS.bus / 2, y: y - 5, class: "node-kind", "text-anchor": "middle" }, transport));
  group.append(svgElement("rect", { x, y, width: COLUMNS.bus, height: 44, rx: 22 }));
  group.append(svgElement("text", { x: x + COLUMNS.bus / 2, y: y + 18, class: "bus-name", "text-anchor": "middle" }, label));
  group.append(svgElement("text", { x: x + COLUMNS.bus / 2, y: y + 33, class: "node-address", "text-anchor": "middle" }, fit(rest.join(":"), 19)));
  group.append(svgElement("title", {}, `${label} bus: ${address}`));
  svg.append(group);
}

function drawDeadLetterBus(svg, address) {
  const x = columnX("updates");
  const lineY = DEAD_LETTER_Y + 22;
  drawBus(svg, { key: "deadLetter", label: "dead letters", address, x, y: DEAD_LETTER_Y, kind: "dead-letter" });
  const firstCenter = columnX("ingest") + COLUMNS.stage / 2;
  const feed = STAGES.map((stage) => `M${columnX(stage) + COLUMNS.stage / 2},${BOX_TOP} V${lineY}`).join(" ");
  svg.append(svgElement("path", { d: `${feed} M${firstCenter},${lineY} H${x - 2}`, class: "dead-letter-flow", "marker-end": "url(#arrow-dead)" }));
  svg.append(svgElement("text", { x: firstCenter + 8, y: lineY - 6, class: "node-note dead-letter-note" },
    "rejected and failed events, from every stage"));
}

function arrowMarkers() {
  const defs = svgElement("defs");
  for (const [id, className] of [["arrow", "arrow-head"], ["arrow-dead", "arrow-head dead"]]) {
    const marker = svgElement("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
    marker.append(svgElement("path", { d: "M0,0 L10,5 L0,10 z", class: className }));
    defs.append(marker);
  }
  return defs;
}

function arrow(x1, y1, x2, y2) {
  return svgElement("path", { d: `M${x1},${y1} L${x2 - 2},${y2}`, class: "flow", "marker-end": "url(#arrow)" });
}

function fit(text, maxChars) {
  return text.length <= maxChars ? text : `${text.slice(0, Math.max(1, maxChars - 1))}…`;
}

function wrapWords(text, maxChars) {
  const lines = [];
  for (const word of text.split(" ")) {
    if (lines.length && `${lines.at(-1)} ${word}`.length <= maxChars) lines[lines.length - 1] += ` ${word}`;
    else lines.push(word);
  }
  return lines.filter(Boolean);
}

function drawInstanceDots(stage, members) {
  const group = $(`[data-instance-dots="${stage}"]`);
  group.replaceChildren();
  members.forEach((member, index) => {
    const dot = svgElement("circle", { cx: index * 14 + 5, cy: 0, r: 5, class: `state-${member.state}` });
    dot.append(svgElement("title", {}, `${member.instance ?? member.nodeId}: ${member.state}`));
    group.append(dot);
  });
  group.append(svgElement("text", { x: members.length ? members.length * 14 + 4 : 0, y: 4, class: "node-detail" }, summarizeStates(members)));
}

function summarizeStates(members) {
  if (members.length === 0) return "no instance";
  const counts = new Map();
  for (const member of members) counts.set(member.state, (counts.get(member.state) ?? 0) + 1);
  return [...counts].map(([state, count]) => `${count} ${state}`).join(" · ");
}

// ---------------------------------------------------------------- stage cards and control

function buildStageCards() {
  const grid = $("#stage-cards");
  const legend = document.createElement("ul");
  legend.className = "state-legend";
  for (const state of ["running", "paused", "unreachable"]) {
    legend.insertAdjacentHTML("beforeend", `<li><span class="state-dot state-${state}"></span>${state}</li>`);
  }
  grid.append(legend);
  for (const stage of STAGES) {
    const card = $("#stage-card-template").content.firstElementChild.cloneNode(true);
    card.dataset.stageCard = stage;
    card.style.gridColumn = String(COLUMN_ORDER.indexOf(stage) * 2 + 1);
    for (const button of card.querySelectorAll("[data-action]")) button.dataset.stage = stage;
    card.querySelector('[data-action="pause-stage"]').addEventListener("click", () =>
      sendControl("pause", { scope: "cluster", stage }, `every ${stage} instance`));
    card.querySelector('[data-action="resume-stage"]').addEventListener("click", () =>
      sendControl("resume", { scope: "cluster", stage }, `every ${stage} instance`));
    grid.append(card);
    stageCards.set(stage, card);
  }
}

function updateStageCards(membersByStage) {
  for (const [stage, card] of stageCards) {
    const members = membersByStage.get(stage);
    syncChildren(field(card, "instances"), members, (member) => member.nodeId, createInstanceRow, updateInstanceRow);
    field(card, "empty").hidden = members.length > 0;
    drawInstanceDots(stage, members);
  }
}

function createInstanceRow(member) {
  const row = $("#instance-template").content.firstElementChild.cloneNode(true);
  row.dataset.member = member.nodeId;
  for (const action of ["pause", "resume"]) {
    const button = row.querySelector(`[data-action="${action}"]`);
    button.dataset.member = member.nodeId;
    button.addEventListener("click", () =>
      sendControl(action, { member: member.nodeId }, `${row.dataset.instance ?? member.nodeId}`));
  }
  return row;
}

function updateInstanceRow(row, member) {
  row.dataset.instance = member.instance ?? member.nodeId;
  row.dataset.instanceState = member.state;
  row.dataset.stage = member.stage;
  field(row, "name").textContent = member.instance ?? member.nodeId;
  field(row, "name").title = `${member.instance ?? ""} node ${member.nodeId}${member.version ? ` · version ${member.version}` : ""}`;
  field(row, "state").textContent = member.state;
  const details = [];
  if (member.assignedPartitions) details.push(`partitions ${formatPartitions(member.assignedPartitions)}`);
  // Lag is behind an input bus: ingest fed over HTTP alone has none.
  if (member.counters && member.assignedPartitions) details.push(`lag ${compactNumber(member.counters.lag ?? 0)}`);
  if (member.error) details.push("no answer");
  field(row, "detail").textContent = details.join(" · ");
  field(row, "detail").title = member.error ?? (member.assignedPartitions ?? []).join(", ");
  row.querySelector('[data-action="pause"]').disabled = member.state !== "running";
  row.querySelector('[data-action="resume"]').disabled = member.state !== "paused";
}

// Partitions come as "<topic>-<n>" (or RabbitMQ stream names "<stream>-<n>"): shown as numbers,
// "0–3, 6", the full names in the row's tooltip.
function partitionNumber(partition) {
  if (typeof partition === "number") return partition;
  const match = /-(\d+)$/.exec(String(partition));
  return match ? Number(match[1]) : NaN;
}

function formatPartitions(partitions) {
  if (partitions.length === 0) return "none";
  const numbers = partitions.map(partitionNumber);
  if (numbers.some(Number.isNaN)) return partitions.join(", ");
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const ranges = [];
  for (const partition of sorted) {
    const last = ranges.at(-1);
    if (last && partition === last[1] + 1) last[1] = partition;
    else ranges.push([partition, partition]);
  }
  return ranges.map(([from, to]) => (from === to ? from : `${from}–${to}`)).join(", ");
}

async function sendControl(action, params, target) {
  const message = $("#control-message");
  showMessage(message, "pending", `${action}: ${target}…`);
  const headers = controlToken ? { Authorization: `Bearer ${controlToken}` } : {};
  try {
    const response = await fetch(`../control/${action}?${new URLSearchParams(params)}`, { method: "POST", headers });
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) {
      $("#token").setAttribute("aria-invalid", "true");
      showMessage(message, "unauthorized",
        `Refused (401): the control token is missing or wrong${body.error ? ` (${body.error})` : ""}. Enter it above.`);
    } else if (!response.ok) {
      showMessage(message, "error", `${action} ${target} failed: ${response.status} ${body.error ?? response.statusText}`);
    } else {
      showMessage(message, "ok", `${action}: sent to ${target}${describeOutcome(body)}; states follow in the next snapshot.`);
    }
  } catch (error) {
    showMessage(message, "error", `${action} ${target} failed: ${error.message}`);
  }
}

/** "(2 instances, 1 unreachable)" from a cluster-wide answer, when it lists the members. */
function describeOutcome(body) {
  const members = Array.isArray(body) ? body : Array.isArray(body?.members) ? body.members : null;
  if (!members) return "";
  const unreachable = members.filter((member) => member.state === "unreachable").length;
  const reached = members.filter((member) => member.state !== "unreachable" && !member.skipped).length;
  return ` (${reached} instance${reached === 1 ? "" : "s"}${unreachable ? `, ${unreachable} unreachable` : ""})`;
}

// ---------------------------------------------------------------- the snapshot stream

function connectStream() {
  const source = new EventSource("api/stream");
  source.addEventListener("snapshot", (event) => {
    setConnection("live", `last snapshot ${new Date().toLocaleTimeString()}`);
    try {
      onSnapshot(JSON.parse(event.data));
    } catch (error) {
      showMessage($("#load-error"), "error", `Cannot show a snapshot: ${error.message}`);
    }
  });
  source.addEventListener("error", () => {
    setConnection("reconnecting", "the event stream dropped; reconnecting");
    // EventSource retries by itself, except after an answer that is not an event stream.
    if (source.readyState === EventSource.CLOSED) setTimeout(connectStream, 3000);
  });
}

function setConnection(state, detail) {
  const indicator = $("#connection");
  indicator.dataset.state = state;
  indicator.title = detail;
  $("#connection-label").textContent = state;
}

function watchStream() {
  const silentFor = Date.now() - live.lastSnapshotAt;
  if (live.lastSnapshotAt && silentFor > STALE_STREAM_MS && $("#connection").dataset.state === "live") {
    setConnection("reconnecting", `no snapshot for ${Math.round(silentFor / 1000)} s`);
  }
}

function onSnapshot(snapshot) {
  const pipelineName = live.pipeline.pipeline;
  live.lastSnapshotAt = Date.now();
  live.snapshotCount += 1;
  live.latestTime = snapshot.time ?? Date.now();
  $("#connection").dataset.snapshots = String(live.snapshotCount);
  if (!snapshot.members) {
    showClusterNote(snapshot.clustered, [], snapshot.error ?? "the snapshot lists no member");
    return;
  }

  const ours = [];
  const unreachable = [];
  for (const member of snapshot.members ?? []) {
    if (member.state === "unreachable" && !member.stage) {
      unreachable.push(member);
      const known = live.memberStages.get(member.nodeId);
      if (known) ours.push({ ...member, ...known });
    } else if (member.pipeline === pipelineName && STAGES.includes(member.stage)) {
      live.memberStages.set(member.nodeId, { stage: member.stage, instance: member.instance });
      ours.push(member);
    }
  }
  ours.sort((a, b) => String(a.instance).localeCompare(String(b.instance)));
  live.members = ours;

  const membersByStage = new Map(STAGES.map((stage) => [stage, ours.filter((member) => member.stage === stage)]));
  updateStageCards(membersByStage);
  showClusterNote(snapshot.clustered, unreachable);
  recordRates(live.latestTime, ours.filter((member) => member.counters));
  drawRateCharts();
  watchDeadLetteredCounter(ours);
  if (!live.topsShown && aggregatesReachable()) {
    live.topsShown = true;
    refreshAllTops();
  }
}

function showClusterNote(clustered, unreachable, error) {
  const note = $("#cluster-note");
  note.textContent = error ?? (clustered ? "clustered: every instance of the pipeline" : "not clustered: this instance only");
  note.classList.toggle("error-text", Boolean(error));
  note.dataset.clustered = String(Boolean(clustered));
  const line = $("#unreachable-members");
  line.hidden = unreachable.length === 0;
  line.textContent = `unreachable members: ${unreachable.map((member) =>
    `${live.memberStages.get(member.nodeId)?.instance ?? member.nodeId}${member.error ? ` (${member.error})` : ""}`).join(", ")}`;
}

// ---------------------------------------------------------------- rates

function buildRateCards() {
  const grid = $("#rate-cards");
  for (const stage of STAGES) {
    const card = $("#rate-card-template").content.firstElementChild.cloneNode(true);
    card.dataset.rateCard = stage;
    field(card, "stage").textContent = stage;
    for (const series of RATE_SERIES) {
      const item = document.createElement("li");
      item.innerHTML = `<span class="swatch"></span><span class="label"></span><b>0</b><span class="unit">/s</span>`;
      item.querySelector(".swatch").style.background = series.color;
      item.querySelector(".label").textContent = series.label;
      item.querySelector("b").dataset.rate = `${stage}-${series.label}`;
      field(card, "legend").append(item);
    }
    field(card, "lag").dataset.rate = `${stage}-lag`;
    grid.append(card);
    rateCards.set(stage, card);
  }
}

/**
 * One point per stage and snapshot: per-second deltas of each member's counters since the previous
 * snapshot, summed over the stage. A member new to the snapshot, or whose counter went down (a
 * restart), adds 0 for that step.
 */
function recordRates(time, members) {
  const previous = live.previousSnapshot;
  live.previousSnapshot = { time, counters: new Map(members.map((member) => [member.nodeId, member.counters])) };
  if (!previous || time <= previous.time) return;
  const seconds = (time - previous.time) / 1000;
  for (const stage of STAGES) {
    const point = { t: time, lag: 0 };
    for (const series of RATE_SERIES) point[series.key] = 0;
    for (const member of members.filter((m) => m.stage === stage)) {
      point.lag += member.counters.lag ?? 0;
      const before = previous.counters.get(member.nodeId);
      if (!before) continue;
      for (const series of RATE_SERIES) {
        point[series.key] += Math.max(0, (member.counters[series.key] ?? 0) - (before[series.key] ?? 0)) / seconds;
      }
    }
    const history = live.rateHistory[stage];
    history.push(point);
    while (history.length && history[0].t < time - RATE_WINDOW_MS) history.shift();
  }
}

function drawRateCharts() {
  const to = live.latestTime;
  const from = to - RATE_WINDOW_MS;
  for (const [stage, card] of rateCards) {
    const history = live.rateHistory[stage];
    const latest = history.at(-1);
    for (const series of RATE_SERIES) {
      const value = latest?.[series.key] ?? 0;
      const output = card.querySelector(`[data-rate="${stage}-${series.label}"]`);
      output.textContent = formatRate(value);
      output.dataset.value = String(value);
    }
    const lag = field(card, "lag");
    lag.textContent = compactNumber(latest?.lag ?? 0);
    lag.dataset.value = String(latest?.lag ?? 0);
    drawLineChart(card.querySelector('[data-chart="rates"]'), {
      from, to,
      series: RATE_SERIES.map((series) => ({ ...series, points: history.map((p) => ({ t: p.t, v: p[series.key] })) })),
    });
    drawLineChart(card.querySelector('[data-chart="lag"]'), {
      from, to, series: [{ color: LAG_COLOR, points: history.map((p) => ({ t: p.t, v: p.lag })) }],
    });
  }
}

function formatRate(value) {
  return value === 0 ? "0" : value < 10 ? value.toFixed(1) : compactNumber(value);
}

// ---------------------------------------------------------------- aggregates

function buildAggregationCards(aggregations) {
  const grid = $("#aggregation-cards");
  if (aggregations.length === 0) grid.innerHTML = '<p class="empty">this pipeline declares no aggregation</p>';
  for (const aggregation of aggregations) {
    const card = new AggregationCard(aggregation);
    grid.append(card.element);
    aggregationCards.push(card);
  }
}

function aggregatesReachable() {
  return live.pipeline.stage === "aggregate" || live.members.some((member) => member.stage === "aggregate" && member.counters);
}

function refreshAllTops() {
  if (document.hidden) return;
  const reachable = aggregatesReachable();
  aggregationCards.forEach((card) => (reachable ? card.refreshTop() : card.showNoAggregateInstance()));
}

function refreshAllGroupCharts() {
  if (document.hidden || !aggregatesReachable()) return;
  aggregationCards.forEach((card) => { if (card.group) card.refreshGroupChart(); });
}

class AggregationCard {
  constructor(aggregation) {
    this.aggregation = aggregation;
    this.measures = aggregation.measures ?? [];
    this.topLoading = false;
    this.group = "";
    this.windows = null;
    const card = $("#aggregation-template").content.firstElementChild.cloneNode(true);
    this.element = card;
    card.dataset.aggregation = aggregation.name;
    field(card, "name").textContent = aggregation.name;
    field(card, "definition").textContent =
      `by ${(aggregation.groupBy ?? []).join(", ")} · ${aggregation.window} · keeps ${aggregation.retention}`;
    for (const select of [this.control("by"), this.control("measure")]) {
      for (const measure of this.measures) select.append(new Option(measure, measure));
    }
    field(card, "top-head").innerHTML = "<tr><th class=\"rank\">#</th><th>group</th></tr>";
    for (const measure of this.measures) {
      const header = document.createElement("th");
      header.className = "number";
      header.dataset.measure = measure;
      header.textContent = measure;
      field(card, "top-head").firstElementChild.append(header);
    }
    this.control("top").addEventListener("change", () => this.refreshTop());
    this.control("by").addEventListener("change", () => {
      this.control("measure").value = this.control("by").value;
      this.refreshTop();
    });
    field(card, "top").addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-group]");
      if (row) this.showGroup(row.dataset.group);
    });
    card.querySelector('[data-action="show-group"]').addEventListener("click", () => this.showGroup(this.control("group").value));
    this.control("group").addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.showGroup(this.control("group").value);
    });
    this.control("range").addEventListener("change", () => { if (this.group) this.refreshGroupChart(); });
    this.control("measure").addEventListener("change", () => this.redraw());
  }

  control(name) {
    return this.element.querySelector(`[data-control="${name}"]`);
  }

  showNoAggregateInstance() {
    field(this.element, "top-empty").hidden = false;
    field(this.element, "top-empty").textContent = "no aggregate instance in sight yet: none in the latest snapshot";
  }

  async refreshTop() {
    if (this.topLoading) return;
    this.topLoading = true;
    const by = this.control("by").value;
    const query = new URLSearchParams({ top: this.control("top").value, by });
    try {
      const answer = await getJson(`api/aggregates/${encodeURIComponent(this.aggregation.name)}?${query}`);
      showMessage(field(this.element, "top-error"), null);
      this.renderTop(answer, by);
    } catch (error) {
      showMessage(field(this.element, "top-error"), "error", `Cannot read the top groups: ${error.message}`);
    } finally {
      this.topLoading = false;
    }
  }

  renderTop(answer, by) {
    const top = answer.top ?? [];
    const window = answer.window;
    field(this.element, "window").textContent = window
      ? `window ${formatTime(window.start)} – ${formatClock(window.end)}` : "";
    field(this.element, "top-empty").hidden = top.length > 0;
    field(this.element, "top-empty").textContent = "no group in the current window yet";
    const largest = Math.max(0, ...top.map((entry) => Number(entry.measures?.[by]) || 0));
    syncChildren(field(this.element, "top"), top, (entry) => entry.group, () => this.createTopRow(), (row, entry) => {
      row.dataset.group = entry.group;
      row.cells[0].textContent = String(top.indexOf(entry) + 1);
      row.cells[1].textContent = entry.group;
      row.title = `version ${entry.version ?? "?"}: click for this group's windows`;
      this.measures.forEach((measure, index) => {
        const cell = row.cells[index + 2];
        cell.textContent = formatMeasure(entry.measures?.[measure]);
        cell.classList.toggle("ranked", measure === by);
        const share = measure === by && largest > 0 ? (Number(entry.measures?.[measure]) || 0) / largest : 0;
        cell.style.setProperty("--share", share.toFixed(3));
      });
    });
  }

  createTopRow() {
    const row = document.createElement("tr");
    row.insertCell().className = "rank";
    row.insertCell().className = "group";
    for (const measure of this.measures) {
      const cell = row.insertCell();
      cell.className = "number";
      cell.dataset.measure = measure;
    }
    return row;
  }

  showGroup(group) {
    this.group = group.trim();
    this.control("group").value = this.group;
    this.windows = null;
    this.refreshGroupChart();
  }

  async refreshGroupChart() {
    if (!this.group) {
      showMessage(field(this.element, "group-error"), "error", "Enter a group first.");
      return;
    }
    const to = Date.now();
    const from = to - Number(this.control("range").value);
    const group = this.group;
    const url = `api/aggregates/${encodeURIComponent(this.aggregation.name)}/${encodeURIComponent(group)}?${new URLSearchParams({ from, to })}`;
    try {
      const answer = await getJson(url);
      if (group !== this.group) return;
      showMessage(field(this.element, "group-error"), null);
      this.windows = { group, from, to, list: answer.windows ?? [] };
    } catch (error) {
      showMessage(field(this.element, "group-error"), "error", `Cannot read the windows of ${group}: ${error.message}`);
      this.windows = { group, from, to, list: [] };
    }
    this.redraw();
  }

  redraw() {
    const chart = this.element.querySelector('[data-chart="group-windows"]');
    if (!this.windows) return;
    chart.classList.remove("unused");
    const measure = this.control("measure").value;
    const { group, from, to, list } = this.windows;
    chart.dataset.group = group;
    drawBarChart(chart, {
      from, to,
      emptyText: `no window of ${group} in this range`,
      bars: list.map((window) => ({
        start: window.start,
        end: window.end,
        value: Number(window.measures?.[measure]) || 0,
        title: `${formatTime(window.start)} – ${formatTime(window.end)}: ${measure} ${formatMeasure(window.measures?.[measure])}`,
      })),
    });
    const latest = list[0];
    field(this.element, "group-summary").textContent = latest
      ? `${group}: ${list.length} window${list.length === 1 ? "" : "s"}; latest ${measure} ${formatMeasure(latest.measures?.[measure])} (${formatTime(latest.start)})`
      : `${group}: no window in this range`;
  }
}

function formatMeasure(value) {
  if (typeof value === "number") return measureFormat.format(value);
  if (value === undefined || value === null) return "–";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function formatTime(epochMillis) {
  const date = new Date(epochMillis);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? formatClock(epochMillis) : `${date.toLocaleDateString([], { month: "short", day: "numeric" })} ${formatClock(epochMillis)}`;
}

function formatClock(epochMillis) {
  return new Date(epochMillis).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

// ---------------------------------------------------------------- dead letters

const deadLetters = { loading: false, reloadWanted: false, lastLoadAt: 0, timer: null, expanded: new Set() };

function wireDeadLetterControls() {
  const reasonSelect = $("#dead-letter-reason");
  const filter = $("#dead-letter-filter");
  reasonSelect.addEventListener("change", () => {
    filter.value = reasonSelect.value;
    loadDeadLetters();
  });
  let typingTimer;
  filter.addEventListener("input", () => {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(loadDeadLetters, 400);
  });
  $("#dead-letter-limit").addEventListener("change", loadDeadLetters);
  $("#dead-letter-refresh").addEventListener("click", loadDeadLetters);
  $("#dead-letters tbody").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-key]");
    if (!row || window.getSelection().toString()) return;
    row.classList.toggle("expanded");
    if (row.classList.contains("expanded")) deadLetters.expanded.add(row.dataset.key);
    else deadLetters.expanded.delete(row.dataset.key);
  });
}

function watchDeadLetteredCounter(members) {
  const total = members.reduce((sum, member) => sum + (member.counters?.deadLettered ?? 0), 0);
  if (live.deadLetteredTotal !== null && total !== live.deadLetteredTotal && !deadLetters.timer) {
    const wait = Math.max(0, deadLetters.lastLoadAt + DEAD_LETTER_MIN_INTERVAL_MS - Date.now());
    deadLetters.timer = setTimeout(() => {
      deadLetters.timer = null;
      loadDeadLetters();
    }, wait);
  }
  live.deadLetteredTotal = total;
}

async function loadDeadLetters() {
  if (deadLetters.loading) {
    deadLetters.reloadWanted = true;
    return;
  }
  deadLetters.loading = true;
  deadLetters.lastLoadAt = Date.now();
  const reason = $("#dead-letter-filter").value.trim();
  const query = new URLSearchParams({ limit: $("#dead-letter-limit").value });
  if (reason) query.set("reason", reason);
  try {
    const answer = await getJson(`api/dead-letters?${query}`);
    showMessage($("#dead-letter-error"), null);
    renderDeadLetters(answer, reason);
  } catch (error) {
    const why = error.status === 501 ? "the dead-letter bus cannot be browsed here" : "cannot read the dead letters";
    showMessage($("#dead-letter-error"), "error", `${why} (${error.message})`);
  } finally {
    deadLetters.loading = false;
    if (deadLetters.reloadWanted) {
      deadLetters.reloadWanted = false;
      loadDeadLetters();
    }
  }
}

function renderDeadLetters(answer, reason) {
  const list = answer.deadLetters ?? [];
  $("#dead-letter-summary").textContent =
    `${list.length} shown${reason ? ` matching “${reason}”` : ""} · ${answer.scanned ?? "?"} scanned on ${answer.bus ?? "the dead-letter bus"}`;
  $("#dead-letter-empty").hidden = list.length > 0;
  fillReasons(answer.reasons ?? []);
  syncChildren($("#dead-letters tbody"), list, (letter) => `${letter.partition}:${letter.offset}`, createDeadLetterRow, updateDeadLetterRow);
}

function fillReasons(reasons) {
  const select = $("#dead-letter-reason");
  const filter = $("#dead-letter-filter").value.trim();
  const signature = JSON.stringify([reasons, filter]);
  if (select.dataset.signature === signature) return; // leaves an open select alone
  select.dataset.signature = signature;
  const options = [new Option("any reason", "")];
  for (const { reason, count } of reasons) options.push(new Option(`${count} × ${fit(reason, 70)}`, reason));
  if (filter && !reasons.some((r) => r.reason === filter)) options.push(new Option(`contains “${fit(filter, 40)}”`, filter));
  select.replaceChildren(...options);
  select.value = filter;
}

function createDeadLetterRow() {
  return $("#dead-letter-template").content.firstElementChild.cloneNode(true);
}

function updateDeadLetterRow(row, letter) {
  const time = letter.rejectedAt ?? letter.timestamp;
  row.dataset.deadLetter = `${letter.partition}:${letter.offset}`;
  row.dataset.reason = letter.reason ?? "";
  row.dataset.stage = letter.stage ?? "";
  row.classList.toggle("expanded", deadLetters.expanded.has(row.dataset.key));
  field(row, "time").textContent = formatTime(time);
  field(row, "time").title = `${new Date(time).toISOString()} · partition ${letter.partition}, offset ${letter.offset}`;
  field(row, "stage").textContent = letter.stage ?? "";
  field(row, "source").textContent = letter.source ?? "";
  field(row, "reason").textContent = letter.reason ?? "";
  const input = typeof letter.input === "string" ? letter.input : JSON.stringify(letter.input ?? "");
  field(row, "input-short").textContent = fit(input.replace(/\s+/g, " "), 90);
  field(row, "input-full").textContent = prettyJson(input);
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------- DOM

/** Makes parent's children match items, reusing each item's element (by key) so clicks and state survive. */
function syncChildren(parent, items, keyOf, create, update) {
  const existing = new Map([...parent.children].map((element) => [element.dataset.key, element]));
  let previous = null;
  for (const item of items) {
    const key = String(keyOf(item));
    let element = existing.get(key);
    if (element) existing.delete(key);
    else element = create(item);
    element.dataset.key = key;
    update(element, item);
    const expected = previous ? previous.nextElementSibling : parent.firstElementChild;
    if (element !== expected) parent.insertBefore(element, expected);
    previous = element;
  }
  for (const element of existing.values()) element.remove();
}

main().catch((error) => showMessage($("#load-error"), "error", `The console failed to start: ${error.message}`));
