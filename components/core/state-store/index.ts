/**
 * Finds the stack's backend the way the Pulumi CLI does and opens the release state kept there (release-state.ts).
 * Supported: `file://` (file.ts) and `s3://` (s3.ts, S3 and S3-compatible stores). Other backends (Pulumi Cloud,
 * `gs://`, `azblob://`) have no release-state store yet: `openReleaseState` returns undefined and the release state
 * stays in the checkout's stack file as before, which callers say in a warning.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the S3 client loads only for s3:// backends */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import type { BlobStore } from "./blob";
import { fileStoreFromBackendUrl } from "./file";
import { ReleaseStateStore } from "./release-state";

export { StoreError } from "./blob";
export type { BlobStore } from "./blob";
export * from "./release-state";

/**
 * The backend URL for a project folder: `PULUMI_BACKEND_URL`, else Pulumi.yaml's `backend.url`, else the login in
 * `$PULUMI_HOME/credentials.json` (`current`). Undefined when none is set (the CLI would then use Pulumi Cloud).
 */
export function backendUrlFor(
  projectDir: string,
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  if (env.PULUMI_BACKEND_URL) return env.PULUMI_BACKEND_URL;
  try {
    const project = parseYaml(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as {
      backend?: { url?: unknown };
    };
    if (typeof project?.backend?.url === "string") return project.backend.url;
  } catch {
    // No readable project file: the login decides.
  }
  const home = env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi");
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(home, "credentials.json"), "utf8")) as { current?: unknown };
    if (typeof creds.current === "string") return creds.current;
  } catch {
    // Not logged in.
  }
  return undefined;
}

/** The blob store of a backend URL, or undefined for a backend without a release-state store. */
export function blobStoreFor(
  url: string,
  env: Record<string, string | undefined> = process.env,
  s3Root?: string,
): BlobStore | undefined {
  if (url.startsWith("file://")) return fileStoreFromBackendUrl(url);
  if (url.startsWith("s3://")) {
    const { s3StoreFromBackendUrl } = require("./s3") as typeof import("./s3");
    return s3StoreFromBackendUrl(url, env, s3Root ? { root: s3Root } : {});
  }
  return undefined;
}

/**
 * The project folder for a program run: the nearest folder holding Pulumi.yaml from `dir` up. Pulumi starts the
 * program in the folder of its `main` (bin/ here), not always the project's.
 */
export function projectDirOf(dir: string): string {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, "Pulumi.yaml"))) return d;
    if (path.dirname(d) === d) return path.resolve(dir);
  }
}

/** Removes credentials and query strings from a backend URL for messages. */
export function displayBackend(url: string): string {
  return url.replace(/\/\/[^/@]*@/, "//").split("?")[0];
}

export function openReleaseState(opts: {
  backendUrl: string | undefined;
  project: string;
  stack: string;
  env?: Record<string, string | undefined>;
}): ReleaseStateStore | undefined {
  if (!opts.backendUrl) return undefined;
  const blobs = blobStoreFor(opts.backendUrl, opts.env ?? process.env);
  return blobs ? new ReleaseStateStore(blobs, opts.project, opts.stack) : undefined;
}
export * from "./checkout-marker";
