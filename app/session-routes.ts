/**
 * Login and "who am I" for the demo service, to show what a switch does to sessions:
 *
 *   POST /login  {user}  -> 200 {user, sessionStore}, cookie `bg_session`
 *   GET  /me             -> 200 {user, sessionStore, servedBy, createdBy} or 401 {error, sessionStore}
 */
import * as http from "http";
import { parsePgUrl, PgClient } from "./db";
import { notesRoute, readBody } from "./db-notes";
import {
  MemorySessionStore,
  newSessionId,
  parseRedisUrl,
  RedisClient,
  RedisSessionStore,
  SessionStore,
} from "./session";

export const SESSION_COOKIE = "bg_session";
const TTL_SECONDS = 3600;

export interface SessionRouteOptions {
  store: SessionStore;
  service: string;
  color: string;
  version: string;
  instance: string;
}

function send(res: http.ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

function cookie(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

/** Answers /login and /me; returns false for every other path. */
export function sessionRoutes(
  opts: SessionRouteOptions,
): (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean {
  const servedBy = { color: opts.color, version: opts.version, instance: opts.instance };
  const fail = (res: http.ServerResponse, err: unknown): void =>
    send(res, 500, { error: `session store (${opts.store.kind}): ${(err as Error).message}`, servedBy });
  return (req, res, path) => {
    if (path === "/login" && req.method === "POST") {
      readBody(req)
        .then(async (text) => {
          let user: unknown;
          try {
            user = (JSON.parse(text) as { user?: unknown }).user;
          } catch {
            user = undefined;
          }
          if (typeof user !== "string" || user === "") {
            return send(res, 400, { error: "allowed: {user: non-empty string}", servedBy });
          }
          const id = newSessionId();
          await opts.store.put(id, { user, createdBy: servedBy, createdAt: new Date().toISOString() }, TTL_SECONDS);
          send(
            res,
            200,
            { user, sessionStore: opts.store.kind, servedBy },
            { "set-cookie": `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${TTL_SECONDS}` },
          );
        })
        .catch((err) => fail(res, err));
      return true;
    }
    if (path === "/me") {
      const id = cookie(req, SESSION_COOKIE);
      (id ? opts.store.get(id) : Promise.resolve(undefined))
        .then((s) =>
          s
            ? send(res, 200, { user: s.user, sessionStore: opts.store.kind, servedBy, createdBy: s.createdBy })
            : send(res, 401, {
                error: id ? "unknown session: log in again" : "not logged in",
                sessionStore: opts.store.kind,
                servedBy,
              }),
        )
        .catch((err) => fail(res, err));
      return true;
    }
    return false;
  };
}

type Route = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean;

/**
 * The stateful routes the environment asks for: /notes when DATABASE_URL is set, /login and /me always (sessions in
 * Redis when SESSION_REDIS_URL is set, else in this process's memory). Throws on a malformed URL.
 */
export function statefulRoutes(
  env: NodeJS.ProcessEnv,
  identity: { service: string; color: string; version: string; instance: string },
): Route[] {
  const routes: Route[] = [];
  if (env.DATABASE_URL) {
    routes.push(notesRoute({ db: new PgClient(parsePgUrl(env.DATABASE_URL)), ...identity }));
  }
  let store: SessionStore = new MemorySessionStore();
  if (env.SESSION_REDIS_URL) {
    const { host, port } = parseRedisUrl(env.SESSION_REDIS_URL);
    store = new RedisSessionStore(new RedisClient(host, port));
  }
  routes.push(sessionRoutes({ store, ...identity }));
  return routes;
}
