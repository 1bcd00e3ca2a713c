/**
 * A minimal PostgreSQL client for the demo service: the frontend/backend protocol v3 over one TCP connection, simple
 * queries only (values are quoted by `literal`), trust or cleartext-password authentication. It exists because the
 * demo must run with no npm install beyond the project's lock file; a real service would use `pg` (node-postgres).
 *
 * Queries are serialized on the one connection; a broken connection is reopened by the next query.
 */
import * as net from "net";

export interface PgConfig {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
}

/** Parses `postgres://user[:password]@host[:port]/database`. Throws a message naming the value on anything else. */
export function parsePgUrl(url: string): PgConfig {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`DATABASE_URL: got ${JSON.stringify(url)}; allowed: postgres://user@host:port/database`);
  }
  if ((u.protocol !== "postgres:" && u.protocol !== "postgresql:") || !u.username || u.pathname.length < 2) {
    throw new Error(`DATABASE_URL: got ${JSON.stringify(url)}; allowed: postgres://user@host:port/database`);
  }
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username),
    database: decodeURIComponent(u.pathname.slice(1)),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/** A server error (ErrorResponse): `code` is the SQLSTATE, e.g. 42703 for an undefined column. */
export class PgError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "PgError";
  }
}

export type Row = Record<string, string | null>;

/** A SQL string literal (standard_conforming_strings is on by default since PostgreSQL 9.1). */
export function literal(value: string | number | null): string {
  if (value === null) return "NULL";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
    return String(value);
  }
  if (value.includes("\0")) throw new Error("a text value may not contain NUL");
  return `'${value.replace(/'/g, "''")}'`;
}

interface Pending {
  rows: Row[];
  fields: string[];
  error?: PgError;
  resolve(rows: Row[]): void;
  reject(err: Error): void;
}

export class PgClient {
  private socket?: net.Socket;
  private ready?: Promise<void>;
  private buf = Buffer.alloc(0);
  private pending: Pending[] = [];
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly cfg: PgConfig,
    private readonly timeoutMs = 5000,
  ) {}

  /** Runs one simple query (one or more statements); resolves with the rows of the last result. */
  query(sql: string): Promise<Row[]> {
    const run = this.chain.then(() => this.send(sql));
    this.chain = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.socket?.end();
    this.socket = undefined;
    this.ready = undefined;
  }

  private async send(sql: string): Promise<Row[]> {
    await this.connect();
    const socket = this.socket!;
    return new Promise<Row[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`no answer from PostgreSQL within ${this.timeoutMs}ms`));
      }, this.timeoutMs);
      this.pending.push({
        rows: [],
        fields: [],
        resolve: (rows) => (clearTimeout(timer), resolve(rows)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      });
      socket.write(message("Q", cstring(sql)));
    });
  }

  private connect(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: this.cfg.host, port: this.cfg.port });
      this.socket = socket;
      this.buf = Buffer.alloc(0);
      let started = false;
      const timer = setTimeout(() => socket.destroy(new Error("connect timeout")), this.timeoutMs);
      // The startup exchange ends with the first ReadyForQuery; it is tracked like a query.
      this.pending.unshift({
        rows: [],
        fields: [],
        resolve: () => {
          started = true;
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      socket.on("connect", () => {
        const params = cstring("user") + cstring(this.cfg.user) + cstring("database") + cstring(this.cfg.database);
        const body = Buffer.concat([int32(196608), Buffer.from(params + "\0")]);
        socket.write(Buffer.concat([int32(body.length + 4), body]));
      });
      socket.on("data", (d: Buffer) => this.onData(d));
      socket.on("error", (err) => this.fail(new Error(`PostgreSQL ${this.cfg.host}:${this.cfg.port}: ${err.message}`)));
      socket.on("close", () => {
        if (this.socket === socket) this.fail(new Error("PostgreSQL connection closed"));
        if (!started) clearTimeout(timer);
      });
    });
    return this.ready;
  }

  /** Rejects everything in flight and forgets the connection (the next query reconnects). */
  private fail(err: Error): void {
    const pending = this.pending;
    this.pending = [];
    this.socket?.destroy();
    this.socket = undefined;
    this.ready = undefined;
    for (const p of pending) p.reject(err);
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 5) {
      const len = this.buf.readInt32BE(1);
      if (this.buf.length < len + 1) return;
      const type = String.fromCharCode(this.buf[0]);
      const body = this.buf.subarray(5, len + 1);
      this.buf = this.buf.subarray(len + 1);
      this.onMessage(type, body);
    }
  }

  private onMessage(type: string, body: Buffer): void {
    const cur = this.pending[0];
    switch (type) {
      case "R": {
        const kind = body.readInt32BE(0);
        if (kind === 0) return; // AuthenticationOk
        if (kind === 3 && this.cfg.password !== undefined) {
          this.socket?.write(message("p", cstring(this.cfg.password)));
          return;
        }
        this.fail(
          new Error(
            `PostgreSQL asks for authentication method ${kind}; this demo client speaks trust and cleartext password only`,
          ),
        );
        return;
      }
      case "T": {
        const n = body.readInt16BE(0);
        let off = 2;
        const fields: string[] = [];
        for (let i = 0; i < n; i++) {
          const end = body.indexOf(0, off);
          fields.push(body.toString("utf8", off, end));
          off = end + 1 + 18; // table oid, column, type oid, size, modifier, format
        }
        if (cur) {
          cur.fields = fields;
          cur.rows = []; // a later statement's rows replace the earlier ones
        }
        return;
      }
      case "D": {
        if (!cur) return;
        const n = body.readInt16BE(0);
        let off = 2;
        const row: Row = {};
        for (let i = 0; i < n; i++) {
          const len = body.readInt32BE(off);
          off += 4;
          row[cur.fields[i]] = len < 0 ? null : body.toString("utf8", off, off + len);
          if (len > 0) off += len;
        }
        cur.rows.push(row);
        return;
      }
      case "E": {
        const fields = parseFields(body);
        const err = new PgError(`${fields.M ?? "error"} (SQLSTATE ${fields.C ?? "?"})`, fields.C ?? "");
        if (cur) cur.error = err;
        else this.fail(err);
        return;
      }
      case "Z": {
        const p = this.pending.shift();
        if (!p) return;
        if (p.error) p.reject(p.error);
        else p.resolve(p.rows);
        return;
      }
      default:
        // ParameterStatus, BackendKeyData, CommandComplete, NoticeResponse, EmptyQueryResponse: nothing to keep.
        return;
    }
  }
}

function parseFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < body.length && body[off] !== 0) {
    const code = String.fromCharCode(body[off]);
    const end = body.indexOf(0, off + 1);
    out[code] = body.toString("utf8", off + 1, end);
    off = end + 1;
  }
  return out;
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function cstring(s: string): string {
  return `${s}\0`;
}

function message(type: string, payload: string): Buffer {
  const body = Buffer.from(payload, "utf8");
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
}
