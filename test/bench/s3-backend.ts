/**
 * The `s3://` side of `npm run bench:switch`: the real S3-compatible store of scripts/s3.sh (SeaweedFS), a bucket
 * prefix of the bench's own, and the tracing that splits where a command's time goes on that backend:
 *
 * - a counting HTTP proxy in front of the store (every S3 request with its client - the Pulumi CLI's Go SDK or
 *   bluegreen's JS SDK -, method, key and duration; the Host header is passed on unchanged, so SigV4 signatures
 *   made for the proxy's address still verify);
 * - a `pulumi` wrapper (a `bin/` folder of links to the toolchain with `pulumi` replaced by a script that logs each
 *   run's start, end and arguments), so the CLI runs a command starts are timed one by one.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import type * as S3 from "@aws-sdk/client-s3";
import { PROJECT_ROOT } from "../support/engine";

export const S3_SCRIPT = path.join(PROJECT_ROOT, "scripts", "s3.sh");

export interface S3Store {
  /** The URL `s3.sh start` printed (the bucket's root). */
  url: string;
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION from `s3.sh env` (not PULUMI_BACKEND_URL). */
  env: Record<string, string>;
  startedHere: boolean;
  /** Stops the store if this process started it. */
  stop(): void;
}

function s3sh(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("bash", [S3_SCRIPT, ...args], { encoding: "utf8", timeout: 30 * 60_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** `bash scripts/s3.sh start` (builds on first use), its URL and `s3.sh env`. */
export function startS3Store(): S3Store {
  const running = s3sh("status").status === 0;
  const started = s3sh("start");
  if (started.status !== 0) throw new Error(`scripts/s3.sh start failed (exit ${started.status}):\n${started.stderr}`);
  const url = started.stdout.trim().split("\n").pop() ?? "";
  if (!url.startsWith("s3://")) throw new Error(`scripts/s3.sh start printed no backend URL last:\n${started.stdout}`);
  const out = s3sh("env");
  if (out.status !== 0) throw new Error(`scripts/s3.sh env failed:\n${out.stderr}`);
  const env: Record<string, string> = {};
  for (const line of out.stdout.trim().split("\n")) {
    const m = /^export ([A-Z_]+)='(.*)'$/.exec(line);
    if (!m) throw new Error(`unexpected line from scripts/s3.sh env: ${line}`);
    if (m[1] !== "PULUMI_BACKEND_URL") env[m[1]] = m[2];
  }
  const startedHere = !running;
  return {
    url,
    env,
    startedHere,
    stop() {
      if (!startedHere) return;
      const r = s3sh("stop");
      if (r.status !== 0) console.error(`scripts/s3.sh stop failed:\n${r.stderr}`);
    },
  };
}

/** `s3://bucket?query` → `s3://bucket/<prefix>?query` (the query kept as printed). */
export function withKeyPrefix(url: string, prefix: string): string {
  const q = url.indexOf("?");
  const base = (q < 0 ? url : url.slice(0, q)).replace(/\/+$/, "");
  return `${base}/${prefix}${q < 0 ? "" : url.slice(q)}`;
}

/** The same backend reached through another endpoint (the counting proxy): same bucket, prefix and state. */
export function withEndpoint(url: string, endpoint: string): string {
  return url.replace(/([?&])endpoint=[^&]*/, `$1endpoint=${endpoint}`);
}

function parts(url: string): { bucket: string; prefix: string; endpoint: string; region: string } {
  const u = new URL(url);
  return {
    bucket: u.host,
    prefix: u.pathname.replace(/^\/+/, "").replace(/\/?$/, "/"),
    endpoint: u.searchParams.get("endpoint") ?? "",
    region: u.searchParams.get("region") ?? "us-east-1",
  };
}

/** Removes every object under the URL's key prefix (the bench's stacks and their release state). */
export async function removePrefix(url: string, env: Record<string, string>): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require("@aws-sdk/client-s3") as typeof S3;
  const p = parts(url);
  if (p.prefix === "/") throw new Error(`refusing to empty the whole bucket of ${url}`);
  const client = new sdk.S3Client({
    region: p.region,
    endpoint: p.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    responseChecksumValidation: "WHEN_REQUIRED",
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
  let removed = 0;
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new sdk.ListObjectsV2Command({ Bucket: p.bucket, Prefix: p.prefix, ContinuationToken: token }),
      );
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }));
      if (keys.length) {
        await client.send(new sdk.DeleteObjectsCommand({ Bucket: p.bucket, Delete: { Objects: keys } }));
        removed += keys.length;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------------------------
// Tracing

export interface S3Request {
  start: number;
  end: number;
  /** `cli` (Pulumi CLI, AWS SDK for Go v2), `js` (bluegreen's store, AWS SDK for JavaScript v3), or the agent. */
  client: string;
  method: string;
  /** The key (path without the bucket) and the query's operation hints (list-type=2, …). */
  target: string;
  status: number;
}

export interface CountingProxy {
  endpoint: string;
  requests: S3Request[];
  close(): Promise<void>;
}

function clientOf(agent: string | undefined): string {
  if (!agent) return "?";
  if (/aws-sdk-go/i.test(agent)) return "cli";
  if (/aws-sdk-js/i.test(agent)) return "js";
  return agent.split(/[ /]/)[0];
}

/** A plain HTTP proxy to `target` (`http://127.0.0.1:34700`) that records every request. */
export function startCountingProxy(target: string): Promise<CountingProxy> {
  const t = new URL(target);
  const requests: S3Request[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const start = Date.now();
    const up = http.request(
      {
        host: t.hostname,
        port: Number(t.port),
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        upRes.on("end", () => {
          const u = new URL(req.url ?? "/", "http://x");
          const ops = [...u.searchParams.keys()].filter((k) => !/^X-Amz-/i.test(k)).join("&");
          const key = decodeURIComponent(u.pathname).split("/").slice(2).join("/");
          requests.push({
            start,
            end: Date.now(),
            client: clientOf(req.headers["user-agent"]),
            method: req.method ?? "?",
            target: `${key}${ops ? `?${ops}` : ""}`,
            status: upRes.statusCode ?? 0,
          });
        });
      },
    );
    up.on("error", (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(up);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            agent.destroy();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

export interface PulumiRun {
  start: number;
  end: number;
  code: number;
  args: string;
}

export interface PulumiWrapper {
  /** A `bin/` folder: the toolchain's files, `pulumi` a logging script. */
  binDir: string;
  runs(): PulumiRun[];
  clear(): void;
}

/** Links the toolchain's bin folder into `<dir>/bin` with `pulumi` replaced by a script logging each run. */
export function makePulumiWrapper(realBinDir: string, dir: string): PulumiWrapper {
  const binDir = path.join(dir, "bin");
  const log = path.join(dir, "pulumi-runs.log");
  fs.mkdirSync(binDir, { recursive: true });
  for (const f of fs.readdirSync(realBinDir)) {
    if (f !== "pulumi") fs.symlinkSync(path.join(realBinDir, f), path.join(binDir, f));
  }
  const real = fs.realpathSync(path.join(realBinDir, "pulumi"));
  fs.writeFileSync(
    path.join(binDir, "pulumi"),
    [
      "#!/usr/bin/env bash",
      "s=$(date +%s%3N)",
      `${JSON.stringify(real)} "$@"`,
      "rc=$?",
      `printf '%s %s %s %s\\n' "$s" "$(date +%s%3N)" "$rc" "$*" >>${JSON.stringify(log)}`,
      "exit $rc",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return {
    binDir,
    runs: () =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, "utf8")
            .trim()
            .split("\n")
            .filter(Boolean)
            .map((l) => {
              const [s, e, c, ...a] = l.split(" ");
              return { start: Number(s), end: Number(e), code: Number(c), args: a.join(" ") };
            })
        : [],
    clear: () => fs.rmSync(log, { force: true }),
  };
}

/** `pulumi stack export --show-secrets --stack x --non-interactive` → `stack export`. */
export function shortArgs(args: string): string {
  return args
    .split(" ")
    .filter((a, i, all) => !a.startsWith("--") && !(all[i - 1] === "--stack" || all[i - 1] === "--exec-kind"))
    .slice(0, 3)
    .join(" ");
}

/** One line per group of requests: `js GET×2 (12 ms)`, sorted by client then method. */
export function requestSummary(reqs: S3Request[]): string {
  if (reqs.length === 0) return "none";
  const groups = new Map<string, { n: number; ms: number }>();
  for (const r of reqs) {
    const k = `${r.client} ${r.method}`;
    const g = groups.get(k) ?? { n: 0, ms: 0 };
    g.n++;
    g.ms += r.end - r.start;
    groups.set(k, g);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, g]) => `${k}×${g.n} (${g.ms} ms)`)
    .join(", ");
}
