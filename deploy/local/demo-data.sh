#!/usr/bin/env bash
# Loads the demo pipeline's reference data through the enrich service's bulk API: 100,000 merchants
# (M0..M99999, 20 categories) and a block list of 100 cards (C999900..C999999).
#   deploy/local/demo-data.sh        (needs TRIBUTARY_CONTROL_TOKEN or .local/control-token)
#   MERCHANTS=1000000 deploy/local/demo-data.sh   a million merchants (M0..M999999), as in docs/BENCHMARKS.md
set -euo pipefail
cd "$(dirname "$0")/../.."
TOKEN=${TRIBUTARY_CONTROL_TOKEN:-$(cat .local/control-token)}
ENRICH=${ENRICH_URL:-http://127.0.0.1:8081}
awk -v n="${MERCHANTS:-100000}" 'BEGIN {
  split("food books fuel travel fashion electronics grocery pharmacy games music sports toys garden pets beauty home auto hotel cinema taxi", cat, " ");
  split("FR DE ES IT NL BE PT IE AT PL", country, " ");
  print "key,name,category,country,risk";
  for (i = 0; i < n; i++) printf "M%d,Merchant %d,%s,%s,%s\n", i, i, cat[i % 20 + 1], country[i % 10 + 1], (i % 7 == 0 ? "high" : "low");
}' | curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' --data-binary @- "$ENRICH/reference/merchant"
echo
seq 999900 999999 | sed 's/^/C/' | (echo key; cat) |
  curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' --data-binary @- "$ENRICH/reference/blocked_cards"
echo
