/**
 * The local platform end to end: the real Pulumi engine (Automation API, throwaway stack and backend), real demo-app
 * processes, a real HAProxy and real HTTP. Every test leaves the machine as it found it: `after` destroys the stack,
 * kills leftovers named by the state folder's pid files and checks that no process, port or HAProxy remains.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { PROJECT_ROOT } from "../support/engine";
import { Color } from "../../components/core/conventions";
import {
  allPorts,
  busyPorts,
  cleanupLocalStack,
  colorPoller,
  createLocalStack,
  failures,
  getJson,
  haproxyProcessesMentioning,
  keepAliveLoad,
  leftoverPids,
  LocalStackHandle,
  newConnectionLoad,
  portBlock,
  servicesConfig,
  settledAt,
} from "./local-harness";

const GOOD: Record<Color, string> = { blue: "1.0.0", green: "1.1.0" };

async function expectFailure(run: Promise<unknown>): Promise<string> {
  try {
    await run;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected `pulumi up` to fail, but it succeeded");
}

function assertIncludes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected the error to include ${JSON.stringify(part)}; got:\n${text}`);
}

function pick(obj: Record<string, string>, ...keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, obj[k]]));
}

async function colorOf(url: string): Promise<string> {
  const res = await getJson(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return res.body.color;
}

/** Exported resource state by name, to see what refresh recorded. */
async function resourceOutputs(h: LocalStackHandle, name: string): Promise<Record<string, unknown>> {
  const state = await h.stack.exportStack();
  const resources = (state.deployment as { resources: { urn: string; outputs: Record<string, unknown> }[] }).resources;
  const found = resources.find((r) => r.urn.endsWith(`::${name}`));
  if (!found) throw new Error(`no resource ${name} in the stack`);
  return found.outputs;
}

async function assertNothingLeft(h: LocalStackHandle, ports: number[]): Promise<void> {
  assert.deepEqual(leftoverPids(h.stateDir), [], "processes named by pid files");
  assert.deepEqual(haproxyProcessesMentioning(h.stateDir), [], "haproxy processes of this stack");
  assert.deepEqual(await busyPorts(ports), [], "ports still accepting connections");
}

describe("local platform: up, switch, faults, destroy (real engine, real HAProxy)", function () {
  this.timeout(180_000);
  const web = portBlock(0);
  const api = portBlock(1);
  const live = `http://127.0.0.1:${web}/`;
  const preview = `http://127.0.0.1:${web + 1}/`;
  let h: LocalStackHandle | undefined;

  const config = (liveColor: Color, versions = GOOD, local: Record<string, unknown> = {}, withApi = false) =>
    h!.setConfig(
      liveColor,
      servicesConfig({
        web: { livePort: web, versions },
        ...(withApi ? { api: { livePort: api, versions: GOOD, capacity: 1 } } : {}),
      }),
      local,
    );

  before(async () => {
    h = await createLocalStack("e2e");
  });

  after(async () => {
    const handle = h;
    h = undefined;
    if (handle) {
      await cleanupLocalStack(handle);
      await assertNothingLeft(handle, [...allPorts(web), ...allPorts(api)]);
    }
  });

  it("up starts both colors behind HAProxy: the live URL answers the live color, preview the idle one", async () => {
    await config("blue");
    const outputs = await h!.up();
    const out = outputs.web.value as Record<string, unknown>;
    assert.equal(out.liveEndpoint, `http://127.0.0.1:${web}`);
    assert.equal(out.previewEndpoint, `http://127.0.0.1:${web + 1}`);
    const liveAnswer = await getJson(live);
    assert.deepEqual(pick(liveAnswer.body, "service", "color", "version"), {
      service: "web",
      color: "blue",
      version: "1.0.0",
    });
    assert.deepEqual(pick((await getJson(preview)).body, "color", "version"), { color: "green", version: "1.1.0" });
    assert.equal(fs.existsSync(out.adminSocket as string), true, "admin socket");
    // What the policy pack pairs by: dynamic resources with a tags map, the router with weights.
    const state = await h!.stack.exportStack();
    const resources = (
      state.deployment as { resources: { type: string; urn: string; inputs: Record<string, unknown> }[] }
    ).resources;
    const tagsOf = (name: string) => {
      const r = resources.find((x) => x.urn.endsWith(`::${name}`));
      assert.equal(r?.type, "pulumi-nodejs:dynamic:Resource", name);
      return r?.inputs ?? {};
    };
    assert.deepEqual(tagsOf("web-blue").tags, {
      "bluegreen/service": "web",
      "bluegreen/color": "blue",
      "bluegreen/role": "local-instance",
      "bluegreen/version": "1.0.0",
    });
    assert.equal((tagsOf("web-green").tags as Record<string, string>)["bluegreen/role"], "local-instance");
    assert.deepEqual(tagsOf("web-router").weights, { blue: 100, green: 0 });
    assert.equal((tagsOf("web-router").tags as Record<string, string>)["bluegreen/role"], "router");
  });

  it("flipping liveColor switches traffic and updates only the router (runtime API, no reload)", async () => {
    await config("green");
    // With the policy pack: running processes (pids, ports, logs) must not count as drift between the colors.
    const res = await h!.stack.up({ policyPacks: [path.join(PROJECT_ROOT, "policy")] });
    assert.equal(res.summary.resourceChanges?.update, 1, JSON.stringify(res.summary.resourceChanges));
    assert.equal(res.summary.resourceChanges?.create ?? 0, 0);
    assert.equal(res.summary.resourceChanges?.replace ?? 0, 0);
    const change = (res.outputs.web.value as { routerChange: { method: string } }).routerChange;
    assert.equal(change.method, "runtime-api");
    assert.deepEqual(pick((await getJson(live)).body, "color", "version"), { color: "green", version: "1.1.0" });
    assert.equal(await colorOf(preview), "blue");
  });

  it("killing an instance of the live color does not stop service: HAProxy routes round it", async () => {
    const pool = await resourceOutputs(h!, "web-green");
    const victim = (pool.processes as { pid: number; port: number }[])[0];
    process.kill(-victim.pid, "SIGKILL");
    const answers: number[] = [];
    for (let i = 0; i < 100; i++) {
      answers.push(
        await getJson(live).then(
          (r) => r.status,
          () => 0,
        ),
      );
    }
    assert.deepEqual(
      answers.filter((s) => s !== 200),
      [],
      "failed requests after the kill",
    );
  });

  it("refresh reports the dead instance; the next up restarts only it", async () => {
    await h!.stack.refresh();
    const pool = await resourceOutputs(h!, "web-green");
    assert.match(String(pool.status), /^degraded: instance 0 .* is not running/);
    const survivor = (pool.processes as { pid: number }[])[1].pid;
    const res = await h!.stack.up();
    assert.equal(res.summary.resourceChanges?.update, 1, JSON.stringify(res.summary.resourceChanges));
    const healed = await resourceOutputs(h!, "web-green");
    assert.equal(healed.status, "running");
    assert.equal((healed.processes as { pid: number }[])[1].pid, survivor, "the healthy instance was left alone");
    assert.deepEqual(await busyPorts([web + 20]), [web + 20]);
  });

  it("a release whose command exits at once fails up, names service, color and command, and live keeps serving", async () => {
    // The idle color (blue) gets a version that crashes at start; the same run also asks to switch to it.
    await config("blue", { blue: "2.0.0-crash", green: GOOD.green });
    const message = await expectFailure(h!.up());
    assertIncludes(message, 'local service "web", color blue, instance 0');
    assert.match(message, /command "node \S+app\/main\.js" exited with code 3 before passing its health check/);
    assertIncludes(message, "carries the crash fault");
    assert.equal(await colorOf(live), "green");
  });

  it("a release whose health check never passes fails up within the start timeout; live keeps serving", async () => {
    await config("green", { blue: "2.0.0-unhealthy", green: GOOD.green }, { startTimeoutSeconds: 3 });
    const message = await expectFailure(h!.up());
    assertIncludes(message, 'local service "web", color blue');
    assert.match(
      message,
      /health check GET http:\/\/127\.0\.0\.1:\d+\/health did not pass within 3 s \(last: HTTP 503\)/,
    );
    assert.equal(await colorOf(live), "green");
    // Back to a good idle color for the next tests.
    await config("green");
    await h!.up();
  });

  it("a port already in use fails up with the port and the config key; live keeps serving", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(api, "127.0.0.1", resolve));
    try {
      await config("green", GOOD, {}, true);
      const message = await expectFailure(h!.up());
      assertIncludes(
        message,
        `local router (HAProxy) of service "api": live port ${api} on 127.0.0.1 is already in use by another process`,
      );
      assertIncludes(message, "bluegreen:services.api.local.livePort");
      assert.equal(await colorOf(live), "green");
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    await config("green"); // drop api again: its pools were created and go now
    await h!.up();
    assert.deepEqual(await busyPorts(allPorts(api)), []);
  });

  it("a missing HAProxy binary fails up before any change; the running router keeps serving", async () => {
    await config("blue", GOOD, { haproxyPath: "/nonexistent/haproxy" });
    const message = await expectFailure(h!.up());
    assertIncludes(message, 'HAProxy not found at "/nonexistent/haproxy" (bluegreen:local.haproxyPath)');
    assert.equal(await colorOf(live), "green");
  });

  it("destroy stops every instance and HAProxy and frees every port", async () => {
    await config("green");
    await h!.destroy();
    await assertNothingLeft(h!, [...allPorts(web), ...allPorts(api)]);
    assert.equal(fs.existsSync(path.join(h!.stateDir, "local", h!.stackName, "web", "admin.sock")), false);
  });
});

describe("local platform: switching under load (short benchmark, real HTTP)", function () {
  this.timeout(240_000);
  const port = portBlock(2);
  const url = `http://127.0.0.1:${port}/`;
  let h: LocalStackHandle | undefined;

  after(async () => {
    const handle = h;
    h = undefined;
    if (handle) {
      await cleanupLocalStack(handle);
      await assertNothingLeft(handle, allPorts(port));
    }
  });

  it("flips the live color twice under keep-alive and new-connection load with 0 failed requests", async () => {
    h = await createLocalStack("load");
    const set = (c: Color) => h!.setConfig(c, servicesConfig({ web: { livePort: port, versions: GOOD } }));
    await set("blue");
    await h.up();
    const keepAlive = keepAliveLoad(url, 500, 16);
    const fresh = newConnectionLoad(url, 100);
    const poller = colorPoller(url, 20);
    const switches: number[] = [];
    try {
      await new Promise((r) => setTimeout(r, 1000));
      for (const color of ["green", "blue"] as Color[]) {
        await set(color);
        const started = Date.now();
        await h.up();
        await new Promise((r) => setTimeout(r, 1000));
        const settled = settledAt(poller.records, color, started);
        assert.notEqual(settled, undefined, `traffic settled on ${color}`);
        switches.push(settled! - started);
      }
    } finally {
      await poller.stop();
      await fresh.stop();
      await keepAlive.stop();
    }
    const ka = keepAlive.samples;
    assert.ok(ka.length > 2000, "keep-alive responses");
    assert.ok(fresh.samples.length > 400, "new-connection responses");
    assert.deepEqual(failures(ka), [], "failed keep-alive requests");
    assert.deepEqual(failures(fresh.samples), [], "failed new-connection requests");
    console.log(
      `      switch times ${switches.map((s) => `${s} ms`).join(", ")}; ${ka.length} keep-alive and ` +
        `${fresh.samples.length} new-connection requests, 0 failed`,
    );
  });
});
