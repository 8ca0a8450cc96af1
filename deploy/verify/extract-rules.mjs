#!/usr/bin/env node
// Writes the rule groups of the PrometheusRule in deploy/k8s/prometheus-rules.yaml as a plain
// Prometheus rules file, for promtool: node extract-rules.mjs [OUT] (default build/prometheus-rules.yaml).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, "..", "k8s", "prometheus-rules.yaml");
const out = resolve(process.argv[2] ?? join(here, "build", "prometheus-rules.yaml"));

const rules = parseAllDocuments(readFileSync(source, "utf8"))
  .map((d) => d.toJS())
  .filter((o) => o?.kind === "PrometheusRule");
if (rules.length !== 1 || !Array.isArray(rules[0].spec?.groups)) {
  console.error(`${source}: expected one PrometheusRule with spec.groups, found ${rules.length}`);
  process.exit(1);
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `# Generated from deploy/k8s/prometheus-rules.yaml by extract-rules.mjs; do not edit.\n${stringify({ groups: rules[0].spec.groups }, { lineWidth: 0 })}`);
console.log(out);
