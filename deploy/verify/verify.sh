#!/usr/bin/env bash
# Checks the deployment artifacts without a Docker engine or a Kubernetes cluster:
#   - every manifest in deploy/k8s against the Kubernetes, KEDA and Prometheus Operator schemas,
#     and the project's rules and cross-references (validate-manifests.mjs)
#   - the metrics the alerts and the Grafana dashboard query (check-metrics.mjs)
#   - the Dockerfile's build stage copies what the Maven reactor needs
#   - the alert rules: promtool check rules, and promtool test rules (prometheus-rules.test.yaml)
#   - docker-compose.yml: `docker-compose config` (Compose v1), and `docker compose config`
#     (Compose v2) where it exists
# Prints one "ok: ..." line per step; stops at the first failure with a message and exit code 1.
# Runs from any directory. Tools: node, npm, promtool, docker-compose; `sudo bash
# deploy/local/services.sh` installs what is missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="$HERE/build"
COMPOSE_FILE="$ROOT/deploy/docker/docker-compose.yml"
DOCKERFILE="$ROOT/deploy/docker/Dockerfile"
DOCKERIGNORE="$ROOT/deploy/docker/Dockerfile.dockerignore"
START=$SECONDS

ok() { echo "ok: $*"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# run_step DESCRIPTION COMMAND...: runs COMMAND with its output captured; prints it on failure.
run_step() {
    local what="$1" out
    shift
    if ! out="$("$@" 2>&1)"; then
        printf '%s\n' "$out" >&2
        fail "$what"
    fi
    STEP_OUTPUT="$out"
}

for tool in node npm promtool docker-compose; do
    command -v "$tool" >/dev/null 2>&1 \
        || fail "$tool is not installed; run: sudo bash deploy/local/services.sh (it installs node, npm, promtool and docker-compose)"
done
ok "tools: node $(node --version), npm $(npm --version), $(promtool --version 2>&1 | head -n 1 | cut -d' ' -f1-3), docker-compose $(docker-compose version --short 2>/dev/null)"

# ---------------------------------------------------------------- node_modules
cd "$HERE"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    run_step "npm ci in deploy/verify" npm ci --no-audit --no-fund --loglevel=error
    ok "npm ci: installed the pinned packages from package-lock.json"
else
    ok "node_modules up to date with package-lock.json"
fi

# ---------------------------------------------------------------- manifests
run_step "deploy/k8s manifests are invalid (see above)" node validate-manifests.mjs "$ROOT/deploy/k8s"
ok "manifests: $STEP_OUTPUT"

run_step "an alert or dashboard queries a metric the services do not export (see above)" node check-metrics.mjs
ok "metrics: $STEP_OUTPUT"

# ---------------------------------------------------------------- Dockerfile
# The reactor reads every module <modules> lists, so the build stage needs each module's pom, and
# the main sources of every module `-pl SERVICE -am` builds (all but loadtest, which no service
# depends on).
modules="$(sed -n 's:.*<module>\(.*\)</module>.*:\1:p' "$ROOT/pom.xml")"
[ -n "$modules" ] || fail "no <module> in pom.xml"
count=0
for module in $modules; do
    grep -Eq "^COPY +$module/pom\.xml +" "$DOCKERFILE" \
        || fail "deploy/docker/Dockerfile does not copy $module/pom.xml, which the reactor (pom.xml <modules>) needs"
    if [ "$module" != loadtest ] && [ -d "$ROOT/$module/src/main" ]; then
        grep -Eq "^COPY +$module/src/main +" "$DOCKERFILE" \
            || fail "deploy/docker/Dockerfile does not copy $module/src/main, which -pl SERVICE -am builds"
    fi
    count=$((count + 1))
done
# shellcheck disable=SC2016 # the literal $SERVICE of the Dockerfile
grep -Eq '^RUN mvn .*-DskipTests .*-pl "\$SERVICE" -am package' "$DOCKERFILE" \
    || fail "deploy/docker/Dockerfile: the build stage must run mvn -B -ntp -DskipTests -pl \"\$SERVICE\" -am package"
for pattern in '**/target' '.local' '**/node_modules'; do
    grep -qxF "$pattern" "$DOCKERIGNORE" || fail "deploy/docker/Dockerfile.dockerignore must exclude $pattern"
done
ok "Dockerfile: copies the $count reactor poms and the sources -am builds; the context excludes target, .local, node_modules"

# ---------------------------------------------------------------- alert rules
mkdir -p "$BUILD"
run_step "cannot extract the PrometheusRule's groups" node extract-rules.mjs "$BUILD/prometheus-rules.yaml"
run_step "promtool check rules failed on deploy/k8s/prometheus-rules.yaml" promtool check rules "$BUILD/prometheus-rules.yaml"
ok "promtool check rules: $(printf '%s\n' "$STEP_OUTPUT" | grep -o 'SUCCESS: .*' | head -n 1)"
# promtool resolves rule_files relative to the test file: build/prometheus-rules.yaml.
run_step "promtool test rules: an alert unit test failed" promtool test rules "$HERE/prometheus-rules.test.yaml"
tests="$(grep -c '^  - name:' "$HERE/prometheus-rules.test.yaml")"
ok "promtool test rules: $tests alert tests pass"

# ---------------------------------------------------------------- compose
cd "$ROOT"
run_step "docker-compose (v1) config rejects deploy/docker/docker-compose.yml" \
    env TRIBUTARY_CONTROL_TOKEN=x docker-compose -f "$COMPOSE_FILE" config -q
if env -u TRIBUTARY_CONTROL_TOKEN docker-compose -f "$COMPOSE_FILE" config -q >/dev/null 2>&1; then
    fail "deploy/docker/docker-compose.yml must require TRIBUTARY_CONTROL_TOKEN from the environment"
fi
ok "docker-compose $(docker-compose version --short 2>/dev/null) config: valid; TRIBUTARY_CONTROL_TOKEN is required"
if docker compose version >/dev/null 2>&1; then
    run_step "docker compose (v2) config rejects deploy/docker/docker-compose.yml" \
        env TRIBUTARY_CONTROL_TOKEN=x docker compose -f "$COMPOSE_FILE" config -q
    ok "docker compose $(docker compose version --short 2>/dev/null) config: valid"
else
    echo "skipped: docker compose (v2) is not installed here (docker compose version fails)"
fi

ok "all deployment checks passed in $((SECONDS - START)) s"
