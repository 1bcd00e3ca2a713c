# shellcheck shell=bash
# Which stacks a command uses, and what they run on: sourced by scripts/toolchain.sh, scripts/env.sh and
# scripts/pulumi.sh so that a kubernetes stack's first use brings the Kubernetes provider (and the others never do).
# Defines functions only; needs BLUEGREEN_ROOT (the checkout).

# bluegreen_stack_platform NAME: bluegreen:platform of stacks/Pulumi.<NAME>.yaml (local, kubernetes, aws); prints
# nothing for a stack without a file here. An org/project/ prefix is ignored.
bluegreen_stack_platform() {
  local file="$BLUEGREEN_ROOT/stacks/Pulumi.${1##*/}.yaml"
  [[ -f "$file" ]] || return 0
  sed -nE 's/^[[:space:]]*bluegreen:platform:[[:space:]]*"?([A-Za-z0-9_-]+)"?.*$/\1/p' "$file" | head -1
}

# bluegreen_stacks_in_args ARGS...: the stacks a command line names, one per line: the values of --stack / -s
# (pulumi, bluegreen) and --to (bluegreen promote), as "--stack X" or "--stack=X".
bluegreen_stacks_in_args() {
  while (($#)); do
    case "$1" in
      --stack | -s | --to) (($# >= 2)) && printf '%s\n' "$2" && shift ;;
      --stack=* | --to=*) printf '%s\n' "${1#*=}" ;;
      --) ;;
    esac
    shift
  done
  return 0
}

# bluegreen_kubernetes_version: the @pulumi/kubernetes version in package-lock.json (the provider plugin's version).
bluegreen_kubernetes_version() {
  sed -n '/"node_modules\/@pulumi\/kubernetes": {/,/"version"/s/.*"version": "\([^"]*\)".*/\1/p' \
    "$BLUEGREEN_ROOT/package-lock.json" | head -1
}
