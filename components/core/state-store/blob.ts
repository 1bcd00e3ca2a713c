/**
 * The small object-store interface the release state is kept in, beside Pulumi's own state in the stack's backend
 * (a `file://` directory or an `s3://` bucket): whatever checkout or CI runner reaches the backend reaches the release
 * state too. Keys are relative, `/`-separated paths under the store's root (`<backend>/.pulumi/bluegreen/`).
 *
 * The one primitive that makes concurrent writers safe is `createExclusive`: of two writers creating the same key at
 * once, exactly one gets `true`. The release state (release-state.ts) builds its compare-and-swap on it.
 */
export interface BlobStore {
  /** Where the store lives, for messages (`file:///…/.pulumi/bluegreen`, `s3://bucket/prefix/.pulumi/bluegreen`). */
  readonly location: string;
  /** The object's text, or undefined when there is none. */
  get(key: string): Promise<string | undefined>;
  /**
   * Creates `key` holding `body` only if no object has that key; `false` (and nothing written) when one exists. Atomic
   * against every other writer of the same store, on any host.
   */
  createExclusive(key: string, body: string): Promise<boolean>;
  /** Keys under `prefix` (a folder ending in `/`), in lexicographic order, relative to the store's root. */
  list(prefix: string): Promise<string[]>;
  /** Removes `key`; no error when it does not exist. */
  delete(key: string): Promise<void>;
}

/** A backend URL this store cannot serve, or a store that cannot be reached: the message says which and what to do. */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreError";
  }
}
