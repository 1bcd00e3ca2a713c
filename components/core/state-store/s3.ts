/**
 * The release state in an `s3://` backend (AWS S3 or an S3-compatible store such as SeaweedFS or MinIO): objects under
 * `<key prefix>/.pulumi/bluegreen/` in the backend's bucket, beside Pulumi's own `<key prefix>/.pulumi/stacks/`.
 *
 * The backend URL is read exactly as the Pulumi CLI reads it (pkg/backend/diy, gocloud.dev's s3blob over AWS SDK v2):
 * `s3://<bucket>/<optional key prefix>?<query>`, the legacy SDK v1 parameters included, so whatever bucket and
 * endpoint `pulumi login` reaches, the release state is kept there too.
 *
 * `createExclusive` is a conditional `PutObject` (`If-None-Match: *`): S3 (since 2024-08) and SeaweedFS evaluate it
 * atomically against every other writer of the key, answering 412 to all but one.
 */
import * as crypto from "crypto";
import type * as S3 from "@aws-sdk/client-s3";
import { BlobStore, StoreError } from "./blob";

type Env = Record<string, string | undefined>;

/** Every call's limit unless the caller (or BLUEGREEN_STATE_TIMEOUT_MS) says otherwise: retries included. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** What a backend URL says, as the Pulumi CLI interprets it. */
export interface S3Backend {
  bucket: string;
  /** The backend's key prefix (`""` or `a/b/`); Pulumi's state is under `<keyPrefix>.pulumi/`. */
  keyPrefix: string;
  /** A custom endpoint (`http://127.0.0.1:34700`), with its scheme; undefined for AWS's own. */
  endpoint?: string;
  /** From the URL, else AWS_REGION / AWS_DEFAULT_REGION; undefined leaves it to the SDK (the profile's region). */
  region?: string;
  /** Path-style requests (`<endpoint>/<bucket>/<key>`) rather than `<bucket>.<endpoint>`. */
  forcePathStyle: boolean;
  /** Plain HTTP (`disable_https=true`, the legacy `disableSSL=true`, or an `http://` endpoint). */
  http: boolean;
  /** A shared-config profile named in the URL. */
  profile?: string;
  useFipsEndpoint: boolean;
  useDualstackEndpoint: boolean;
  useAccelerateEndpoint: boolean;
  requestChecksumCalculation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  responseChecksumValidation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  serverSideEncryption?: S3.ServerSideEncryption;
  kmsKeyId?: string;
}

export interface S3StoreOptions {
  /** Limit of each call, retries included, in milliseconds (default BLUEGREEN_STATE_TIMEOUT_MS, else 10 000). */
  timeoutMs?: number;
  /**
   * Folder of the bucket, under the URL's key prefix, that the store is rooted at [`.pulumi/bluegreen/`]. The stack
   * driver reads Pulumi's own checkpoint and tags with a store rooted at `.pulumi/`.
   */
  root?: string;
}

/** Go's strconv.ParseBool, which the CLI uses for every boolean parameter. */
function parseGoBool(url: string, key: string, value: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  throw new StoreError(`backend ${displayUrl(url)}: invalid value for "${key}": "${value}" (allowed: true or false)`);
}

const CHECKSUM_MODES = { when_supported: "WHEN_SUPPORTED", when_required: "WHEN_REQUIRED" } as const;
const SSE_TYPES: readonly S3.ServerSideEncryption[] = ["AES256", "aws:fsx", "aws:kms", "aws:kms:dsse"];

/** The URL without user info, for messages (the rest of an s3:// URL holds no secret). */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z0-9+.-]+:\/\/)[^/?#@]*@/i, "$1");
}

/**
 * Reads an `s3://` backend URL the way `pulumi login` does: the host is the bucket, the path the key prefix, and the
 * query the parameters of gocloud.dev's s3blob and aws packages (unknown ones are refused, as the CLI refuses them).
 */
export function parseS3BackendUrl(url: string, env: Env = process.env): S3Backend {
  const fail = (why: string): never => {
    throw new StoreError(`backend ${displayUrl(url)}: ${why}`);
  };
  if (!url.startsWith("s3://")) fail("not an s3:// backend URL");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail("not a valid URL");
  }
  const bucket = decodeURIComponent(parsed.host);
  if (!bucket) fail("no bucket: the form is s3://<bucket>/<optional key prefix>?<options>");
  let keyPrefix = decodeURIComponent(parsed.pathname).replace(/^\/+/, "");
  if (keyPrefix && !keyPrefix.endsWith("/")) keyPrefix += "/";

  // Go's url.Values: every value of every key, in order. The CLI reads the first value of a key (query.Get), except
  // for disableSSL (the last).
  const query = new Map<string, string[]>();
  for (const [key, value] of parsed.searchParams) query.set(key, [...(query.get(key) ?? []), value]);
  const first = (key: string): string | undefined => query.get(key)?.[0];
  const take = (key: string): string | undefined => {
    const value = first(key);
    query.delete(key);
    return value === "" ? undefined : value;
  };

  // 1. pulumi's translateLegacyS3Params: disableSSL and a scheme-less endpoint (SDK v1 habits).
  let disableSSL = false;
  const legacy = query.get("disableSSL");
  if (legacy) {
    disableSSL = parseGoBool(url, "disableSSL", legacy[legacy.length - 1]);
    query.delete("disableSSL");
    if (!(first("endpoint") ?? "").includes("://")) query.set("disable_https", [String(disableSSL)]);
  }
  let endpoint = first("endpoint") || undefined;
  if (endpoint && !endpoint.includes("://")) endpoint = `${disableSSL ? "http" : "https"}://${endpoint}`;
  if (endpoint && !first("request_checksum_calculation") && !env.AWS_REQUEST_CHECKSUM_CALCULATION) {
    // The CLI's default for third-party stores: no CRC32 streaming checksums, which some of them reject.
    query.set("request_checksum_calculation", ["when_required"]);
  }
  query.delete("endpoint");

  // 2. gocloud.dev s3blob's own parameters.
  const sse = take("ssetype");
  let serverSideEncryption: S3.ServerSideEncryption | undefined;
  if (sse !== undefined) {
    serverSideEncryption = SSE_TYPES.find((t) => t.toLowerCase() === sse.toLowerCase());
    if (!serverSideEncryption) fail(`"${sse}" is not a valid value for "ssetype" (allowed: ${SSE_TYPES.join(", ")})`);
  }
  const kmsKeyId = take("kmskeyid");
  const accelerate = take("accelerate");
  const disableHttps = take("disable_https");
  let forcePathStyle = false;
  for (const key of ["use_path_style", "s3ForcePathStyle"]) {
    const value = take(key);
    if (value !== undefined) forcePathStyle = parseGoBool(url, key, value);
  }

  // 3. gocloud.dev aws.V2ConfigFromURLParams: the rest, each read once; anything else is an error.
  let region: string | undefined;
  let profile: string | undefined;
  let hostnameImmutable = false;
  let useFipsEndpoint = false;
  let useDualstackEndpoint = false;
  let requestChecksumCalculation: S3Backend["requestChecksumCalculation"];
  let responseChecksumValidation: S3Backend["responseChecksumValidation"];
  for (const [key, values] of query) {
    const value = values[0];
    switch (key) {
      case "region":
        region = value || undefined;
        break;
      case "profile":
        profile = value || undefined;
        break;
      case "hostname_immutable":
        hostnameImmutable = parseGoBool(url, key, value);
        break;
      case "dualstack":
        useDualstackEndpoint = parseGoBool(url, key, value);
        break;
      case "fips":
        useFipsEndpoint = parseGoBool(url, key, value);
        break;
      case "rate_limiter_capacity":
        // A client-side rate limit: the release state makes a handful of calls, so it is read only to validate it.
        if (!/^[+-]?\d+$/.test(value)) fail(`invalid value for "rate_limiter_capacity": "${value}" (a whole number)`);
        break;
      case "request_checksum_calculation":
      case "response_checksum_validation": {
        const mode = CHECKSUM_MODES[value as keyof typeof CHECKSUM_MODES];
        if (!mode) fail(`invalid value for "${key}": "${value}" (allowed: when_supported, when_required)`);
        if (key === "request_checksum_calculation") requestChecksumCalculation = mode;
        else responseChecksumValidation = mode;
        break;
      }
      case "anonymous":
        if (parseGoBool(url, key, value)) {
          fail("anonymous=true: the release state is written as well as read, which needs credentials; remove it");
        }
        break;
      case "role":
        fail(
          "role= (assuming an IAM role) is not supported for the release state: name a profile whose role_arn " +
            "assumes it instead (profile=<name>, or AWS_PROFILE)",
        );
        break;
      case "awssdk":
        break; // accepted and ignored, as the CLI does
      default:
        fail(`unknown query parameter "${key}"`);
    }
  }

  // An explicit https:// endpoint with disable_https=true: the CLI downgrades it to HTTP (see its own comment).
  const http =
    (disableHttps !== undefined && parseGoBool(url, "disable_https", disableHttps)) ||
    /^http:\/\//i.test(endpoint ?? "");
  if (endpoint && http) endpoint = endpoint.replace(/^https:\/\//i, "http://");
  return {
    bucket,
    keyPrefix,
    endpoint,
    region: region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined),
    // A hostname the SDK may not change cannot carry the bucket: the bucket goes in the path.
    forcePathStyle: forcePathStyle || (hostnameImmutable && endpoint !== undefined),
    http,
    profile,
    useFipsEndpoint,
    useDualstackEndpoint,
    useAccelerateEndpoint: accelerate !== undefined && parseGoBool(url, "accelerate", accelerate),
    requestChecksumCalculation,
    responseChecksumValidation,
    serverSideEncryption,
    kmsKeyId,
  };
}

/** The release-state store of an `s3://` backend URL, rooted at `<key prefix>/.pulumi/bluegreen/` of its bucket. */
export function s3StoreFromBackendUrl(url: string, env: Env = process.env, options: S3StoreOptions = {}): BlobStore {
  const backend = parseS3BackendUrl(url, env);
  let timeoutMs = options.timeoutMs;
  if (timeoutMs === undefined && env.BLUEGREEN_STATE_TIMEOUT_MS) {
    timeoutMs = Number(env.BLUEGREEN_STATE_TIMEOUT_MS);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new StoreError(
        `BLUEGREEN_STATE_TIMEOUT_MS: got "${env.BLUEGREEN_STATE_TIMEOUT_MS}"; ` +
          "allowed: a whole number of milliseconds above 0",
      );
    }
  }
  return new S3BlobStore(url, backend, env, timeoutMs ?? DEFAULT_TIMEOUT_MS, options.root);
}

/** A failure as the SDK reports it: a service error carries a name and an HTTP status. */
interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(err: unknown): number | undefined {
  return (err as SdkError)?.$metadata?.httpStatusCode;
}

class TimeoutError extends Error {}

export class S3BlobStore implements BlobStore {
  readonly location: string;
  private readonly root: string;
  private client?: S3.S3Client;
  private sdk?: typeof S3;

  constructor(
    private readonly url: string,
    private readonly backend: S3Backend,
    private readonly env: Env,
    private readonly timeoutMs: number,
    root = ".pulumi/bluegreen/",
  ) {
    this.root = `${backend.keyPrefix}${root}`;
    this.location = `s3://${backend.bucket}/${this.root.replace(/\/$/, "")}`;
  }

  async get(key: string): Promise<string | undefined> {
    const objectKey = this.key(key);
    const { GetObjectCommand } = this.load();
    try {
      return await this.call(async (signal) => {
        const out = await this.s3().send(new GetObjectCommand({ Bucket: this.backend.bucket, Key: objectKey }), {
          abortSignal: signal,
        });
        return out.Body ? await out.Body.transformToString("utf8") : "";
      });
    } catch (err) {
      if (statusOf(err) === 404 && (err as SdkError).name !== "NoSuchBucket") return undefined;
      throw this.failure("read", key, err);
    }
  }

  async createExclusive(key: string, body: string): Promise<boolean> {
    const objectKey = this.key(key);
    const { PutObjectCommand, HeadObjectCommand } = this.load();
    // Marks this attempt's object: if a retried PUT meets its own earlier, successful attempt (a lost answer), the 412
    // it gets is not a defeat.
    const token = crypto.randomUUID();
    const deadline = Date.now() + this.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.call(
          (signal) =>
            this.s3().send(
              new PutObjectCommand({
                Bucket: this.backend.bucket,
                Key: objectKey,
                Body: body,
                ContentType: "text/plain; charset=utf-8",
                IfNoneMatch: "*",
                Metadata: { "bluegreen-writer": token },
                ServerSideEncryption: this.backend.serverSideEncryption,
                SSEKMSKeyId: this.backend.kmsKeyId,
              }),
              { abortSignal: signal },
            ),
          deadline,
        );
        return true;
      } catch (err) {
        const status = statusOf(err);
        if (status === 412) {
          try {
            const head = await this.call(
              (signal) =>
                this.s3().send(new HeadObjectCommand({ Bucket: this.backend.bucket, Key: objectKey }), {
                  abortSignal: signal,
                }),
              deadline,
            );
            return head.Metadata?.["bluegreen-writer"] === token;
          } catch (headErr) {
            if (statusOf(headErr) === 404) return false; // created by another writer, and already deleted
            throw this.failure("write", key, headErr);
          }
        }
        // 409 ConditionalRequestConflict: another conditional write of the key was in flight; S3 asks for a retry,
        // which then meets the winner's object (412) or, if that write failed, wins.
        if (status === 409 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80 * Math.min(attempt, 5)));
          continue;
        }
        throw this.failure("write", key, err);
      }
    }
  }

  async list(prefix: string): Promise<string[]> {
    if (prefix !== "" && !prefix.endsWith("/")) {
      throw new StoreError(
        `store ${this.location}: cannot list ${JSON.stringify(prefix)}: a prefix is "" or ends in "/"`,
      );
    }
    if (prefix !== "") this.key(prefix.slice(0, -1));
    const { ListObjectsV2Command } = this.load();
    const keys: string[] = [];
    const deadline = Date.now() + this.timeoutMs;
    try {
      let token: string | undefined;
      do {
        // The delimiter keeps the listing to the folder's own objects, as a directory listing would.
        const page = await this.call(
          (signal) =>
            this.s3().send(
              new ListObjectsV2Command({
                Bucket: this.backend.bucket,
                Prefix: this.root + prefix,
                Delimiter: "/",
                ContinuationToken: token,
              }),
              { abortSignal: signal },
            ),
          deadline,
        );
        for (const object of page.Contents ?? []) {
          if (object.Key?.startsWith(this.root + prefix)) keys.push(object.Key.slice(this.root.length));
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.failure("list", prefix || "/", err);
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.key(key);
    const { DeleteObjectCommand } = this.load();
    try {
      await this.call((signal) =>
        this.s3().send(new DeleteObjectCommand({ Bucket: this.backend.bucket, Key: objectKey }), {
          abortSignal: signal,
        }),
      );
    } catch (err) {
      if (statusOf(err) === 404 && (err as SdkError).name !== "NoSuchBucket") return;
      throw this.failure("delete", key, err);
    }
  }

  /** The object key of a store key; refuses keys that would leave the store's folder or name a folder. */
  private key(key: string): string {
    if (key.startsWith("/") || key.split("/").some((part) => part === "" || part === "." || part === "..")) {
      throw new StoreError(`store ${this.location}: invalid key ${JSON.stringify(key)}`);
    }
    return this.root + key;
  }

  /** Loads the AWS SDK on first use only: programs that never touch an s3:// backend do not pay for it. */
  private load(): typeof S3 {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.sdk ??= require("@aws-sdk/client-s3") as typeof S3;
    return this.sdk;
  }

  private s3(): S3.S3Client {
    if (this.client) return this.client;
    const { S3Client } = this.load();
    const b = this.backend;
    const config: S3.S3ClientConfig = {
      region: b.region,
      endpoint: b.endpoint,
      forcePathStyle: b.forcePathStyle,
      tls: !b.http,
      useFipsEndpoint: b.useFipsEndpoint,
      useDualstackEndpoint: b.useDualstackEndpoint,
      useAccelerateEndpoint: b.useAccelerateEndpoint,
      requestChecksumCalculation:
        b.requestChecksumCalculation ?? checksumMode(this.env.AWS_REQUEST_CHECKSUM_CALCULATION),
      responseChecksumValidation:
        b.responseChecksumValidation ?? checksumMode(this.env.AWS_RESPONSE_CHECKSUM_VALIDATION),
      // Each attempt is bounded too, so a retry still fits in the call's limit.
      requestHandler: { connectionTimeout: Math.min(this.timeoutMs, 3000), requestTimeout: this.timeoutMs },
      maxAttempts: 3,
    };
    // The CLI's order (AWS SDK for Go v2): a profile in the URL, else keys in the environment, else AWS_PROFILE, else
    // the SDK's default chain (SSO, web identity, instance roles...).
    if (b.profile) config.profile = b.profile;
    else if (this.env.AWS_ACCESS_KEY_ID && this.env.AWS_SECRET_ACCESS_KEY) {
      config.credentials = {
        accessKeyId: this.env.AWS_ACCESS_KEY_ID,
        secretAccessKey: this.env.AWS_SECRET_ACCESS_KEY,
        sessionToken: this.env.AWS_SESSION_TOKEN || undefined,
      };
    } else if (this.env.AWS_PROFILE) config.profile = this.env.AWS_PROFILE;
    this.client = new S3Client(config);
    return this.client;
  }

  /** Runs one SDK call (with the SDK's retries) within the store's limit, or until `deadline`. */
  private async call<T>(run: (signal: AbortSignal) => Promise<T>, deadline = Date.now() + this.timeoutMs): Promise<T> {
    const controller = new AbortController();
    const ms = Math.max(1, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new TimeoutError(`no answer within ${this.timeoutMs / 1000} s`));
      }, ms);
    });
    try {
      return await Promise.race([run(controller.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private failure(what: string, key: string, err: unknown): StoreError {
    return new StoreError(
      `store ${this.location} (backend ${displayUrl(this.url)}): cannot ${what} ${key}: ${this.reason(err)}`,
    );
  }

  /** One line on what went wrong and what to do; never a stack trace, never a credential. */
  private reason(err: unknown): string {
    const e = (err ?? {}) as SdkError;
    const name = e.name ?? "";
    const message = (e.message ?? String(err)).split("\n")[0].slice(0, 300);
    if (err instanceof TimeoutError) {
      return `${message} (the store is unreachable or slow; BLUEGREEN_STATE_TIMEOUT_MS raises the limit)`;
    }
    if (name === "NoSuchBucket") return `the bucket ${this.backend.bucket} does not exist`;
    if (
      ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"].includes(name) ||
      statusOf(err) === 403
    ) {
      const what = name || "HTTP 403";
      return `access denied (${what}): check the AWS credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE) and their rights`;
    }
    if (name === "CredentialsProviderError") {
      return `no AWS credentials (${message}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE`;
    }
    if (/region is missing/i.test(message)) {
      return "no AWS region: add region=<region> to the backend URL or set AWS_REGION";
    }
    const code = e.code && !message.includes(e.code) ? ` (${e.code})` : "";
    const status = statusOf(err);
    const label = name && name !== "Error" && !message.startsWith(name) ? `${name}: ` : "";
    return `${label}${message}${code}${status ? ` [HTTP ${status}]` : ""}`;
  }
}

function checksumMode(value: string | undefined): "WHEN_SUPPORTED" | "WHEN_REQUIRED" | undefined {
  return value ? CHECKSUM_MODES[value.toLowerCase() as keyof typeof CHECKSUM_MODES] : undefined;
}
