#!/usr/bin/env bash
# The main job from a fresh clone: install what is missing, bring up the dev stack (local platform: real processes
# behind a real HAProxy), show the live and preview URLs and the versions per color, and say what to try next.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS
say() { printf '\n\033[1m==> %s\033[0m (%ss)\n' "$*" "$((SECONDS - started))"; }

say "dependencies"
PATH="$(bash scripts/node.sh):$PATH"
[[ -d node_modules ]] || npm ci --no-audit --no-fund
[[ -d policy/node_modules ]] || (cd policy && npm ci --no-audit --no-fund)
bash scripts/install-system-deps.sh

say "Pulumi toolchain (the first run builds the CLI and the language host from Go modules: ~6 min on 2 quiet cores)"
# Only what the dev stack (local platform) needs: no Kubernetes provider (a kubernetes stack brings it on first use).
. scripts/env.sh
echo "pulumi $(pulumi version) from $BLUEGREEN_TOOLCHAIN_BIN; state in $BLUEGREEN_STATE_DIR"

say "dev stack"
pulumi stack select dev 2>/dev/null || pulumi stack init dev
pulumi up --yes --skip-preview --policy-pack policy

say "what is running"
node -e '
  const out = JSON.parse(process.argv[1]);
  console.log(`live color: ${out.liveColor}`);
  for (const [name, s] of Object.entries(out.services ?? {})) {
    console.log(`\n  ${name}`);
    console.log(`    live    ${s.liveEndpoint}   (${s.liveColor}, version ${s.versions[s.liveColor]})`);
    console.log(`    preview ${s.previewEndpoint}   (${s.idleColor}, version ${s.versions[s.idleColor]})`);
  }
' "$(pulumi stack output --json)"

say "Prometheus (scrapes the routers' HAProxy exporters and the app instances; docs/observability.md)"
bash scripts/prometheus.sh start --stack dev

live_url="$(pulumi stack output --json | node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8")); const s = Object.values(o.services)[0]; console.log(s.liveEndpoint)')"
cat <<NEXT

Ready in $((SECONDS - started)) s.

Try next:
  curl -s $live_url                              # answers with the live color and version
  npm run pulumi -- config set bluegreen:liveColor green    # flip the flag...
  npm run pulumi -- up --yes --policy-pack policy           # ...and switch: only the router changes
  npx bluegreen deploy --stack dev --service web --version 1.1.0   # a whole verified release
  npx bluegreen status --stack dev
  npx bluegreen deploy --stack dev --service web --version 1.2.0-slow80 --max-latency-ratio 2 \
    --prometheus-url http://127.0.0.1:${BLUEGREEN_PROMETHEUS_PORT:-34090} \
    --prometheus-rule 'sum(rate(bluegreen_app_errors_total{version="{{version}}"}[30s])) > 1'   # judged vs blue
  npx bluegreen report --stack dev                          # the HTML report of the last release
  bash scripts/prometheus.sh stop                           # stop Prometheus
  npm run pulumi -- destroy --yes                           # stop everything else
NEXT
