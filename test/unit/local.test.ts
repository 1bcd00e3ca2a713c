/**
 * Unit tests of the local platform's pure parts: the demo app's faults, HAProxy config and weight planning, local
 * settings validation and the per-color plan (identical colors, switch = router inputs only).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { createApp, parseFaults } from "../../app/server";
import { ConfigError } from "../../components/core/config";
import { decideRouting } from "../../components/core/routing";
import { DEFAULTS, ServiceConfig } from "../../components/core/spec";
import { diffPool, diffRouter } from "../../components/local/driver";
import {
  parseServersState,
  plannedWeightChanges,
  renderConfig,
  serverWeights,
  setWeightCommand,
  weightTable,
} from "../../components/local/haproxy";
import { buildLocalPlan } from "../../components/local/plan";
import { findExecutable, processStartTime, runSync } from "../../components/local/proc";
import { parseLocalServiceSettings, parseLocalStackSettings } from "../../components/local/settings";
import { InstancePoolOutputs, RouterOutputs } from "../../components/local/types";

function service(
  name = "web",
  local: unknown = { livePort: 18080 },
  extra: Partial<ServiceConfig> = {},
): ServiceConfig {
  return {
    spec: {
      name,
      port: 8080,
      image: `example/${name}`,
      capacity: 2,
      healthCheck: { ...DEFAULTS.healthCheck },
      env: { LOG_LEVEL: "info" },
      platformSettings: { local },
    },
    versions: { blue: "1.0.0", green: "1.1.0" },
    ...extra,
  };
}

const settings = parseLocalStackSettings({ stateDir: "/tmp/bg-state" });

function plan(liveColor: "blue" | "green", svc = service()) {
  const local = parseLocalServiceSettings([svc]).get(svc.spec.name)!;
  return buildLocalPlan(svc, decideRouting(liveColor, svc.weights), local, settings, "dev");
}

function configProblems(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems.map((p) => `${p.key}: ${p.message}`);
  }
  assert.fail("expected a ConfigError");
}

describe("local: demo app faults", () => {
  it("reads -fail<percent> and -slow<ms> from the version", () => {
    assert.deepEqual(parseFaults("1.3.0-fail30-slow200"), {
      errorRate: 0.3,
      latencyMs: 200,
      crash: false,
      unhealthy: false,
    });
  });

  it("leaves ordinary versions (even ones containing digits like 'failover') without faults", () => {
    assert.deepEqual(parseFaults("2.0.0-failover1"), { errorRate: 0, latencyMs: 0, crash: false, unhealthy: false });
  });

  it("takes BLUEGREEN_FAULTS entries for the running version only", () => {
    const table = JSON.stringify({ "1.3.0-rc1": { errorRate: 0.5, latencyMs: 10 } });
    assert.equal(parseFaults("1.3.0-rc1", table).errorRate, 0.5);
    assert.equal(parseFaults("1.2.0", table).errorRate, 0);
  });

  it("rejects a malformed BLUEGREEN_FAULTS with the offending value", () => {
    assert.throws(() => parseFaults("1", '{"1": {"errorRate": 2}}'), /errorRate: got 2; allowed: 0\.\.1/);
    assert.throws(() => parseFaults("1", "{nope"), /not valid JSON/);
  });

  it("fails the configured share of real requests while /health stays green", async () => {
    let n = 0;
    const server = createApp({
      service: "web",
      color: "green",
      version: "1.3.0-fail50",
      instance: "0",
      fault: parseFaults("1.3.0-fail50"),
      random: () => (n++ % 2 === 0 ? 0.1 : 0.9), // every other request falls under the 50% rate
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const get = (p: string) =>
      new Promise<number>((resolve, reject) =>
        http
          .get({ host: "127.0.0.1", port, path: p, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on("error", reject),
      );
    try {
      assert.deepEqual([await get("/"), await get("/"), await get("/"), await get("/")], [500, 200, 500, 200]);
      assert.deepEqual([await get("/health"), await get("/healthz")], [200, 200]);
    } finally {
      server.close();
    }
  });
});

describe("local: HAProxy config and weights", () => {
  const backends = { blue: [1, 2], green: [3, 4] };

  it("gives each color its share of weight whatever its number of instances", () => {
    assert.deepEqual(serverWeights({ blue: 100, green: 0 }, backends), { blue: 100, green: 0 });
    assert.deepEqual(serverWeights({ blue: 90, green: 10 }, { blue: [1, 2], green: [3] }), { blue: 90, green: 20 });
    assert.deepEqual(serverWeights({ blue: 99, green: 1 }, { blue: [1, 2, 3, 4, 5], green: [6, 7, 8] }), {
      blue: 40,
      green: 1,
    });
  });

  it("plans a switch as raises first, then lowerings, so a backend never has all weights at 0", () => {
    const from = weightTable({ backends, weights: { blue: 100, green: 0 }, previewColor: "green" });
    const to = weightTable({ backends, weights: { blue: 0, green: 100 }, previewColor: "blue" });
    const commands = plannedWeightChanges(from, to).map(setWeightCommand);
    assert.deepEqual(commands, [
      "set server live/green-0 weight 100",
      "set server live/green-1 weight 100",
      "set server preview/blue-0 weight 100",
      "set server preview/blue-1 weight 100",
      "set server live/blue-0 weight 0",
      "set server live/blue-1 weight 0",
      "set server preview/green-0 weight 0",
      "set server preview/green-1 weight 0",
    ]);
    assert.deepEqual(plannedWeightChanges(to, to), []);
  });

  it("renders a config with master-worker, an admin socket, active health checks and the weights", () => {
    const p = plan("blue");
    const text = renderConfig(p.router, { adminSocket: "/s/admin.sock", pidFile: "/s/haproxy.pid" });
    assert.match(text, /^ {2}master-worker$/m);
    assert.match(text, /stats socket \/s\/admin\.sock mode 600 level admin expose-fd listeners/);
    assert.match(text, /option httpchk GET \/healthz/);
    assert.match(text, /bind 127\.0\.0\.1:18080\n {2}default_backend live/);
    assert.match(
      text,
      /backend live[\s\S]*server blue-0 127\.0\.0\.1:18090 weight 100\n {2}server blue-1 127\.0\.0\.1:18091 weight 100\n {2}server green-0 127\.0\.0\.1:18100 weight 0/,
    );
  });

  it("renders a config the real HAProxy accepts (haproxy -c)", function () {
    const haproxy = findExecutable("haproxy", `${process.env.PATH}:/usr/sbin`);
    if (!haproxy) this.skip();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bg-haproxy-"));
    try {
      const file = path.join(dir, "haproxy.cfg");
      fs.writeFileSync(file, renderConfig(plan("green").router, { adminSocket: `${dir}/a.sock`, pidFile: `${dir}/p` }));
      const res = runSync(haproxy, ["-c", "-f", file]);
      assert.equal(res.code, 0, res.output);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("parses `show servers state` into weights and UP/DOWN per server", () => {
    const text = [
      "1",
      "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight",
      "3 live 1 blue-0 127.0.0.1 2 0 100 100 10 6 3 4 6 0 0 0 - 18090 - 0 0 - - 0",
      "3 live 2 green-0 127.0.0.1 0 0 0 0 10 6 3 4 6 0 0 0 - 18100 - 0 0 - - 0",
      "",
    ].join("\n");
    assert.deepEqual(parseServersState(text), {
      live: { "blue-0": { weight: 100, up: true }, "green-0": { weight: 0, up: false } },
    });
  });
});

describe("local: settings", () => {
  it("defaults previewPort, instancePort, portsPerColor and the demo app command", () => {
    const s = parseLocalServiceSettings([service()]).get("web")!;
    assert.equal(s.previewPort, 18081);
    assert.equal(s.instancePort, 18090);
    assert.equal(s.portsPerColor, 10);
    assert.match(s.command.join(" "), /^node \S+\/app\/main\.js$/);
  });

  it("requires a local block with livePort on platform local", () => {
    const withoutLocal = service();
    delete withoutLocal.spec.platformSettings?.local;
    assert.deepEqual(
      configProblems(() => parseLocalServiceSettings([withoutLocal])),
      [
        "bluegreen:services.web.local: got nothing; required on platform local: an object such as {livePort: 18080} " +
          "(previewPort, instancePort, portsPerColor, command, cwd are optional)",
      ],
    );
  });

  it("names both services when their ports overlap", () => {
    const problems = configProblems(() =>
      parseLocalServiceSettings([
        service("web"),
        service("api", { livePort: 18095, previewPort: 18300, instancePort: 18310 }),
      ]),
    );
    assert.deepEqual(problems, [
      "bluegreen:services.api.local.livePort: ports 18095-18095 (livePort) overlap ports 18090-18099 (instancePort " +
        "(blue) of service web); allowed: distinct ports for every router port and instance range",
    ]);
  });

  it("rejects more instances than ports per color, and unknown keys", () => {
    const problems = configProblems(() =>
      parseLocalServiceSettings([service("web", { livePort: 18080, portsPerColor: 1, port: 1 })]),
    );
    assert.deepEqual(problems, [
      "bluegreen:services.web.local.port: unknown key; allowed keys: livePort, previewPort, instancePort, " +
        "portsPerColor, command, cwd, metricsPort",
      "bluegreen:services.web.local.portsPerColor: got 1, but a color may run 2 instances (capacity/" +
        "autoscaling.maxCapacity); allowed: at least 2",
    ]);
  });

  it("validates bluegreen:local", () => {
    assert.deepEqual(
      configProblems(() => parseLocalStackSettings({ startTimeoutSeconds: 0, host: "localhost" })),
      [
        'bluegreen:local.host: got "localhost"; allowed: an IPv4 address such as 127.0.0.1',
        "bluegreen:local.startTimeoutSeconds: got 0; allowed: an integer from 1 to 600",
      ],
    );
  });
});

describe("local: plan", () => {
  it("builds both colors from one spec: only color, version, ports and tags differ", () => {
    const { pools } = plan("blue");
    const strip = (p: typeof pools.blue) => ({ ...p, color: "*", version: "*", port: 0, tags: {} });
    assert.deepEqual(strip(pools.blue), strip(pools.green));
    assert.equal(pools.blue.port, 18090);
    assert.equal(pools.green.port, 18100);
    assert.deepEqual(pools.green.tags, {
      "bluegreen/service": "web",
      "bluegreen/color": "green",
      "bluegreen/role": "local-instance",
      "bluegreen/version": "1.1.0",
    });
  });

  it("tags a declared scaled-down idle color and gives it fewer instances", () => {
    const { pools, router } = plan(
      "blue",
      service("web", { livePort: 18080 }, { idleScaleDown: { color: "green", capacity: 1 } }),
    );
    assert.equal(pools.green.instances, 1);
    assert.equal(pools.green.tags["bluegreen/scaled-down"], "true");
    assert.deepEqual(router.backends, { blue: [18090, 18091], green: [18100] });
  });

  it("a switch changes only the router's weights and preview color, nothing of either color", () => {
    const a = plan("blue");
    const b = plan("green");
    assert.deepEqual(a.pools, b.pools);
    assert.deepEqual(
      { ...a.router, weights: null, previewColor: null },
      { ...b.router, weights: null, previewColor: null },
    );
    assert.deepEqual(
      [a.router.weights, b.router.weights],
      [
        { blue: 100, green: 0 },
        { blue: 0, green: 100 },
      ],
    );
    assert.equal(a.router.tags["bluegreen/color"], "shared");
    assert.equal(a.router.tags["bluegreen/role"], "router");
  });

  it("keeps state per stack and service", () => {
    assert.equal(plan("blue").router.stateDir, "/tmp/bg-state/local/dev/web");
  });
});

describe("local: provider diffs", () => {
  const p = plan("blue");
  // "Running" as far as the diff can tell: the pid and start time of this very test process.
  const routerOuts = {
    ...p.router,
    pid: process.pid,
    startTime: processStartTime(process.pid),
  } as unknown as RouterOutputs;

  it("a weights change updates the router in place; a new state folder replaces it (old one stopped first)", () => {
    const flip = diffRouter(routerOuts, plan("green").router);
    assert.deepEqual([flip.changes, flip.replaces], [true, []]);
    const moved = diffRouter(routerOuts, { ...p.router, stateDir: "/elsewhere" });
    assert.deepEqual([moved.changes, moved.replaces, moved.deleteBeforeReplace], [true, ["stateDir"], true]);
    assert.equal(diffRouter(routerOuts, p.router).changes, false);
  });

  it("a pool with a dead instance reports a change so `up` restarts it", () => {
    const dead = { ...p.pools.green, processes: [{ index: 0, port: 1, pid: 999999, startTime: 1 }], status: "running" };
    assert.equal(diffPool(dead as unknown as InstancePoolOutputs, p.pools.green).changes, true);
    const none = { ...p.pools.green, processes: [], status: "running" } as unknown as InstancePoolOutputs;
    assert.equal(diffPool(none, p.pools.green).changes, false);
  });
});
