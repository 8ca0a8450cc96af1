#!/usr/bin/env node
// Every metric the alerts (deploy/k8s/prometheus-rules.yaml) and the Grafana dashboard
// (deploy/grafana/tributary-dashboard.json) query must be one the services export: a typo in a
// metric name makes an alert that never fires and a panel that stays empty, silently.
// The list is the services' Micrometer meters under their Prometheus names (docs/operations.md,
// "Metrics"); the test suite checks the same names against running services.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

const counters = ["in", "out", "rejected", "dropped", "dead_lettered", "duplicates_skipped", "late", "future"].map(
  (n) => `tributary_events_${n}_total`,
);
const timers = ["processing", "state_store", "lookup", "history"].flatMap((n) =>
  ["bucket", "count", "sum", "max"].map((s) => `tributary_${n}_latency_seconds_${s}`),
);
const known = new Set([
  ...counters,
  ...timers,
  "tributary_batch_size_count",
  "tributary_batch_size_sum",
  "tributary_batch_size_max",
  "tributary_consumer_lag",
  "tributary_ready",
  "tributary_lookup_cache_total",
  "up", // Prometheus' own, per target
]);
// Families that libraries export (JVM, process, Vert.x, the Kafka clients): names vary by version.
const libraryPrefixes = ["jvm_", "process_", "system_", "vertx_", "kafka_producer_", "kafka_consumer_", "kafka_admin_client_"];

// PromQL words that look like metric names but are not.
const promql = new Set([
  "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
  "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
  "rate", "irate", "increase", "delta", "idelta", "deriv", "absent", "absent_over_time", "histogram_quantile",
  "max_over_time", "min_over_time", "avg_over_time", "sum_over_time", "count_over_time", "last_over_time",
  "label_replace", "label_join", "clamp_min", "clamp_max", "vector", "scalar", "time", "abs", "ceil", "floor",
  "round", "sort", "sort_desc", "le", "inf", "nan",
]);

function metricNames(expr) {
  // Drop label matchers ({...}), strings, durations ([5m]) and Grafana variables ($pipeline).
  const bare = expr
    .replace(/\{[^}]*\}/g, " ")
    .replace(/"(?:[^"\\]|\\.)*"/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\$\{?[A-Za-z_]+\}?/g, " ");
  const names = new Set();
  // Grouping labels inside by (...) / without (...) are not metrics.
  const withoutGrouping = bare.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  for (const m of withoutGrouping.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    if (!promql.has(word.toLowerCase()) && !/^\d/.test(word)) {
      names.add(word);
    }
  }
  return names;
}

const sources = [];
const rulesFile = join(root, "deploy", "k8s", "prometheus-rules.yaml");
for (const doc of parseAllDocuments(readFileSync(rulesFile, "utf8")).map((d) => d.toJS())) {
  for (const group of doc?.spec?.groups ?? []) {
    for (const rule of group.rules ?? []) {
      sources.push({ where: `prometheus-rules.yaml ${rule.alert ?? rule.record}`, expr: String(rule.expr) });
    }
  }
}
const dashboardFile = join(root, "deploy", "grafana", "tributary-dashboard.json");
const walk = (node, path) => {
  if (Array.isArray(node)) {
    node.forEach((n, i) => walk(n, `${path}[${i}]`));
  } else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "expr" && typeof v === "string") {
        sources.push({ where: `tributary-dashboard.json ${node.refId ? `${path} (${node.refId})` : path}`, expr: v });
      } else if (k === "query" && typeof v === "string" && /label_values\(/.test(v)) {
        const m = v.match(/label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,/);
        if (m) sources.push({ where: `tributary-dashboard.json ${path}`, expr: m[1] });
      } else {
        walk(v, `${path}.${k}`);
      }
    }
  }
};
walk(JSON.parse(readFileSync(dashboardFile, "utf8")), "$");

const problems = [];
let count = 0;
for (const { where, expr } of sources) {
  for (const name of metricNames(expr)) {
    count++;
    if (!known.has(name) && !libraryPrefixes.some((p) => name.startsWith(p))) {
      problems.push(`${where}: ${name} is not a metric the services export (in: ${expr})`);
    }
  }
}
if (sources.length === 0) {
  problems.push("no expressions found in the rules or the dashboard");
}
if (problems.length > 0) {
  for (const p of problems) console.error(`ERROR: ${p}`);
  process.exit(1);
}
console.log(`${count} metric references in ${sources.length} expressions (alerts and dashboard) are exported metrics`);
