#!/usr/bin/env bash
# Runs the pinned `pulumi` with the project's environment (toolchain, file backend, demo passphrase):
#   npm run pulumi -- stack ls
# A kubernetes stack's first `up`/`preview`/… builds the Kubernetes provider first, with progress (about 15 min,
# once): the stack named with -s/--stack, else the selected one (`pulumi stack select`).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh" --for "$@"
cd "$BLUEGREEN_ROOT"

# No stack on the command line: the selected stack decides, looked up only while the provider is missing and only
# for the commands that load providers (a `pulumi` start costs a few hundred ms).
needs_providers=0
for arg in "$@"; do
  case "$arg" in
    -*) continue ;;
    up | update | preview | pre | destroy | refresh | import | watch) needs_providers=1 ;;
  esac
  break
done
if ((needs_providers)) && [[ -z "${BLUEGREEN_TOOLCHAIN_STACKS// /}" ]] &&
  [[ ! -x "${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-kubernetes-v$(bluegreen_kubernetes_version)/pulumi-resource-kubernetes" ]]; then
  selected="$(pulumi stack --show-name --non-interactive </dev/null 2>/dev/null || true)"
  if [[ -n "$selected" && "$(bluegreen_stack_platform "$selected")" == "kubernetes" ]]; then
    bash "$BLUEGREEN_ROOT/scripts/toolchain.sh" --stack "$selected" >/dev/null
  fi
fi
exec pulumi "$@"
