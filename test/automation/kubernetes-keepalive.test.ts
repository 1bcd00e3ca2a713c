/**
 * The switch confirmation's keep-alive probe against real HTTP: two demo app instances (blue, green) behind a TCP
 * balancer that picks a backend per connection, as kube-proxy does. After the "selector" moves, connections opened
 * before it stay on blue unless the app bounds their age; the probe must tell the two cases apart.
 */
import { strict as assert } from "assert";
import * as http from "http";
import * as net from "net";
import { createApp, drain, NO_FAULT } from "../../app/server";
import {
  KeepAliveProbe,
  versionOf,
  waitForKeepAliveClients,
} from "../../components/kubernetes/release/keepalive-probe";

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A per-connection balancer: each new connection goes to `target`, and stays there (conntrack). */
function balancer(): { server: net.Server; target: { port: number }; sockets: Set<net.Socket> } {
  const target = { port: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  return { server, target, sockets };
}

describe("kubernetes switch confirmation: keep-alive probe", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(maxConnectionAgeMs: number) {
    const apps: http.Server[] = [];
    const ports: number[] = [];
    for (const version of ["1.0.0", "2.0.0"]) {
      const app = createApp({
        service: "web",
        color: "x",
        version,
        instance: "0",
        fault: NO_FAULT,
        maxConnectionAgeMs,
      });
      ports.push(await listen(app));
      apps.push(app);
    }
    const lb = balancer();
    lb.target.port = ports[0];
    const port = await listen(lb.server);
    cleanups.push(async () => {
      lb.sockets.forEach((s) => s.destroy());
      lb.server.close();
      await Promise.all(apps.map((a) => drain(a, { idleCloseMs: 10, graceMs: 500 })));
    });
    const probe = new KeepAliveProbe(`http://127.0.0.1:${port}/`, { connections: 4 });
    cleanups.push(() => probe.close());
    return { lb, ports, probe };
  }

  it("reports keep-alive clients still on the old version when the app keeps its connections", async () => {
    const { lb, ports, probe } = await setup(0);
    assert.deepEqual(await probe.sample(), Array(4).fill({ version: "1.0.0" }));
    lb.target.port = ports[1];
    const check = await waitForKeepAliveClients(probe, "2.0.0", Date.now(), 600);
    assert.equal(check.ok, false);
    assert.equal(check.figures?.msToAllNew, null);
    assert.match(check.detail, /still answer \[1\.0\.0, 1\.0\.0, 1\.0\.0, 1\.0\.0\]/);
    assert.match(check.detail, /BLUEGREEN_MAX_CONNECTION_AGE_MS/);
    // A client opening a new connection would already be on the new version: the EndpointSlice view alone misleads.
    const lbPort = (lb.server.address() as net.AddressInfo).port;
    const freshProbe = new KeepAliveProbe(`http://127.0.0.1:${lbPort}/`, { connections: 1 });
    const fresh = await freshProbe.sample();
    freshProbe.close();
    assert.deepEqual(fresh, [{ version: "2.0.0" }]);
  });

  it("measures the time until every keep-alive connection answers from the new version", async () => {
    const { lb, ports, probe } = await setup(300);
    await probe.sample();
    lb.target.port = ports[1];
    const since = Date.now();
    const check = await waitForKeepAliveClients(probe, "2.0.0", since, 5000);
    assert.equal(check.ok, true, check.detail);
    const ms = check.figures?.msToAllNew as number;
    assert.ok(ms <= 1000, `${ms} ms`);
    assert.equal(check.figures?.failed, 0);
  });

  it("reads the version from the JSON body, else the x-version header, and says when there is none", () => {
    assert.deepEqual(versionOf(200, {}, '{"version":"1.2.3"}'), { version: "1.2.3" });
    assert.deepEqual(versionOf(200, { "x-version": "4.5.6" }, "ok"), { version: "4.5.6" });
    assert.deepEqual(versionOf(503, {}, ""), { error: "HTTP 503" });
    assert.match((versionOf(200, {}, "ok") as { error: string }).error, /names no version/);
  });
});
