/**
 * The demo app's drain (what it does on SIGTERM): requests in flight finish, later answers on open keep-alive
 * connections carry `Connection: close`, idle connections close, new connections are refused, and no request on an
 * open connection fails. Real HTTP on loopback.
 */
import { strict as assert } from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { createApp, drain, NO_FAULT } from "../../app/server";

interface Answer {
  status: number;
  connection: string | undefined;
}

function get(port: number, agent: http.Agent, path = "/"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on("error", reject);
  });
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

const identity = { service: "web", color: "blue", version: "1.0.0", instance: "0" };

describe("demo app drain", () => {
  const agents: http.Agent[] = [];
  const newAgent = () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    agents.push(agent);
    return agent;
  };
  afterEach(() => agents.splice(0).forEach((agent) => agent.destroy()));

  it("lets a request in flight finish, then refuses new connections", async () => {
    const server = createApp({ ...identity, fault: { ...NO_FAULT, latencyMs: 300 } });
    const port = await listen(server);
    const agent = newAgent();
    const slow = get(port, agent);
    await new Promise((r) => setTimeout(r, 50));
    const drained = drain(server, { idleCloseMs: 100, graceMs: 5000 });
    const answer = await slow;
    assert.equal(answer.status, 200);
    assert.equal(answer.connection, "close", "the answer given while draining ends its connection");
    await drained;
    await assert.rejects(get(port, new http.Agent()), /ECONNREFUSED/);
  });

  it("answers later requests on an open keep-alive connection with Connection: close", async () => {
    const server = createApp({ ...identity, fault: NO_FAULT });
    const port = await listen(server);
    const agent = newAgent();
    assert.equal((await get(port, agent)).connection, "keep-alive");
    // The connection is open and idle; a request on it right after the drain starts must still be answered.
    const drained = drain(server, { idleCloseMs: 1000, graceMs: 5000 });
    const answer = await get(port, agent);
    assert.deepEqual(answer, { status: 200, connection: "close" });
    await drained;
  });

  it("closes connections left idle and resolves once none is open", async () => {
    const server = createApp({ ...identity, fault: NO_FAULT });
    const port = await listen(server);
    await get(port, newAgent());
    const started = Date.now();
    await drain(server, { idleCloseMs: 200, graceMs: 5000 });
    const took = Date.now() - started;
    assert.ok(took >= 150 && took < 2000, `drained in ${took} ms; expected about the idle close (200 ms)`);
  });

  it("ends a keep-alive connection past maxConnectionAgeMs after its next answer", async () => {
    const server = createApp({ ...identity, fault: NO_FAULT, maxConnectionAgeMs: 200 });
    const port = await listen(server);
    const agent = newAgent();
    assert.equal((await get(port, agent)).connection, "keep-alive");
    await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(await get(port, agent), { status: 200, connection: "close" });
    assert.equal((await get(port, agent)).connection, "keep-alive", "the client re-dialled: a young connection");
    await drain(server, { idleCloseMs: 50, graceMs: 2000 });
  });

  it("fails no request on an open connection under keep-alive load", async () => {
    const server = createApp({ ...identity, fault: { ...NO_FAULT, latencyMs: 5 } });
    const port = await listen(server);
    const agent = newAgent();
    const failures: string[] = [];
    let answered = 0;
    let refused = 0;
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          await get(port, agent);
          answered++;
        } catch (err) {
          // A new connection after the drain began: the client would reach another pod. Anything else is a failure.
          if ((err as NodeJS.ErrnoException).code === "ECONNREFUSED") refused++;
          else failures.push((err as Error).message);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const clients = [client(), client(), client(), client()];
    await new Promise((r) => setTimeout(r, 300));
    const before = answered;
    const drainStarted = Date.now();
    await drain(server, { idleCloseMs: 200, graceMs: 5000 });
    assert.ok(Date.now() - drainStarted < 4000, "the connections ended before the grace period");
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(clients);
    assert.deepEqual(failures, []);
    assert.ok(before > 10, `load ran (${before} answers before the drain)`);
    assert.ok(refused > 0, "after the drain, new connections were refused");
  });
});
