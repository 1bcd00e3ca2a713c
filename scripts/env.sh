# shellcheck shell=bash
# Source this file (`. scripts/env.sh`) to run the project's own Pulumi commands: it puts the pinned toolchain on
# PATH and logs in to a file backend inside the checkout (or $BLUEGREEN_STATE_DIR) with the passphrase provider.
# Sourced from bash scripts only; it does not change the calling shell's options.
# With BLUEGREEN_TOOLCHAIN_CHECK_ONLY=1 nothing is built: a missing toolchain fails with one line (the CLI uses this).
#
# What the toolchain brings depends on the stacks in use (scripts/toolchain.sh): `. scripts/env.sh --for ARGS...`
# reads the stacks a command line names (--stack/-s/--to) and also brings what they need (the Kubernetes provider
# for a kubernetes stack); BLUEGREEN_TOOLCHAIN_WITH=kubernetes brings it in any case (scripts/test.sh).
BLUEGREEN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=toolchain/stacks.sh
. "$BLUEGREEN_ROOT/scripts/toolchain/stacks.sh"
BLUEGREEN_TOOLCHAIN_STACKS="${BLUEGREEN_TOOLCHAIN_STACKS:-}"
if [[ "${1:-}" == "--for" ]]; then
  shift
  BLUEGREEN_TOOLCHAIN_STACKS="$BLUEGREEN_TOOLCHAIN_STACKS ${PULUMI_STACK:-} $(bluegreen_stacks_in_args "$@" | tr '\n' ' ')"
fi
# Node.js 24 (the machine's when new enough, else the build scripts/node.sh keeps in the toolchain cache).
BLUEGREEN_NODE_BIN="$(bash "$BLUEGREEN_ROOT/scripts/node.sh")" || return 1 2>/dev/null || exit 1
export BLUEGREEN_NODE_BIN
export PATH="$BLUEGREEN_NODE_BIN:$PATH"
if [[ "${BLUEGREEN_TOOLCHAIN_CHECK_ONLY:-}" == "1" ]]; then
  BLUEGREEN_TOOLCHAIN_BIN="$(BLUEGREEN_TOOLCHAIN_STACKS="$BLUEGREEN_TOOLCHAIN_STACKS" \
    BLUEGREEN_TOOLCHAIN_WITH="${BLUEGREEN_TOOLCHAIN_WITH:-}" bash "$BLUEGREEN_ROOT/scripts/toolchain.sh" --check)" ||
    return 64 2>/dev/null || exit 64
else
  BLUEGREEN_TOOLCHAIN_BIN="$(BLUEGREEN_TOOLCHAIN_STACKS="$BLUEGREEN_TOOLCHAIN_STACKS" \
    BLUEGREEN_TOOLCHAIN_WITH="${BLUEGREEN_TOOLCHAIN_WITH:-}" bash "$BLUEGREEN_ROOT/scripts/toolchain.sh")" ||
    return 1 2>/dev/null || exit 1
fi
export BLUEGREEN_TOOLCHAIN_BIN
export PATH="$BLUEGREEN_TOOLCHAIN_BIN:$PATH"
# A built toolchain brings its own Pulumi home holding the provider plugins it built (a `pulumi` found on PATH
# does not, and keeps the user's own ~/.pulumi).
if [[ -d "$BLUEGREEN_TOOLCHAIN_BIN/../pulumi-home/plugins" ]]; then
  PULUMI_HOME="$(cd "$BLUEGREEN_TOOLCHAIN_BIN/../pulumi-home" && pwd)"
  export PULUMI_HOME
fi
# No update checks and no plugin downloads: this project's runs use only the toolchain above.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# The program is type-checked once by `npm run typecheck` (tsc --noEmit); per-run type-checking would add seconds
# to every `up`, and a release switch is bounded by the `up` around it.
export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"
export BLUEGREEN_STATE_DIR="${BLUEGREEN_STATE_DIR:-$BLUEGREEN_ROOT/.state}"
mkdir -p "$BLUEGREEN_STATE_DIR"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$BLUEGREEN_STATE_DIR}"
# DEMO ONLY: a fixed passphrase so the local demo and tests run unattended. Set PULUMI_CONFIG_PASSPHRASE (or
# PULUMI_CONFIG_PASSPHRASE_FILE) to your own secret for anything that holds real secrets.
if [[ -z "${PULUMI_CONFIG_PASSPHRASE:-}" && -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]]; then
  export PULUMI_CONFIG_PASSPHRASE="bluegreen-demo-only"
fi
