#!/usr/bin/env bash
# Makes the Pulumi toolchain this project needs available and prints the folder that holds it (one line on stdout;
# progress goes to stderr).
#
# What is built depends on what is asked for. Always: the CLI and the language host (all the local and aws stacks
# need, e.g. `npm run demo`). The Kubernetes provider only with `--with kubernetes`, or when a stack named with
# `--stack` is a kubernetes stack (`bluegreen:platform: kubernetes` in stacks/Pulumi.<stack>.yaml, e.g. staging).
# `npm run pulumi`, `npm run bluegreen`, `npx bluegreen` pass the stack they are used with; `npm test` and `.ci/run`
# ask for everything.
#
#   1. A `pulumi` on PATH at or above the @pulumi/pulumi version in package-lock.json is used as it is (the path real
#      users with Pulumi installed take: nothing is built). The Kubernetes stack also needs the provider plugin at the
#      @pulumi/kubernetes version; if that `pulumi` has none, the script says how to install it.
#   2. Otherwise the toolchain is built from Go modules into a cache outside the checkout, each part keyed by its own
#      version so that changing one rebuilds only it:
#        cli-v<version>/pulumi                     the CLI (github.com/pulumi/pulumi/pkg/v3 at PULUMI_CLI_VERSION)
#        language-host-<sdk>-<hash>/               bluegreen's Node.js language host (scripts/toolchain/language-host)
#                                                  and its dynamic-provider launcher (pulumi-resource-pulumi-nodejs)
#        kubernetes-v<version>/                    the Kubernetes provider (github.com/pulumi/pulumi-kubernetes),
#                                                  only when asked for
#        pulumi-home/plugins/                      that provider installed as a plugin (PULUMI_HOME of the project's
#                                                  runs; see scripts/env.sh), found by version like a downloaded one
#        set-<cli>-<host>/bin/                     the folder printed: hard links to the CLI and the host (named bin/
#                                                  because the Automation API's PulumiCommand wants <root>/bin)
#      Each binary is built into a temporary name and renamed when complete, so an interrupted run resumes cleanly.
#      While a Go build runs, a line every BLUEGREEN_PROGRESS_SECONDS (20) says what, for how long, and what is next.
#
# Usage: toolchain.sh [--check] [--with kubernetes] [--stack NAME]...
#   --check            never build; silent when all is ready, else exit 64 with one line on stderr saying what to run
#   --with kubernetes  also the Kubernetes provider (`--with all` is the same today)
#   --stack NAME       also what stack NAME needs (the provider for a kubernetes stack; nothing more for the others)
#
# Environment:
#   BLUEGREEN_TOOLCHAIN_CACHE   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/toolchain)
#   BLUEGREEN_FORCE_BUILD=1     ignore a `pulumi` on PATH and use/build the cached toolchain
#   BLUEGREEN_TOOLCHAIN_WITH    parts as for --with (space or comma separated; scripts/test.sh sets kubernetes)
#   BLUEGREEN_TOOLCHAIN_STACKS  stacks as for --stack (space separated; set by scripts/pulumi.sh and with-env.sh)
#   BLUEGREEN_PROGRESS_SECONDS  seconds between progress lines of a long step (default 20)
#
# Never downloads from GitHub or get.pulumi.com: only the Go module proxy is used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=toolchain/versions.sh
. "$ROOT/scripts/toolchain/versions.sh"
log() { printf 'toolchain: %s\n' "$*" >&2; }
die() {
  printf 'toolchain: error: %s\n' "$*" >&2
  exit 1
}
usage() {
  sed -n 's/^# \{0,1\}//; /^Usage:/,/^$/p' "${BASH_SOURCE[0]}" | sed '$d' >&2
  exit "${1:-2}"
}

CHECK_ONLY=0
WANT_KUBERNETES=0
KUBERNETES_WHY=""
want_part() {
  case "$1" in
    kubernetes | all)
      WANT_KUBERNETES=1
      KUBERNETES_WHY="${KUBERNETES_WHY:-$2}"
      ;;
    "") ;;
    *) die "unknown part '$1' (known: kubernetes, all)" ;;
  esac
}
STACKS=()
WITH="${BLUEGREEN_TOOLCHAIN_WITH:-}"
for part in ${WITH//,/ }; do want_part "$part" "asked for by BLUEGREEN_TOOLCHAIN_WITH=$WITH"; done
for stack in ${BLUEGREEN_TOOLCHAIN_STACKS:-}; do STACKS+=("$stack"); done
while (($#)); do
  case "$1" in
    --check) CHECK_ONLY=1 ;;
    --with)
      (($# >= 2)) || usage
      want_part "$2" "asked for with --with $2"
      shift
      ;;
    --with=*) want_part "${1#--with=}" "asked for with $1" ;;
    --stack | -s)
      (($# >= 2)) || usage
      STACKS+=("$2")
      shift
      ;;
    --stack=*) STACKS+=("${1#--stack=}") ;;
    -h | --help) usage 0 ;;
    *)
      printf 'toolchain: error: unknown argument %s\n' "$1" >&2
      usage
      ;;
  esac
  shift
done

# shellcheck disable=SC2034 # read by stacks.sh
BLUEGREEN_ROOT="$ROOT"
# shellcheck source=toolchain/stacks.sh
. "$ROOT/scripts/toolchain/stacks.sh"
for stack in "${STACKS[@]}"; do
  if [[ "$(bluegreen_stack_platform "$stack")" == "kubernetes" ]]; then
    want_part kubernetes "stack ${stack##*/} is a kubernetes stack"
  fi
done

# Node.js for the project (the machine's when new enough, else the one scripts/node.sh fetched). scripts/env.sh has
# found it already and says where.
if [[ -n "${BLUEGREEN_NODE_BIN:-}" && -x "${BLUEGREEN_NODE_BIN}/node" ]]; then
  NODE_BIN="$BLUEGREEN_NODE_BIN"
else
  NODE_BIN="$(bash "$ROOT/scripts/node.sh")" || die "no usable Node.js (see above)"
fi
export PATH="$NODE_BIN:$PATH"

# version_at_least A B: true when semver A >= B (numeric major.minor.patch; a leading v and any suffix are ignored).
version_at_least() {
  local -a a b
  IFS=.+- read -r -a a <<<"${1#v}"
  IFS=.+- read -r -a b <<<"${2#v}"
  local i
  for i in 0 1 2; do
    [[ "${a[i]:-0}" =~ ^[0-9]+$ && "${b[i]:-0}" =~ ^[0-9]+$ ]] || return 1
    if ((10#${a[i]:-0} != 10#${b[i]:-0})); then
      ((10#${a[i]:-0} > 10#${b[i]:-0}))
      return
    fi
  done
}

# The versions npm resolved, from the committed lock file (what `npm ci` installs): one node start for both.
versions="$(node -e '
  const lock = require(process.argv[1]);
  const out = process.argv.slice(2).map((name) => {
    const entry = lock.packages && lock.packages["node_modules/" + name];
    if (!entry) { console.error("not in package-lock.json: " + name); process.exit(1); }
    return entry.version;
  });
  console.log(out.join(" "));
' "$ROOT/package-lock.json" @pulumi/pulumi @pulumi/kubernetes)" || die "cannot read the @pulumi/pulumi and @pulumi/kubernetes versions from package-lock.json"
read -r SDK_VERSION KUBERNETES_VERSION <<<"$versions"
version_at_least "$PULUMI_CLI_VERSION" "$SDK_VERSION" ||
  die "PULUMI_CLI_VERSION $PULUMI_CLI_VERSION (scripts/toolchain/versions.sh) is older than @pulumi/pulumi $SDK_VERSION"

# The one line that says what to run to get the Kubernetes provider (--check, and `pulumi` on PATH without it).
KUBERNETES_RUN="npm run toolchain -- --with kubernetes"

CACHE_ROOT="${BLUEGREEN_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/toolchain}"
# 1. A Pulumi install on PATH that can run this SDK wins (not this cache's own, put on PATH by scripts/env.sh).
on_path="$(command -v pulumi 2>/dev/null || true)"
if [[ -n "$on_path" && -d "$CACHE_ROOT" && "$(cd "$(dirname "$on_path")" && pwd -P)/" == "$(cd "$CACHE_ROOT" && pwd -P)/"* ]]; then
  on_path=""
fi
if [[ "${BLUEGREEN_FORCE_BUILD:-}" != "1" && -n "$on_path" ]]; then
  found="$(PULUMI_SKIP_UPDATE_CHECK=1 "$on_path" version 2>/dev/null || true)"
  if [[ "$found" =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] && version_at_least "$found" "$SDK_VERSION"; then
    log "using pulumi $found from $on_path (needs v$SDK_VERSION or newer)"
    if ! PULUMI_SKIP_UPDATE_CHECK=1 "$on_path" plugin ls 2>/dev/null | grep -Eq "^kubernetes[[:space:]]+resource[[:space:]]+${KUBERNETES_VERSION}[[:space:]]"; then
      install_cmd="pulumi plugin install resource kubernetes $KUBERNETES_VERSION"
      if [[ "$WANT_KUBERNETES" == "1" ]]; then
        printf 'that pulumi has no kubernetes %s provider plugin (%s): run `%s` (or `BLUEGREEN_FORCE_BUILD=1 %s` to build one)\n' \
          "$KUBERNETES_VERSION" "$KUBERNETES_WHY" "$install_cmd" "$KUBERNETES_RUN" >&2
        exit "$([[ "$CHECK_ONLY" == "1" ]] && echo 64 || echo 1)"
      fi
      log "note: no kubernetes $KUBERNETES_VERSION provider plugin in that install; the kubernetes (staging) stack needs it:" \
        "$install_cmd"
    fi
    dirname "$on_path"
    exit 0
  fi
  log "pulumi on PATH is ${found:-unknown}, this project needs v$SDK_VERSION or newer: using the built toolchain instead"
fi

# The Kubernetes provider module has no semver tags on the module proxy; each @pulumi/kubernetes release we support
# maps to the provider commit the proxy serves and the SDK module that commit was built against. (The newest
# @pulumi/kubernetes on npm is newer, but the proxy serves no provider source for it: the SDK stays at this version.)
case "$KUBERNETES_VERSION" in
  4.25.0)
    K8S_PROVIDER_MODULE_VERSION="v4.0.0-20260115033456-f47bc2d6f199"
    K8S_SDK_MODULE_VERSION="v4.24.0"
    ;;
  *)
    K8S_PROVIDER_MODULE_VERSION=""
    K8S_SDK_MODULE_VERSION=""
    ;;
esac

HOST_DIR="$ROOT/scripts/toolchain/language-host"
HOST_HASH="$(cat "$HOST_DIR/main.go" "$HOST_DIR/pulumi-resource-pulumi-nodejs" "$ROOT/scripts/toolchain/versions.sh" |
  sha256sum | cut -c1-12)"
CLI_DIR="$CACHE_ROOT/cli-v$PULUMI_CLI_VERSION"
HOSTBUILD_DIR="$CACHE_ROOT/language-host-v$PULUMI_CLI_VERSION-$HOST_HASH"
K8S_DIR="$CACHE_ROOT/kubernetes-v$KUBERNETES_VERSION"
HOME_DIR="$CACHE_ROOT/pulumi-home"
K8S_PLUGIN="$HOME_DIR/plugins/resource-kubernetes-v$KUBERNETES_VERSION"
SET_DIR="$CACHE_ROOT/set-v$PULUMI_CLI_VERSION-host-$HOST_HASH"
BIN="$SET_DIR/bin"

core_ready() { [[ -f "$SET_DIR/complete" ]]; }
kubernetes_ready() { [[ -x "$K8S_PLUGIN/pulumi-resource-kubernetes" && ! -e "$K8S_PLUGIN.partial" ]]; }
all_ready() { core_ready && { [[ "$WANT_KUBERNETES" == "0" ]] || kubernetes_ready; }; }
ready() {
  # --check is what every `bluegreen` command runs first: silent when all is there.
  [[ "$CHECK_ONLY" == "1" ]] ||
    log "cached toolchain: pulumi v$PULUMI_CLI_VERSION in $BIN$([[ "$WANT_KUBERNETES" == "1" ]] && echo " (with the kubernetes $KUBERNETES_VERSION provider)")"
  echo "$BIN"
  exit 0
}

all_ready && ready

if [[ "$CHECK_ONLY" == "1" ]]; then
  if ! core_ready; then
    if [[ "$WANT_KUBERNETES" == "1" ]]; then
      printf 'the Pulumi toolchain is not ready: run `%s` in %s (%s; or put pulumi v%s or newer on PATH)\n' \
        "$KUBERNETES_RUN" "$ROOT" "$KUBERNETES_WHY" "$SDK_VERSION" >&2
    else
      printf 'the Pulumi toolchain is not ready: run `npm run toolchain` in %s (or put pulumi v%s or newer on PATH)\n' \
        "$ROOT" "$SDK_VERSION" >&2
    fi
  else
    printf 'the Kubernetes provider is not built yet (%s): run `%s` in %s (about 15 min, once)\n' \
      "$KUBERNETES_WHY" "$KUBERNETES_RUN" "$ROOT" >&2
  fi
  exit 64
fi

if [[ "$WANT_KUBERNETES" == "1" && -z "$K8S_PROVIDER_MODULE_VERSION" ]]; then
  die "no Kubernetes provider source is known for @pulumi/kubernetes $KUBERNETES_VERSION; supported: 4.25.0 (add the module version to scripts/toolchain.sh)"
fi

if ! command -v go >/dev/null 2>&1 && core_ready; then
  die "the Kubernetes provider is not built yet ($KUBERNETES_WHY) and there is no Go to build it: install Go 1.26 or newer and run \`$KUBERNETES_RUN\` (or put a pulumi with the kubernetes $KUBERNETES_VERSION plugin on PATH)"
fi
command -v go >/dev/null 2>&1 || die "no pulumi v$SDK_VERSION or newer on PATH and no Go to build it.
  Either install the Pulumi CLI (v$SDK_VERSION or newer: https://www.pulumi.com/docs/install/) and put it on PATH,
  or install Go 1.26 or newer (https://go.dev/dl/, or your distribution's golang package) and run again."

mkdir -p "$CACHE_ROOT"
# One build at a time per cache: a second run (another terminal, parallel tests) waits, then finds the result.
exec 9>"$CACHE_ROOT/.build.lock"
if ! flock -n 9; then
  log "another toolchain build is running in $CACHE_ROOT: waiting for it"
  flock 9
fi
all_ready && ready
# Builds never reach beyond the module proxy; GOTOOLCHAIN=local stops go from fetching another Go release.
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
started=$SECONDS

# The steps this run takes, in order, so that each progress line can say what comes next.
STEPS=()
[[ -x "$CLI_DIR/pulumi" ]] || STEPS+=("pulumi")
[[ -x "$HOSTBUILD_DIR/pulumi-language-nodejs" ]] || STEPS+=("pulumi-language-nodejs")
if [[ "$WANT_KUBERNETES" == "1" ]] && ! kubernetes_ready; then
  [[ -x "$K8S_DIR/pulumi-resource-kubernetes" ]] || STEPS+=("the Kubernetes provider's schema" "pulumi-resource-kubernetes")
  STEPS+=("the Kubernetes provider as a plugin")
fi
STEP=0
next_step() {
  local i
  for ((i = STEP + 1; i < ${#STEPS[@]}; i++)); do
    printf '%s' "${STEPS[i]}"
    return
  done
  printf 'done'
}
# About how long each step takes on a quiet 2-core machine with the Go module cache warm (measured 2026-12-03: the
# CLI 5m19s, the host 33 s after it; the provider ~15 min by earlier rounds). Under load it is several times more.
step_estimate() {
  case "$1" in
    pulumi) echo "~5 min" ;;
    pulumi-language-nodejs) echo "~1 min" ;;
    "the Kubernetes provider's schema") echo "~2 min" ;;
    pulumi-resource-kubernetes) echo "~13 min" ;;
    *) echo "seconds" ;;
  esac
}
start_step() {
  # start_step NAME: the step that begins now (one line: which, of how many, about how long, what comes next).
  local i
  for ((i = 0; i < ${#STEPS[@]}; i++)); do [[ "${STEPS[i]}" == "$1" ]] && STEP=$i; done
  log "step $((STEP + 1))/${#STEPS[@]}: $1 ($(step_estimate "$1") the first time; next: $(next_step))"
}
if ((${#STEPS[@]})); then
  plan="$(IFS=, && echo "${STEPS[*]}")"
  log "building from Go modules: ${plan//,/, }$([[ "$WANT_KUBERNETES" == "1" ]] || echo " (the Kubernetes provider only for kubernetes stacks: $KUBERNETES_RUN)")"
fi

duration() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
PROGRESS_SECONDS="${BLUEGREEN_PROGRESS_SECONDS:-20}"
[[ "$PROGRESS_SECONDS" =~ ^[0-9]+$ && "$PROGRESS_SECONDS" -gt 0 ]] || PROGRESS_SECONDS=20
TICKER=""
trap '[[ -z "$TICKER" ]] || kill "$TICKER" 2>/dev/null || true' EXIT
with_progress() {
  # with_progress WHAT COMMAND...: runs COMMAND; while it runs, a line every PROGRESS_SECONDS on stderr:
  #   toolchain: building pulumi (4m30s so far; next: pulumi-language-nodejs)
  local what="$1" begun=$SECONDS rc=0 pid
  shift
  "$@" &
  pid=$!
  (
    # No trap here: killed, it ends at once, and its `sleep` holds none of the caller's output open.
    ticks=0
    while sleep 1 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null || exit 0
      ticks=$((ticks + 1))
      ((ticks % PROGRESS_SECONDS)) || log "$what ($(duration $((SECONDS - begun))) so far; next: $(next_step))"
    done
  ) </dev/null >/dev/null &
  TICKER=$!
  wait "$pid" || rc=$?
  kill "$TICKER" 2>/dev/null || true
  wait "$TICKER" 2>/dev/null || true
  TICKER=""
  return "$rc"
}

# quietly LOG COMMAND...: runs COMMAND with its output in LOG (stderr) and nowhere else.
quietly() {
  local out="$1"
  shift
  "$@" >/dev/null 2>"$out"
}

# Writes a throwaway Go module that only requires what we build (go install refuses modules with replace directives).
write_module() {
  local dir="$1" module="$2" requires="$3" replaces="$4" tool="$5"
  mkdir -p "$dir"
  printf 'module %s\n\ngo 1.26\n\nrequire (\n%s)\n\n%s\n' "$module" "$requires" "$replaces" >"$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$tool" >"$dir/tools.go"
}

build_into() {
  # build_into OUTDIR NAME DIR PACKAGE LDFLAGS: go build in DIR, atomically installed as OUTDIR/NAME.
  local out="$1" name="$2" dir="$3" pkg="$4" ldflags="$5" begun=$SECONDS
  start_step "$name"
  (cd "$dir" && with_progress "downloading the Go modules of $name" quietly "$dir/tidy.log" go mod tidy) ||
    die "go mod tidy failed for $name: see $dir/tidy.log"
  (cd "$dir" && with_progress "building $name" \
    go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ldflags" -o "$out/.$name.tmp" "$pkg") ||
    die "go build failed for $name"
  mv -f "$out/.$name.tmp" "$out/$name"
  log "built $name in $(duration $((SECONDS - begun)))"
}

PULUMI_LDFLAGS="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_CLI_VERSION"

if [[ ! -x "$CLI_DIR/pulumi" ]]; then
  # pkg/v3's go.mod replaces the clipboard module with a fork; a consumer module must repeat that replace.
  write_module "$CLI_DIR/work" "bluegreen.local/toolchain/pulumi" \
    "	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_CLI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_CLI_VERSION
" "replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e" \
    "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
  build_into "$CLI_DIR" pulumi "$CLI_DIR/work" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$PULUMI_LDFLAGS"
fi

if [[ ! -x "$HOSTBUILD_DIR/pulumi-language-nodejs" ]]; then
  dir="$HOSTBUILD_DIR/work"
  mkdir -p "$dir"
  cp "$HOST_DIR/main.go" "$dir/main.go"
  printf 'module bluegreen.local/toolchain/pulumi-language-nodejs\n\ngo 1.26\n\nrequire github.com/pulumi/pulumi/sdk/v3 v%s\n' \
    "$PULUMI_CLI_VERSION" >"$dir/go.mod"
  build_into "$HOSTBUILD_DIR" pulumi-language-nodejs "$dir" . "$PULUMI_LDFLAGS"
fi

if [[ ! -x "$HOSTBUILD_DIR/pulumi-resource-pulumi-nodejs" ]]; then
  # Our launcher: the SDK's contract, with a code cache and one node start fewer (see the script).
  mkdir -p "$HOSTBUILD_DIR"
  install -m 0755 "$HOST_DIR/pulumi-resource-pulumi-nodejs" "$HOSTBUILD_DIR/.pulumi-resource-pulumi-nodejs.tmp"
  mv -f "$HOSTBUILD_DIR/.pulumi-resource-pulumi-nodejs.tmp" "$HOSTBUILD_DIR/pulumi-resource-pulumi-nodejs"
fi

if [[ "$WANT_KUBERNETES" == "1" && ! -x "$K8S_DIR/pulumi-resource-kubernetes" ]]; then
  log "the Kubernetes provider: $KUBERNETES_WHY"
  dir="$K8S_DIR/work"
  src="$dir/provider"
  if [[ ! -f "$src/cmd/pulumi-resource-kubernetes/schema-embed.json" ]]; then
    # The module zip lacks the generated, versioned schema that the provider embeds: generate it in a writable copy.
    start_step "the Kubernetes provider's schema"
    mkdir -p "$dir"
    (cd "$dir" && printf 'module bluegreen.local/toolchain/kubernetes-fetch\n\ngo 1.26\n' >go.mod &&
      with_progress "downloading the Kubernetes provider's source" \
        go mod download "github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION") ||
      die "cannot download github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION"
    moddir="$(go env GOMODCACHE)/github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION"
    rm -rf "$src.tmp" && cp -r "$moddir" "$src.tmp" && chmod -R u+w "$src.tmp"
    (cd "$src.tmp/cmd/pulumi-resource-kubernetes" &&
      with_progress "generating the Kubernetes provider's schema" env VERSION="$KUBERNETES_VERSION" go run generate.go) ||
      die "generating the Kubernetes provider schema failed"
    rm -rf "$src" && mv "$src.tmp" "$src"
    rm -f "$dir/go.mod" "$dir/go.sum"
  fi
  # The provider's own replace (sdk => ../sdk) only applies to it as main module; require the SDK module instead.
  write_module "$dir" "bluegreen.local/toolchain/kubernetes" \
    "	github.com/pulumi/pulumi-kubernetes/provider/v4 $K8S_PROVIDER_MODULE_VERSION
	github.com/pulumi/pulumi-kubernetes/sdk/v4 $K8S_SDK_MODULE_VERSION
" "replace github.com/pulumi/pulumi-kubernetes/provider/v4 => ./provider" \
    "github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes"
  build_into "$K8S_DIR" pulumi-resource-kubernetes "$dir" \
    github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_VERSION"
fi

# The toolchain's own Pulumi home (scripts/env.sh points PULUMI_HOME here): exists even before any plugin is in it,
# so that a provider installed later (a kubernetes stack's first use) is found by runs already set up.
mkdir -p "$HOME_DIR/plugins"
if [[ "$WANT_KUBERNETES" == "1" ]] && ! kubernetes_ready; then
  start_step "the Kubernetes provider as a plugin"
  rm -rf "$K8S_PLUGIN" "$K8S_PLUGIN.partial" "$K8S_PLUGIN.lock"
  PULUMI_HOME="$HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=1 "$CLI_DIR/pulumi" plugin install resource kubernetes \
    "$KUBERNETES_VERSION" --file "$K8S_DIR/pulumi-resource-kubernetes" >&2 ||
    die "installing the Kubernetes provider plugin into $HOME_DIR failed"
  kubernetes_ready || die "the Kubernetes provider plugin is not in $K8S_PLUGIN after installing it"
fi

if ! core_ready; then
  # The printed folder: hard links (same file system, no copy) so the engine finds the host next to the CLI.
  mkdir -p "$BIN"
  # scripts/env.sh finds the Pulumi home holding the plugins next to the bin folder.
  ln -sfn "$HOME_DIR" "$SET_DIR/pulumi-home"
  for f in "$CLI_DIR/pulumi" "$HOSTBUILD_DIR/pulumi-language-nodejs" "$HOSTBUILD_DIR/pulumi-resource-pulumi-nodejs"; do
    ln -f "$f" "$BIN/$(basename "$f")" 2>/dev/null || cp -f "$f" "$BIN/$(basename "$f")"
  done
  reported="$(PULUMI_SKIP_UPDATE_CHECK=1 "$BIN/pulumi" version)"
  [[ "$reported" == "v$PULUMI_CLI_VERSION" ]] || die "built pulumi reports '$reported', expected v$PULUMI_CLI_VERSION"
  date -u +%FT%TZ >"$SET_DIR/complete"
fi
log "toolchain ready in $((SECONDS - started)) s: $BIN$([[ "$WANT_KUBERNETES" == "1" ]] && echo " (with the kubernetes $KUBERNETES_VERSION provider)" ||
  echo "; kubernetes stacks also need: $KUBERNETES_RUN")"
echo "$BIN"
