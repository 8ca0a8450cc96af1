#!/usr/bin/env bash
# CPU profiles of the running local services (deploy/local/run.sh), taken with async-profiler while
# a load runs, e.g. in another terminal during a PipelineBenchmark.
#
#   loadtest/profile.sh [SECONDS] [INSTANCE...]   default 30 s and every running service instance
#                                                  (ingest, enrich, aggregate, enrich-8090, ...)
#
# The profiler is attached to the running JVMs (jcmd JVMTI.agent_load), so nothing is restarted.
# Writes .local/profiles/INSTANCE.html (flame graph) and INSTANCE.collapsed (one line per stack),
# and prints the methods with the most CPU samples of their own (self time) for each instance.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=$(pwd)/.local
DURATION=${1:-30}
[ $# -gt 0 ] && shift
INSTANCES=("$@")
if [ ${#INSTANCES[@]} = 0 ]; then
  for pidfile in "$STATE"/*.pid; do
    name=$(basename "$pidfile" .pid)
    [ "$name" = kafka ] || [ ! -e "$pidfile" ] || INSTANCES+=("$name")
  done
fi
[ ${#INSTANCES[@]} -gt 0 ] || { echo "no service runs: start the stack with deploy/local/run.sh" >&2; exit 1; }
for name in "${INSTANCES[@]}"; do
  kill -0 "$(cat "$STATE/$name.pid" 2>/dev/null)" 2>/dev/null || { echo "$name does not run (deploy/local/run.sh status)" >&2; exit 1; }
done

JAR=loadtest/target/profiler/async-profiler-4.1.jar
[ -f "$JAR" ] || mvn -q -B -ntp -f loadtest package -DskipTests
LIB="$STATE/profiler/linux-x64/libasyncProfiler.so"
if [ ! -f "$LIB" ]; then
  mkdir -p "$STATE/profiler"
  (cd "$STATE/profiler" && jar xf "$OLDPWD/$JAR" linux-x64/libasyncProfiler.so)
fi
OUT="$STATE/profiles"
mkdir -p "$OUT"

# jcmd reads a bare a=b as its own option: the agent options go in quotes.
# The agent reports its own errors in the service's log; jcmd only passes on its return code.
agent() {
  local out
  out=$(jcmd "$1" JVMTI.agent_load "$LIB" "\"$2\"" 2>&1) || true
  case "$out" in
    *"return code: 0"*) ;;
    *) echo "profiler command '$2' failed on pid $1 (its log under .local/ says why): $out" >&2; return 1 ;;
  esac
}

for name in "${INSTANCES[@]}"; do
  agent "$(cat "$STATE/$name.pid")" "start,event=cpu,interval=1ms,threads"
done
echo "profiling ${INSTANCES[*]} for $DURATION s..."
sleep "$DURATION"
for name in "${INSTANCES[@]}"; do
  pid=$(cat "$STATE/$name.pid")
  agent "$pid" "dump,threads,file=$OUT/$name.html"
  agent "$pid" "stop,threads,collapsed,file=$OUT/$name.collapsed"
done

for name in "${INSTANCES[@]}"; do
  echo
  echo "== $name ($OUT/$name.html)"
  # The first frame is the thread, as "[name tid=N]"; numbered pool threads are summed under one name.
  awk -v secs="$DURATION" '{ n = $NF; total += n; split($0, f, ";"); t = f[1]; sub(/^\[/, "", t); sub(/ tid=.*/, "", t);
         gsub(/[-#]?[0-9]+$/, "", t); thread[t] += n }
       END { printf "CPU: %.2f cores (%d samples of 1 ms in %d s); by thread:\n", total / 1000 / secs, total, secs;
             for (t in thread) if (thread[t] / total >= 0.01) printf "%6.1f%%  %s\n", 100 * thread[t] / total, t }' \
    "$OUT/$name.collapsed" | { read -r line; echo "$line"; sort -rn; }
  echo "most self time:"
  awk '{ n = $NF; $NF = ""; k = split($0, f, ";"); sub(/ +$/, "", f[k]); self[f[k]] += n; total += n }
       END { for (m in self) printf "%6.1f%%  %s\n", 100 * self[m] / total, m }' "$OUT/$name.collapsed" \
    | sort -rn | awk 'NR <= 15'
done
