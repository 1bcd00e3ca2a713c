/**
 * Sessions of the demo service. With SESSION_REDIS_URL set they live in Redis, shared by every instance of both
 * colors, so a user logged in on blue stays logged in after the switch to green. Without it each process keeps its
 * own sessions in memory: after a switch (or on another instance of the same color) the session is unknown and the
 * user must log in again - which is what the docs tell operators to expect.
 *
 * The Redis client speaks RESP2 over one TCP connection (commands serialized, reconnect on the next command); it
 * exists because the demo runs with no npm install beyond the project's lock file.
 */
import * as crypto from "crypto";
import * as net from "net";

export interface Session {
  user: string;
  /** Where the session was created (shows, after a switch, that another color served the login). */
  createdBy: { color: string; version: string; instance: string };
  createdAt: string;
}

export interface SessionStore {
  readonly kind: "redis" | "memory";
  get(id: string): Promise<Session | undefined>;
  put(id: string, session: Session, ttlSeconds: number): Promise<void>;
}

export function newSessionId(): string {
  return crypto.randomBytes(18).toString("base64url");
}

export class MemorySessionStore implements SessionStore {
  readonly kind = "memory";
  private readonly map = new Map<string, { session: Session; until: number }>();

  async get(id: string): Promise<Session | undefined> {
    const e = this.map.get(id);
    if (!e || e.until < Date.now()) return undefined;
    return Promise.resolve(e.session);
  }

  async put(id: string, session: Session, ttlSeconds: number): Promise<void> {
    this.map.set(id, { session, until: Date.now() + ttlSeconds * 1000 });
    return Promise.resolve();
  }
}

export class RedisSessionStore implements SessionStore {
  readonly kind = "redis";
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = "bluegreen:session:",
  ) {}

  async get(id: string): Promise<Session | undefined> {
    const v = await this.redis.command(["GET", this.prefix + id]);
    return typeof v === "string" ? (JSON.parse(v) as Session) : undefined;
  }

  async put(id: string, session: Session, ttlSeconds: number): Promise<void> {
    await this.redis.command(["SET", this.prefix + id, JSON.stringify(session), "EX", String(ttlSeconds)]);
  }
}

export type RespValue = string | number | null | RespValue[];

export class RedisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisError";
  }
}

/** `redis://host:port` (no auth, no database index: the demo's Redis is loopback-only). */
export function parseRedisUrl(url: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`SESSION_REDIS_URL: got ${JSON.stringify(url)}; allowed: redis://host:port`);
  }
  if (u.protocol !== "redis:" || !u.hostname) {
    throw new Error(`SESSION_REDIS_URL: got ${JSON.stringify(url)}; allowed: redis://host:port`);
  }
  return { host: u.hostname, port: u.port ? Number(u.port) : 6379 };
}

export class RedisClient {
  private socket?: net.Socket;
  private buf = Buffer.alloc(0);
  private waiting: { resolve(v: RespValue): void; reject(e: Error): void }[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs = 3000,
  ) {}

  command(args: string[]): Promise<RespValue> {
    const socket = this.open();
    return new Promise<RespValue>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new Error(`no answer from Redis within ${this.timeoutMs}ms`)),
        this.timeoutMs,
      );
      this.waiting.push({
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      const parts = [`*${args.length}\r\n`];
      for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
      socket.write(parts.join(""));
    });
  }

  close(): void {
    this.socket?.end();
    this.socket = undefined;
  }

  private open(): net.Socket {
    if (this.socket) return this.socket;
    const socket = net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const parsed = parseReply(this.buf, 0);
        if (!parsed) return;
        this.buf = this.buf.subarray(parsed.end);
        const w = this.waiting.shift();
        if (!w) continue;
        if (parsed.value instanceof RedisError) w.reject(parsed.value);
        else w.resolve(parsed.value);
      }
    });
    socket.on("error", (err) => this.fail(new Error(`Redis ${this.host}:${this.port}: ${err.message}`)));
    socket.on("close", () => {
      if (this.socket === socket) this.fail(new Error("Redis connection closed"));
    });
    return socket;
  }

  private fail(err: Error): void {
    const waiting = this.waiting;
    this.waiting = [];
    this.socket?.destroy();
    this.socket = undefined;
    for (const w of waiting) w.reject(err);
  }
}

/** One RESP2 reply starting at `off`, or undefined when more bytes are needed. */
function parseReply(buf: Buffer, off: number): { value: RespValue | RedisError; end: number } | undefined {
  const lineEnd = buf.indexOf("\r\n", off);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[off]);
  const line = buf.toString("utf8", off + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new RedisError(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { value: buf.toString("utf8", next, next + len), end: next + len + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, pos);
        if (!item) return undefined;
        if (item.value instanceof RedisError) return { value: item.value, end: item.end };
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      return { value: new RedisError(`unexpected reply type ${JSON.stringify(type)}`), end: buf.length };
  }
}
