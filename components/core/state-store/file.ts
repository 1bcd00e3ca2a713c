/**
 * The release state in a `file://` backend: plain files under `<backend dir>/.pulumi/bluegreen/`, beside Pulumi's own
 * `.pulumi/stacks/`. A shared directory (NFS, a mounted volume, one machine's runners) is shared state for every
 * checkout that logs in to it. `createExclusive` is `link(2)` of a fully written temp file: atomic on POSIX file
 * systems, and a reader never sees half an object.
 */
/* eslint-disable @typescript-eslint/require-await -- synchronous fs calls behind the async BlobStore interface, so that every failure is a rejection */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BlobStore, StoreError } from "./blob";

/** The directory of a `file://` backend URL (`file://~/x` and `file:///abs`), or undefined for other schemes. */
export function fileBackendDir(url: string): string | undefined {
  if (!url.startsWith("file://")) return undefined;
  return url
    .slice("file://".length)
    .replace(/^~(?=\/|$)/, os.homedir())
    .split("?")[0];
}

export function fileStoreFromBackendUrl(url: string): BlobStore {
  const dir = fileBackendDir(url);
  if (dir === undefined || dir === "") throw new StoreError(`backend ${url}: not a file:// backend URL`);
  return new FileBlobStore(path.join(path.resolve(dir), ".pulumi", "bluegreen"));
}

export class FileBlobStore implements BlobStore {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = `file://${root}`;
  }

  private file(key: string): string {
    if (key.split("/").some((part) => part === ".." || part === "")) {
      throw new StoreError(`store ${this.location}: invalid key ${JSON.stringify(key)}`);
    }
    return path.join(this.root, ...key.split("/"));
  }

  // async: a bad key (this.file throws) is a rejected promise like every other failure, never a synchronous throw.
  async get(key: string): Promise<string | undefined> {
    try {
      return fs.readFileSync(this.file(key), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err instanceof StoreError ? err : this.failure("read", key, err);
    }
  }

  async createExclusive(key: string, body: string): Promise<boolean> {
    try {
      const target = this.file(key);
      const tmp = `${target}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(tmp, body, { mode: 0o600 });
      try {
        fs.linkSync(tmp, target); // fails with EEXIST when another writer got there first
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw err;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    } catch (err) {
      throw err instanceof StoreError ? err : this.failure("write", key, err);
    }
  }

  /** Objects directly under `prefix` (like S3's delimiter listing: no sub-folders). */
  async list(prefix: string): Promise<string[]> {
    try {
      const dir = this.file(prefix.replace(/\/$/, ""));
      const entries = fs.readdirSync(dir, { withFileTypes: true });
      const names = entries.filter((e) => e.isFile() && !e.name.endsWith(".tmp")).map((e) => e.name);
      return names.map((n) => `${prefix.replace(/\/?$/, "/")}${n}`).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err instanceof StoreError ? err : this.failure("list", prefix, err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      fs.rmSync(this.file(key), { force: true });
    } catch (err) {
      throw err instanceof StoreError ? err : this.failure("delete", key, err);
    }
  }

  private failure(what: string, key: string, err: unknown): StoreError {
    return new StoreError(`store ${this.location}: cannot ${what} ${key}: ${(err as Error).message}`);
  }
}
