/**
 * The demo service's database feature: a `notes` table it reads and writes, so releases have a schema to migrate.
 *
 *   GET  /notes   {service, color, version, notes: [{id, body, author}]}   (newest 20)
 *   POST /notes   {body, author} -> 201 {id, version, color}
 *
 * The code changes with the version, like a real service's: versions 1.x keep the author in column `author`;
 * versions 2.x and later in `author_name`. The migrations in app/migrations/ make that rename safe for a blue-green
 * release (expand: add `author_name` and keep both columns in step; contract: drop `author` once no 1.x serves).
 */
import * as http from "http";
import { literal, PgClient } from "./db";

export interface NotesOptions {
  db: PgClient;
  service: string;
  color: string;
  version: string;
}

/** The column this version's code keeps the author in. */
export function authorColumn(version: string): "author" | "author_name" {
  const major = Number(/^(\d+)/.exec(version)?.[1] ?? "0");
  return major >= 2 ? "author_name" : "author";
}

function send(res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function readBody(req: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.on("data", (d: Buffer) => {
      text += d.toString();
      if (text.length > limit) reject(new Error("body too large"));
    });
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}

/** Answers /notes; returns false for every other path. */
export function notesRoute(
  opts: NotesOptions,
): (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean {
  const column = authorColumn(opts.version);
  const identity = { service: opts.service, color: opts.color, version: opts.version };
  const fail = (res: http.ServerResponse, err: unknown): void =>
    send(res, 500, { error: `database: ${(err as Error).message}`, ...identity });
  return (req, res, path) => {
    if (path !== "/notes") return false;
    if (req.method === "GET") {
      opts.db
        .query(`SELECT id, body, ${column} AS author FROM notes ORDER BY id DESC LIMIT 20`)
        .then((rows) => send(res, 200, { ...identity, notes: rows.map((r) => ({ ...r, id: Number(r.id) })) }))
        .catch((err) => fail(res, err));
      return true;
    }
    if (req.method === "POST") {
      readBody(req)
        .then(async (text) => {
          let input: { body?: unknown; author?: unknown };
          try {
            input = JSON.parse(text) as typeof input;
          } catch {
            return send(res, 400, { error: "body: not JSON; allowed: {body: string, author: string}", ...identity });
          }
          if (typeof input.body !== "string" || typeof input.author !== "string") {
            return send(res, 400, { error: "allowed: {body: string, author: string}", ...identity });
          }
          const rows = await opts.db.query(
            `INSERT INTO notes (body, ${column}) VALUES (${literal(input.body)}, ${literal(input.author)}) RETURNING id`,
          );
          send(res, 201, { id: Number(rows[0]?.id), ...identity });
        })
        .catch((err) => fail(res, err));
      return true;
    }
    send(res, 405, { error: `method ${req.method} not allowed on /notes; allowed: GET, POST`, ...identity });
    return true;
  };
}

/**
 * SQL that runs every query `version`'s code sends, without changing data: the migration runner appends it to an
 * expand inside a rolled-back transaction, so an expand that would break the live version is refused before it is
 * applied (app/migrations/migrate.sh).
 */
export function probeSql(version: string): string {
  const column = authorColumn(version);
  return [
    `SELECT id, body, ${column} AS author FROM notes ORDER BY id DESC LIMIT 0;`,
    "SAVEPOINT probe;",
    `INSERT INTO notes (body, ${column}) VALUES ('probe', 'probe') RETURNING id;`,
    "ROLLBACK TO SAVEPOINT probe;",
  ].join("\n");
}
