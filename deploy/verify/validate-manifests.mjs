#!/usr/bin/env node
// Validates every YAML document in deploy/k8s/*.yaml:
//   1. against its schema: the Kubernetes OpenAPI schemas (kubernetes-models) and the KEDA and
//      Prometheus Operator CRD schemas (@kubernetes-models/keda, .../prometheus-operator), picked
//      by apiVersion + kind; an unknown apiVersion/kind is an error. Fields the schema does not know
//      are errors too, as with kubectl's strict field validation (the models' validators do not
//      reject them on their own; see strictValidate below).
//   2. against this project's rules: namespace, labels, security contexts, probes, resources,
//      graceful shutdown, and the cross-references between documents (Secrets and their keys,
//      ConfigMaps, Services, scale targets, KEDA's replica cap = the partition count).
// Prints every problem with file, document index, kind/name; exits 1 if there is any.
//
// Usage: node validate-manifests.mjs [DIR]   (DIR defaults to ../k8s next to this script)
import { readFileSync, readdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const dir = resolve(process.argv[2] ?? join(here, "..", "k8s"));
const NAMESPACE = "tributary";
const PART_OF = "app.kubernetes.io/part-of";
const DEFAULT_PARTITIONS = 8; // kafka.partitions' default in ServiceConfig
const UID = 10001;

const problems = [];
let current = null; // the document being checked, for report()

function where(doc) {
  return `${doc.file} document ${doc.index} (${doc.obj?.kind ?? "?"}/${doc.obj?.metadata?.name ?? "?"})`;
}

function report(message, doc = current) {
  problems.push(`${doc ? where(doc) : dir}: ${message}`);
}

// ---------------------------------------------------------------- loading

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
  .sort();
if (files.length === 0) {
  console.error(`no YAML files in ${dir}`);
  process.exit(1);
}

const docs = [];
for (const file of files) {
  const text = readFileSync(join(dir, file), "utf8");
  parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true }).forEach((parsed, index) => {
    const doc = { file, index, obj: null };
    if (parsed.errors.length > 0) {
      report(`YAML error: ${parsed.errors.map((e) => e.message).join("; ")}`, doc);
      return;
    }
    for (const warning of parsed.warnings) {
      report(`YAML warning: ${warning.message}`, doc);
    }
    const obj = parsed.toJS();
    if (obj === null || obj === undefined) {
      return; // a document of comments only
    }
    doc.obj = obj;
    docs.push(doc);
  });
}

// ---------------------------------------------------------------- schema validation

// The model packages by API group; the class is the module <package>/<group>/<version>/<Kind>.
function modelModule(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    return null;
  }
  const slash = apiVersion.lastIndexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  let pkg = "kubernetes-models";
  if (group === "keda.sh" || group === "eventing.keda.sh") {
    pkg = "@kubernetes-models/keda";
  } else if (group === "monitoring.coreos.com") {
    pkg = "@kubernetes-models/prometheus-operator";
  }
  return `${pkg}/${group ? `${group}/` : ""}${version}/${kind}`;
}

async function modelClass(apiVersion, kind) {
  const specifier = modelModule(apiVersion, kind);
  if (!specifier) {
    return null;
  }
  let mod;
  try {
    mod = await import(specifier);
  } catch (e) {
    if (e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED" || e.code === "ERR_MODULE_NOT_FOUND") {
      return null;
    }
    throw e;
  }
  const cls = mod[kind];
  // Sub-types (e.g. keda.sh/v1alpha1 AdvancedConfig) have modules too, but no apiVersion/kind.
  if (typeof cls !== "function" || cls.apiVersion !== apiVersion || cls.kind !== kind) {
    return null;
  }
  return cls;
}

// Runs the model's validator on a copy of the document wrapped in proxies that record which
// properties the validator reads. The generated validators read every property their schema
// declares (and enumerate the keys of maps), so a key of an object that the validator inspected
// by name but never read is a field the schema does not have: a typo, or a misplaced field.
// Objects the schema leaves open (never inspected) are not judged.
function strictValidate(model) {
  const plain = JSON.parse(JSON.stringify(model));
  const seen = new Map(); // target -> {path, read: Set, enumerated, inspected}
  const proxies = new WeakMap();
  const wrap = (value, path) => {
    if (value === null || typeof value !== "object") {
      return value;
    }
    if (proxies.has(value)) {
      return proxies.get(value);
    }
    const info = { path, read: new Set(), enumerated: false, inspected: false };
    seen.set(value, info);
    const proxy = new Proxy(value, {
      get(target, prop, receiver) {
        if (typeof prop === "string") {
          info.read.add(prop);
          if (!Array.isArray(target)) {
            info.inspected = true;
          }
          if (Object.prototype.hasOwnProperty.call(target, prop)) {
            return wrap(target[prop], `${path}/${prop}`);
          }
        }
        return Reflect.get(target, prop, receiver);
      },
      has(target, prop) {
        if (typeof prop === "string") {
          info.read.add(prop);
          info.inspected = true;
        }
        return Reflect.has(target, prop);
      },
      ownKeys(target) {
        info.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  const root = wrap(plain, "");
  let error = null;
  try {
    model.constructor.prototype.validate.call(root);
  } catch (e) {
    error = e;
  }
  const unknown = [];
  for (const [target, info] of seen) {
    if (Array.isArray(target) || info.enumerated || !info.inspected) {
      continue;
    }
    for (const key of Object.keys(target)) {
      if (!info.read.has(key)) {
        unknown.push(`${info.path}/${key}`);
      }
    }
  }
  return { error, unknown };
}

for (const doc of docs) {
  current = doc;
  const { apiVersion, kind } = doc.obj;
  const cls = await modelClass(apiVersion, kind);
  if (!cls) {
    report(`unknown apiVersion/kind ${apiVersion}/${kind}: no schema for it in kubernetes-models, @kubernetes-models/keda or @kubernetes-models/prometheus-operator`);
    continue;
  }
  const model = new cls(doc.obj);
  const { error, unknown } = strictValidate(model);
  if (error) {
    const details = Array.isArray(error.errors)
      ? error.errors.map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword} ${JSON.stringify(e.params ?? {})}`)
      : [error.message];
    report(`does not match the ${apiVersion} ${kind} schema:\n    ${details.join("\n    ")}`);
  }
  for (const path of unknown) {
    report(`field ${path} is not in the ${apiVersion} ${kind} schema`);
  }
}

// ---------------------------------------------------------------- project rules

const byKind = (kind) => docs.filter((d) => d.obj.kind === kind);
const named = (kind, name) => docs.find((d) => d.obj.kind === kind && d.obj.metadata?.name === name);
const isSubset = (small, big) => Object.entries(small ?? {}).every(([k, v]) => big?.[k] === v);
const asNumber = (v) => (v === undefined || v === null || v === "" ? NaN : Number(v));

// Names unique per kind.
const keys = new Map();
for (const doc of docs) {
  const key = `${doc.obj.kind}/${doc.obj.metadata?.name}`;
  if (keys.has(key)) {
    report(`duplicate ${key}, also in ${where(keys.get(key))}`, doc);
  } else {
    keys.set(key, doc);
  }
}

// Namespace and label on everything.
for (const doc of docs) {
  current = doc;
  const meta = doc.obj.metadata ?? {};
  if (doc.obj.kind === "Namespace") {
    if (meta.name !== NAMESPACE) {
      report(`the Namespace must be named ${NAMESPACE}`);
    }
    if (meta.namespace !== undefined) {
      report("a Namespace has no metadata.namespace");
    }
    if (meta.labels?.["pod-security.kubernetes.io/enforce"] !== "restricted") {
      report("metadata.labels must have pod-security.kubernetes.io/enforce: restricted (the pods meet it)");
    }
  } else if (meta.namespace !== NAMESPACE) {
    report(`metadata.namespace must be ${NAMESPACE}, is ${JSON.stringify(meta.namespace)}`);
  }
  if (meta.labels?.[PART_OF] !== "tributary") {
    report(`metadata.labels must have ${PART_OF}: tributary`);
  }
}
if (!named("Namespace", NAMESPACE)) {
  report(`no Namespace ${NAMESPACE}`, null);
}

// Secrets and their keys, ConfigMaps and their keys (a ConfigMap without data in its manifest,
// like tributary-pipeline, is filled by kubectl: its keys are not known here).
const secretKeys = new Map();
for (const doc of byKind("Secret")) {
  if (!/^secret.*\.ya?ml$/.test(doc.file)) {
    report("a Secret belongs in a secret*.yaml file", doc);
  }
  secretKeys.set(doc.obj.metadata.name, new Set([...Object.keys(doc.obj.data ?? {}), ...Object.keys(doc.obj.stringData ?? {})]));
}
const configMaps = new Map();
for (const doc of byKind("ConfigMap")) {
  const data = { ...(doc.obj.data ?? {}), ...(doc.obj.binaryData ?? {}) };
  configMaps.set(doc.obj.metadata.name, Object.keys(data).length > 0 ? data : null);
}

function checkSecretKey(name, key, what) {
  if (!secretKeys.has(name)) {
    report(`${what} names Secret ${name}, which no secret*.yaml defines`);
  } else if (!secretKeys.get(name).has(key)) {
    report(`${what} names key ${key} of Secret ${name}, which it does not have (keys: ${[...secretKeys.get(name)].join(", ")})`);
  }
}

function checkConfigMapKey(name, key, what) {
  if (!configMaps.has(name)) {
    report(`${what} names ConfigMap ${name}, which no manifest defines`);
  } else if (key !== undefined && configMaps.get(name) !== null && !(key in configMaps.get(name))) {
    report(`${what} names key ${key} of ConfigMap ${name}, which it does not have`);
  }
}

const connections = configMaps.get("tributary-connections") ?? {};
const partitions = asNumber(connections.TRIBUTARY_KAFKA_PARTITIONS ?? DEFAULT_PARTITIONS);
if (!Number.isInteger(partitions) || partitions < 1) {
  report(`TRIBUTARY_KAFKA_PARTITIONS in ConfigMap tributary-connections must be a whole number, is ${JSON.stringify(connections.TRIBUTARY_KAFKA_PARTITIONS)}`, null);
}

// Workloads: every pod and container.
const workloads = [...byKind("Deployment"), ...byKind("StatefulSet")];
const podLabels = new Map(); // workload doc -> pod template labels
for (const doc of workloads) {
  current = doc;
  const { kind, metadata, spec } = doc.obj;
  const name = metadata.name;
  const template = spec?.template ?? {};
  const pod = template.spec ?? {};
  const labels = template.metadata?.labels ?? {};
  podLabels.set(doc, labels);
  if (labels[PART_OF] !== "tributary") {
    report(`spec.template.metadata.labels must have ${PART_OF}: tributary`);
  }
  if (!isSubset(spec?.selector?.matchLabels, labels) || Object.keys(spec?.selector?.matchLabels ?? {}).length === 0) {
    report("spec.selector.matchLabels must be non-empty and match the pod template's labels");
  }
  if (spec?.replicas !== undefined) {
    report("spec.replicas is set, but an autoscaler owns it: re-applying the manifest would reset it");
  }
  if (kind === "StatefulSet") {
    if (spec.podManagementPolicy !== "Parallel") {
      report("spec.podManagementPolicy must be Parallel");
    }
    if (spec.serviceName !== `${name}-headless`) {
      report(`spec.serviceName must be ${name}-headless`);
    }
    const headless = named("Service", spec.serviceName);
    if (!headless) {
      report(`spec.serviceName ${spec.serviceName}: no such Service`);
    } else if (headless.obj.spec?.clusterIP !== "None") {
      report(`Service ${spec.serviceName} must be headless (clusterIP: None)`);
    }
    if (!byKind("Service").some((s) => s.obj.spec?.clusterIP !== "None" && isSubset(s.obj.spec?.selector, labels))) {
      report("no ClusterIP Service selects these pods");
    }
  }

  const sc = pod.securityContext ?? {};
  if (sc.runAsNonRoot !== true) report("spec.template.spec.securityContext.runAsNonRoot must be true");
  if (sc.runAsUser !== UID) report(`spec.template.spec.securityContext.runAsUser must be ${UID}`);
  if (sc.runAsGroup !== UID) report(`spec.template.spec.securityContext.runAsGroup must be ${UID}`);
  if (sc.fsGroup !== UID) report(`spec.template.spec.securityContext.fsGroup must be ${UID}`);
  if (sc.seccompProfile?.type !== "RuntimeDefault") report("spec.template.spec.securityContext.seccompProfile.type must be RuntimeDefault");
  if (pod.serviceAccountName && !named("ServiceAccount", pod.serviceAccountName)) {
    report(`serviceAccountName ${pod.serviceAccountName}: no such ServiceAccount`);
  }

  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  for (const volume of pod.volumes ?? []) {
    if (volume.configMap) checkConfigMapKey(volume.configMap.name, undefined, `volume ${volume.name}`);
    if (volume.secret) {
      if (!secretKeys.has(volume.secret.secretName)) report(`volume ${volume.name} names Secret ${volume.secret.secretName}, which no secret*.yaml defines`);
    }
    for (const source of volume.projected?.sources ?? []) {
      if (source.configMap) {
        for (const item of source.configMap.items ?? [{}]) {
          checkConfigMapKey(source.configMap.name, item.key, `volume ${volume.name}`);
        }
      }
      if (source.secret) {
        for (const item of source.secret.items ?? []) {
          checkSecretKey(source.secret.name, item.key, `volume ${volume.name}`);
        }
      }
    }
  }

  const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
  for (const c of containers) {
    const at = `container ${c.name}`;
    const env = new Map((c.env ?? []).map((e) => [e.name, e]));
    const literal = (n) => env.get(n)?.value;

    // Resources: requests for the scheduler and the HPA, memory limit = request.
    const res = c.resources ?? {};
    if (!res.requests?.cpu) report(`${at}: resources.requests.cpu is missing`);
    if (!res.requests?.memory) report(`${at}: resources.requests.memory is missing`);
    if (!res.limits?.memory) report(`${at}: resources.limits.memory is missing`);
    if (res.requests?.memory !== undefined && String(res.requests.memory) !== String(res.limits?.memory)) {
      report(`${at}: resources.requests.memory (${res.requests.memory}) must equal resources.limits.memory (${res.limits?.memory})`);
    }

    // Probes, on a port the container declares.
    const ports = new Set((c.ports ?? []).flatMap((p) => [p.name, p.containerPort]));
    for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
      if (!c[probe]) {
        report(`${at}: ${probe} is missing`);
      } else if (c[probe].httpGet && !ports.has(c[probe].httpGet.port)) {
        report(`${at}: ${probe} uses port ${c[probe].httpGet.port}, which the container does not declare`);
      }
    }
    if (c.readinessProbe?.httpGet?.path !== "/health/ready") report(`${at}: readinessProbe must get /health/ready`);
    if (c.livenessProbe?.httpGet?.path !== "/health/live") report(`${at}: livenessProbe must get /health/live`);

    // Container security context.
    const csc = c.securityContext ?? {};
    if (csc.allowPrivilegeEscalation !== false) report(`${at}: securityContext.allowPrivilegeEscalation must be false`);
    if (csc.readOnlyRootFilesystem !== true) report(`${at}: securityContext.readOnlyRootFilesystem must be true`);
    if (!(csc.capabilities?.drop ?? []).includes("ALL")) report(`${at}: securityContext.capabilities.drop must include ALL`);
    if ((csc.capabilities?.add ?? []).length > 0) report(`${at}: securityContext.capabilities.add must be empty`);
    if (csc.privileged === true) report(`${at}: must not be privileged`);
    if (csc.runAsUser !== undefined && csc.runAsUser === 0) report(`${at}: must not run as root`);

    // A writable /tmp on a read-only root file system.
    const tmp = (c.volumeMounts ?? []).find((m) => m.mountPath === "/tmp");
    if (!tmp) {
      report(`${at}: no volume mounted at /tmp (the root file system is read-only)`);
    } else if (!volumes.get(tmp.name)?.emptyDir) {
      report(`${at}: /tmp must be an emptyDir volume`);
    }
    for (const m of c.volumeMounts ?? []) {
      if (!volumes.has(m.name)) report(`${at}: volumeMount ${m.name} has no volume`);
    }

    // Connections and secrets.
    const envFromMaps = (c.envFrom ?? []).filter((e) => e.configMapRef).map((e) => e.configMapRef.name);
    for (const e of c.envFrom ?? []) {
      if (e.configMapRef) checkConfigMapKey(e.configMapRef.name, undefined, `${at}: envFrom`);
      if (e.secretRef && !secretKeys.has(e.secretRef.name)) report(`${at}: envFrom names Secret ${e.secretRef.name}, which no secret*.yaml defines`);
    }
    if (!envFromMaps.includes("tributary-connections")) report(`${at}: envFrom must load ConfigMap tributary-connections`);
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) checkSecretKey(ref.name, ref.key, `${at}: env ${e.name}`);
      const cmRef = e.valueFrom?.configMapKeyRef;
      if (cmRef) checkConfigMapKey(cmRef.name, cmRef.key, `${at}: env ${e.name}`);
    }
    const secretEnv = {
      TRIBUTARY_CONTROL_TOKEN: ["tributary-control-token", "token", false],
      TRIBUTARY_KAFKA_PROPERTIES_SASL_JAAS_CONFIG: ["tributary-credentials", "kafka-sasl-jaas-config", true],
      TRIBUTARY_REDIS_PASSWORD: ["tributary-credentials", "redis-password", true],
      TRIBUTARY_SQL_PASSWORD: ["tributary-credentials", "sql-password", true],
      TRIBUTARY_RABBITMQ_PASSWORD: ["tributary-credentials", "rabbitmq-password", true],
    };
    for (const [variable, [secret, key, optional]] of Object.entries(secretEnv)) {
      const ref = env.get(variable)?.valueFrom?.secretKeyRef;
      if (!ref || ref.name !== secret || ref.key !== key) {
        report(`${at}: env ${variable} must come from key ${key} of Secret ${secret}`);
      } else if (optional && ref.optional !== true) {
        report(`${at}: env ${variable}: its secretKeyRef must be optional: true`);
      }
    }
    // No secret as a literal value, here or in the connections ConfigMap.
    for (const e of c.env ?? []) {
      if (e.value !== undefined && /PASSWORD|JAAS|SECRET|TOKEN/.test(e.name)) {
        report(`${at}: env ${e.name} is a secret: take it from a Secret, not a literal value`);
      }
    }

    // Identity: the pod name; static group membership for the StatefulSets.
    const fromPodName = (n) => env.get(n)?.valueFrom?.fieldRef?.fieldPath === "metadata.name";
    if (!fromPodName("TRIBUTARY_INSTANCE_ID")) report(`${at}: env TRIBUTARY_INSTANCE_ID must come from fieldRef metadata.name`);
    if (kind === "StatefulSet" && !fromPodName("TRIBUTARY_KAFKA_GROUP_INSTANCE_ID")) {
      report(`${at}: env TRIBUTARY_KAFKA_GROUP_INSTANCE_ID must come from fieldRef metadata.name`);
    }
    if (kind === "Deployment" && env.has("TRIBUTARY_KAFKA_GROUP_INSTANCE_ID")) {
      report(`${at}: a Deployment's pods must not use static group membership (TRIBUTARY_KAFKA_GROUP_INSTANCE_ID)`);
    }

    // JVM flags.
    const javaOpts = literal("JAVA_OPTS") ?? "";
    for (const flag of ["-XX:MaxRAMPercentage=", "-XX:+ExitOnOutOfMemoryError"]) {
      if (!javaOpts.includes(flag)) report(`${at}: env JAVA_OPTS must contain ${flag}`);
    }
    if (env.has("JAVA_TOOL_OPTIONS")) report(`${at}: JAVA_TOOL_OPTIONS is not needed (the jar's manifest opens what Hazelcast needs)`);

    // Graceful shutdown: preStop sleep, then drain, then grace, all within the grace period.
    const preStop = asNumber(c.lifecycle?.preStop?.sleep?.seconds);
    const drain = asNumber(literal("TRIBUTARY_SHUTDOWN_DRAIN_SECONDS"));
    const grace = asNumber(literal("TRIBUTARY_SHUTDOWN_GRACE_SECONDS"));
    if (!(preStop > 0)) report(`${at}: lifecycle.preStop.sleep.seconds must be set`);
    if (!(drain > 0)) report(`${at}: env TRIBUTARY_SHUTDOWN_DRAIN_SECONDS must be set to a positive number`);
    if (!(grace > 0)) report(`${at}: env TRIBUTARY_SHUTDOWN_GRACE_SECONDS must be set to a positive number`);
    const period = asNumber(pod.terminationGracePeriodSeconds ?? 30);
    if (preStop > 0 && drain > 0 && grace > 0 && !(period > preStop + drain + grace)) {
      report(`terminationGracePeriodSeconds (${period}) must exceed preStop + drain + grace (${preStop} + ${drain} + ${grace})`);
    }
  }
}

// Services select pods of some workload, on ports the pods declare.
for (const doc of byKind("Service")) {
  current = doc;
  const selector = doc.obj.spec?.selector;
  const target = workloads.find((w) => isSubset(selector, podLabels.get(w)));
  if (!selector || Object.keys(selector).length === 0 || !target) {
    report("spec.selector selects no workload's pods");
    continue;
  }
  const portNames = new Set(target.obj.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).flatMap((p) => [p.name, p.containerPort])));
  for (const port of doc.obj.spec.ports ?? []) {
    if (port.targetPort !== undefined && !portNames.has(port.targetPort)) {
      report(`port ${port.name}: targetPort ${port.targetPort} is not a port of ${target.obj.kind}/${target.obj.metadata.name}`);
    }
  }
}

// Every workload: a PodDisruptionBudget with maxUnavailable 1, and an autoscaler.
for (const doc of workloads) {
  current = doc;
  const labels = podLabels.get(doc);
  const pdbs = byKind("PodDisruptionBudget").filter((p) => isSubset(p.obj.spec?.selector?.matchLabels, labels));
  if (pdbs.length !== 1) {
    report(`needs exactly one PodDisruptionBudget selecting its pods, has ${pdbs.length}`);
  } else if (pdbs[0].obj.spec.maxUnavailable !== 1) {
    report(`PodDisruptionBudget ${pdbs[0].obj.metadata.name} must have maxUnavailable: 1`);
  }
  const { kind, metadata } = doc.obj;
  const targets = (d) => d.obj.spec?.scaleTargetRef?.name === metadata.name && (d.obj.spec.scaleTargetRef.kind ?? "Deployment") === kind;
  const hpas = byKind("HorizontalPodAutoscaler").filter(targets);
  const scaledObjects = byKind("ScaledObject").filter(targets);
  if (kind === "Deployment") {
    const cpu = hpas.flatMap((h) => h.obj.spec.metrics ?? []).find((m) => m.type === "Resource" && m.resource?.name === "cpu");
    if (hpas.length !== 1 || !cpu || cpu.resource.target?.averageUtilization !== 70) {
      report("needs one HorizontalPodAutoscaler (autoscaling/v2) on CPU at 70% utilization");
    }
  } else if (scaledObjects.length !== 1) {
    report(`needs exactly one KEDA ScaledObject, has ${scaledObjects.length}`);
  }
}
for (const doc of [...byKind("HorizontalPodAutoscaler"), ...byKind("ScaledObject")]) {
  current = doc;
  const ref = doc.obj.spec?.scaleTargetRef ?? {};
  if (!named(ref.kind ?? "Deployment", ref.name)) {
    report(`scaleTargetRef ${ref.kind ?? "Deployment"}/${ref.name}: no such workload`);
  }
}

// KEDA: the cap is the partition count; the scaler's login matches the services'.
const SASL = { PLAIN: "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512", OAUTHBEARER: "oauthbearer", GSSAPI: "gssapi" };
const protocol = connections.TRIBUTARY_KAFKA_PROPERTIES_SECURITY_PROTOCOL ?? "PLAINTEXT";
for (const doc of byKind("ScaledObject")) {
  current = doc;
  const spec = doc.obj.spec ?? {};
  if (spec.scaleTargetRef?.kind !== "StatefulSet") report("scaleTargetRef.kind must be StatefulSet");
  if (spec.maxReplicaCount !== partitions) {
    report(`maxReplicaCount (${spec.maxReplicaCount}) must equal the partition count TRIBUTARY_KAFKA_PARTITIONS (${partitions})`);
  }
  if (spec.minReplicaCount !== 1) report("minReplicaCount must be 1");
  const target = named("StatefulSet", spec.scaleTargetRef?.name);
  const containers = target?.obj.spec.template.spec.containers ?? [];
  const container = spec.scaleTargetRef?.envSourceContainerName
    ? containers.find((c) => c.name === spec.scaleTargetRef.envSourceContainerName)
    : containers[0];
  if (target && !container) report(`scaleTargetRef.envSourceContainerName ${spec.scaleTargetRef.envSourceContainerName}: no such container`);
  const containerEnv = new Set([
    ...(container?.env ?? []).map((e) => e.name),
    ...(container?.envFrom ?? []).flatMap((e) => (e.configMapRef ? Object.keys(configMaps.get(e.configMapRef.name) ?? {}) : [])),
  ]);
  for (const [i, trigger] of (spec.triggers ?? []).entries()) {
    const at = `triggers[${i}]`;
    const md = trigger.metadata ?? {};
    if (trigger.type !== "kafka") {
      report(`${at}: type must be kafka`);
      continue;
    }
    for (const [key, value] of Object.entries(md)) {
      if (key.endsWith("FromEnv") && !containerEnv.has(value)) {
        report(`${at}: metadata.${key} names ${value}, which the target container's environment does not have`);
      }
    }
    if (!md.bootstrapServers && !md.bootstrapServersFromEnv) report(`${at}: metadata.bootstrapServers(FromEnv) is missing`);
    const stage = spec.scaleTargetRef?.name?.replace(/-service$/, "");
    if (md.consumerGroup !== `tributary.payments.${stage}`) report(`${at}: metadata.consumerGroup must be tributary.payments.${stage}`);
    if (!md.topic) report(`${at}: metadata.topic is missing`);
    if (!(asNumber(md.lagThreshold) > 0)) report(`${at}: metadata.lagThreshold must be a positive number`);
    if (md.activationLagThreshold === undefined) report(`${at}: metadata.activationLagThreshold is missing`);
    if (md.allowIdleConsumers !== "false") report(`${at}: metadata.allowIdleConsumers must be "false"`);
    if (md.offsetResetPolicy !== "earliest") report(`${at}: metadata.offsetResetPolicy must be earliest (as the services' consumers)`);
    const secured = protocol !== "PLAINTEXT";
    const authName = trigger.authenticationRef?.name;
    if (secured && !authName) report(`${at}: Kafka is ${protocol} (tributary-connections): the trigger needs an authenticationRef`);
    if (authName) {
      const auth = named("TriggerAuthentication", authName);
      if (!auth) {
        report(`${at}: authenticationRef ${authName}: no such TriggerAuthentication`);
        continue;
      }
      const params = new Map((auth.obj.spec?.secretTargetRef ?? []).map((r) => [r.parameter, r]));
      const value = (p) => {
        const r = params.get(p);
        const secret = r && byKind("Secret").find((s) => s.obj.metadata.name === r.name);
        return secret?.obj.stringData?.[r.key] ?? (secret?.obj.data?.[r.key] !== undefined ? Buffer.from(secret.obj.data[r.key], "base64").toString() : undefined);
      };
      const tls = value("tls");
      const wantTls = protocol === "SSL" || protocol === "SASL_SSL" ? "enable" : "disable";
      if (tls !== undefined && tls !== wantTls) report(`${at}: KEDA's tls is ${tls}, but the services' security.protocol is ${protocol}`);
      const mechanism = connections.TRIBUTARY_KAFKA_PROPERTIES_SASL_MECHANISM;
      const sasl = value("sasl");
      if (protocol.startsWith("SASL_") && sasl !== undefined && sasl !== SASL[mechanism]) {
        report(`${at}: KEDA's sasl is ${sasl}, but the services' sasl.mechanism is ${mechanism} (KEDA: ${SASL[mechanism] ?? "unsupported"})`);
      }
    }
  }
}
for (const doc of byKind("TriggerAuthentication")) {
  current = doc;
  for (const ref of doc.obj.spec?.secretTargetRef ?? []) {
    checkSecretKey(ref.name, ref.key, `secretTargetRef ${ref.parameter}`);
  }
}

// Connections: no secrets in the ConfigMap.
for (const key of Object.keys(connections)) {
  if (/PASSWORD|JAAS|SECRET|TOKEN/.test(key) && !key.endsWith("_FILE")) {
    report(`ConfigMap tributary-connections holds ${key}, a secret: move it to Secret tributary-credentials`, named("ConfigMap", "tributary-connections"));
  }
}

// Monitoring: the PodMonitor reaches every workload's pods on a declared port.
for (const doc of byKind("PodMonitor")) {
  current = doc;
  const spec = doc.obj.spec ?? {};
  for (const w of workloads) {
    if (!isSubset(spec.selector?.matchLabels, podLabels.get(w))) {
      report(`spec.selector does not select the pods of ${w.obj.kind}/${w.obj.metadata.name}`);
      continue;
    }
    for (const endpoint of spec.podMetricsEndpoints ?? []) {
      if (!w.obj.spec.template.spec.containers.some((c) => (c.ports ?? []).some((p) => p.name === endpoint.port))) {
        report(`podMetricsEndpoints port ${endpoint.port} is not a port of ${w.obj.kind}/${w.obj.metadata.name}`);
      }
    }
  }
  if (!(spec.namespaceSelector?.matchNames ?? []).includes(NAMESPACE)) report(`spec.namespaceSelector.matchNames must include ${NAMESPACE}`);
}
if (byKind("PodMonitor").length === 0) report("no PodMonitor", null);
if (byKind("PrometheusRule").length === 0) report("no PrometheusRule", null);

// ---------------------------------------------------------------- result

if (problems.length > 0) {
  for (const p of problems) {
    console.error(`ERROR: ${p}`);
  }
  console.error(`${problems.length} problem(s) in ${dir}`);
  process.exit(1);
}
const kinds = [...new Set(docs.map((d) => d.obj.kind))].sort();
console.log(`${docs.length} documents in ${files.length} files valid (${kinds.join(", ")})`);
