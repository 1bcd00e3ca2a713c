#!/usr/bin/env bash
# Builds one image for the real node without a registry or a daemon: umoci lays out an OCI image, skopeo writes it
# as a docker-archive that `ctr images import` takes. Called by scripts/cluster/node.sh, which caches the archive by
# the hash of what goes in.
#
#   image.sh pause PAUSE_BINARY REF ARCHIVE   the pod sandbox image (one static binary)
#   image.sh demo NODE_BINARY REF ARCHIVE     the demo app: the node binary, the libraries it links, app/*.ts
#                                             transpiled to JavaScript; listens on 0.0.0.0:$PORT (default 8080)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
kind="$1" binary="$2" ref="$3" archive="$4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
started=$SECONDS

umoci init --layout "$work/oci" >/dev/null
umoci new --image "$work/oci:image" >/dev/null
umoci unpack --image "$work/oci:image" "$work/bundle" >/dev/null
rootfs="$work/bundle/rootfs"
mkdir -p "$rootfs/tmp" && chmod 1777 "$rootfs/tmp"

case "$kind" in
  pause)
    install -m 755 "$binary" "$rootfs/pause"
    config=(--config.entrypoint /pause)
    ;;
  demo)
    install -D -m 755 "$binary" "$rootfs/bin/node"
    # The shared libraries node links against and the dynamic loader, at their paths ([ \t]: mawk has no \s; 755: the kernel execs the loader).
    ldd "$binary" | awk '/=> \// {print $3} /^[ \t]*\/[^ ]+ \(/ {print $1}' | while read -r lib; do
      install -D -m 755 "$(readlink -f "$lib")" "$rootfs$lib"
    done
    mkdir -p "$rootfs/app"
    "$binary" -e '
      const ts = require(process.argv[1]);
      const fs = require("fs");
      const path = require("path");
      const [, , appDir, outDir] = process.argv;
      for (const file of fs.readdirSync(appDir).filter((f) => f.endsWith(".ts"))) {
        const { outputText } = ts.transpileModule(fs.readFileSync(path.join(appDir, file), "utf8"), {
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
          fileName: file,
        });
        fs.writeFileSync(path.join(outDir, file.replace(/\.ts$/, ".js")), outputText);
      }
      fs.writeFileSync(path.join(outDir, "start.js"), "\"use strict\";\nrequire(\"./server.js\").main();\n");
    ' "$ROOT/node_modules/typescript" "$ROOT/app" "$rootfs/app"
    config=(--config.entrypoint /bin/node --config.cmd /app/start.js --config.env HOST=0.0.0.0
      --config.env PORT=8080 --config.workingdir /app)
    ;;
  *)
    echo "image.sh: unknown image kind \"$kind\"; allowed: pause, demo" >&2
    exit 2
    ;;
esac

umoci repack --image "$work/oci:image" "$work/bundle" >/dev/null
umoci config --image "$work/oci:image" "${config[@]}" >/dev/null
mkdir -p "$(dirname "$archive")"
skopeo copy --quiet "oci:$work/oci:image" "docker-archive:$archive.tmp:$ref" >/dev/null
mv -f "$archive.tmp" "$archive"
printf 'cluster: built the %s image %s in %s s\n' "$kind" "$ref" "$((SECONDS - started))" >&2
