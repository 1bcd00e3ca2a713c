/**
 * The release state in a `file://` backend: plain files under `<backend dir>/.pulumi/bluegreen/`, beside Pulumi's own
 * `.pulumi/stacks/`. A shared directory (NFS, a mounted volume, one machine's runners) is shared state for every
 * checkout that logs in to it. `createExclusive` is `link(2)` of a fully written temp file: atomic on POSIX file
 * systems, and a reader never sees half an object.
 */
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

  get(key: string): Promise<string | undefined> {
    try {
      return Promise.resolve(fs.readFileSync(this.file(key), "utf8"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return Promise.resolve(undefined);
      return Promise.reject(this.failure("read", key, err));
    }
  }

  createExclusive(key: string, body: string): Promise<boolean> {
    const target = this.file(key);
    const tmp = `${target}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    try {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(tmp, body, { mode: 0o600 });
      try {
        fs.linkSync(tmp, target); // fails with EEXIST when another writer got there first
        return Promise.resolve(true);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") return Promise.resolve(false);
        throw err;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    } catch (err) {
      return Promise.reject(this.failure("write", key, err));
    }
  }

  list(prefix: string): Promise<string[]> {
    const dir = this.file(prefix.replace(/\/$/, ""));
    try {
      const names = fs.readdirSync(dir).filter((n) => !n.endsWith(".tmp"));
      return Promise.resolve(names.map((n) => `${prefix.replace(/\/?$/, "/")}${n}`).sort());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return Promise.resolve([]);
      return Promise.reject(this.failure("list", prefix, err));
    }
  }

  delete(key: string): Promise<void> {
    try {
      fs.rmSync(this.file(key), { force: true });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(this.failure("delete", key, err));
    }
  }

  private failure(what: string, key: string, err: unknown): StoreError {
    return new StoreError(`store ${this.location}: cannot ${what} ${key}: ${(err as Error).message}`);
  }
}
