# Versions of what the project's scripts bring when the machine lacks them (sourced by scripts/node.sh and
# scripts/toolchain.sh). The npm packages' own versions come from package-lock.json.

# Node.js: the project's runtime. A machine Node older than NODE_MIN_MAJOR gets this build from the npm registry
# (package node-linux-<arch>, the official Linux binary) in the toolchain cache.
NODE_MIN_MAJOR=24
NODE_VERSION=24.21.0

# Pulumi CLI built from Go modules when no suitable `pulumi` is on PATH. It must be at least the @pulumi/pulumi SDK
# version in package-lock.json (the CLI runs older SDKs, not newer ones); the module proxy serves pkg/v3 at v3.274.1
# but not at v3.270.0, the newest SDK that runs on Node 24 today.
PULUMI_CLI_VERSION=3.274.1
