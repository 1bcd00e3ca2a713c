/* eslint-disable @typescript-eslint/require-await -- fakes implement async ports synchronously */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import { crosses, prometheusSource, renderQuery } from "../../automation/adapters/prometheus";
import { cloudWatchAlarms } from "../../components/aws/release/cloudwatch";
import { HttpProber } from "../../automation/adapters/http-prober";
import { LocalPlatform } from "../../components/local/release";
import { platformAdapter } from "../../automation/adapters/platforms";
import { findPairTags } from "../../automation/adapters/pulumi-driver";
import { judgeScope } from "../../automation/engine/scope";
import { breachOf, SampleWindow } from "../../automation/engine/window";
import { RefusedError } from "../../automation/errors";
import {
  formatDuration,
  parseDuration,
  parseMetricRule,
  parseRate,
  parseStatusSet,
  parseSteps,
} from "../../automation/parse";
import { decodeRecord, encodeRecord, ownerState, ReleaseRecord } from "../../automation/engine/record/record";
import type { ResourceStep, StackOutputsView } from "../../automation/ports";

describe("automation: formatDuration", () => {
  it("rounds the whole duration, so a bake of 119.6 s reads 2m (not 1m60s)", () => {
    assert.equal(formatDuration(119_600), "2m");
    assert.equal(formatDuration(89_400), "1m29s");
    assert.equal(formatDuration(1_500), "1.5s");
    assert.equal(formatDuration(250), "250ms");
  });
});

describe("parsers", () => {
  it("parses durations with units, compound and fractional", () => {
    assert.equal(parseDuration("--x", "250ms"), 250);
    assert.equal(parseDuration("--x", "30s"), 30_000);
    assert.equal(parseDuration("--x", "1m30s"), 90_000);
    assert.equal(parseDuration("--x", "1.5h"), 5_400_000);
  });
  for (const bad of ["30", "", "5 m", "-1s", "1d", "s", "1m 30s"]) {
    it(`refuses the duration ${JSON.stringify(bad)}, naming the flag`, () => {
      assert.throws(
        () => parseDuration("--bake", bad),
        (e: unknown) => e instanceof RefusedError && /^--bake: got/.test(e.message),
      );
    });
  }
  it("enforces duration bounds", () => {
    assert.throws(() => parseDuration("--poll-interval", "1ms", { min: 50 }), /at least 50ms/);
  });
  it("parses rates as percentages or fractions", () => {
    assert.equal(parseRate("--r", "2%"), 0.02);
    assert.equal(parseRate("--r", "0.5%"), 0.005);
    assert.equal(parseRate("--r", "0.01"), 0.01);
    assert.equal(parseRate("--r", "1"), 1);
    for (const bad of ["2", "-1%", "abc", "1.5"]) assert.throws(() => parseRate("--r", bad), RefusedError, bad);
  });
  it("parses traffic steps", () => {
    assert.deepEqual(parseSteps("--steps", "10,50,100"), [10, 50, 100]);
    assert.deepEqual(parseSteps("--steps", "100"), [100]);
    for (const bad of ["0,100", "50,50,100", "10,50", "a,100", ""])
      assert.throws(() => parseSteps("--steps", bad), RefusedError, bad);
  });
  it("parses status sets", () => {
    const ok = parseStatusSet("--s", "200,3xx");
    assert.ok(ok(200) && ok(302) && !ok(201) && !ok(500));
    assert.throws(() => parseStatusSet("--s", "2x"), RefusedError);
  });
  it("parses metric rules", () => {
    assert.deepEqual(parseMetricRule("--r", 'sum(rate(x{a="b"}[1m])) >= 0.5'), {
      query: 'sum(rate(x{a="b"}[1m]))',
      op: ">=",
      threshold: 0.5,
    });
    assert.throws(() => parseMetricRule("--r", "sum(x)"), RefusedError);
  });
});

describe("sliding window and breach rule", () => {
  const probe = (ok: boolean, latencyMs = 10) => ({ url: "u", ok, status: ok ? 200 : 500, latencyMs });
  it("does not judge before minSamples", () => {
    const w = new SampleWindow(10_000);
    w.add(0, probe(false));
    assert.equal(
      breachOf(w.stats(0), { windowMs: 10_000, minSamples: 2, maxErrorRate: 0, maxLatencyMs: 100 }),
      undefined,
    );
  });
  it("breaches only when the error rate is above the threshold at 99% confidence (Wilson lower bound)", () => {
    const w = new SampleWindow(10_000);
    for (let i = 0; i < 19; i++) w.add(i, probe(true));
    w.add(19, probe(false));
    const t = { windowMs: 10_000, minSamples: 5, maxErrorRate: 0.05, maxLatencyMs: 1000 };
    assert.equal(breachOf(w.stats(20), t), undefined, "1/20 is no evidence of more than 5%");
    w.add(20, probe(false));
    assert.equal(breachOf(w.stats(21), t), undefined, "2/21 = 9.5% is not yet evidence either");
    for (let i = 21; i < 25; i++) w.add(i, probe(false));
    assert.match(breachOf(w.stats(25), t)!, /error rate 24\.0% \(6\/25 requests .*at 99% confidence at least 10\.0%\)/);
  });
  it("forgets samples older than the window", () => {
    const w = new SampleWindow(1000);
    for (let i = 0; i < 10; i++) w.add(i, probe(false));
    assert.equal(w.stats(5000).samples, 0);
  });
  it("breaches on p95 latency", () => {
    const w = new SampleWindow(10_000);
    for (let i = 0; i < 20; i++) w.add(i, probe(true, i < 18 ? 10 : 900));
    const s = w.stats(20);
    assert.equal(s.p95Ms, 900);
    assert.match(
      breachOf(s, { windowMs: 10_000, minSamples: 5, maxErrorRate: 1, maxLatencyMs: 500 })!,
      /p95 latency 900ms/,
    );
  });
});

describe("preview scope", () => {
  const step = (urn: string, op: string, tags: Record<string, string>, component = false): ResourceStep => ({
    urn: `urn:pulumi:dev::bluegreen::t::${urn}`,
    type: "t",
    op,
    tags,
    component,
  });
  const scope = { service: "web", colors: ["green" as const], shared: false };
  it("accepts changes to the idle color and ignores unchanged resources and components", () => {
    const r = judgeScope(
      [
        step("web-green-pool", "update", { "bluegreen/service": "web", "bluegreen/color": "green" }),
        step("web-blue-pool", "same", { "bluegreen/service": "web", "bluegreen/color": "blue" }),
        step("web", "update", {}, true),
      ],
      scope,
    );
    assert.deepEqual(r.outOfScope, []);
    assert.equal(r.changes, 1);
  });
  it("rejects the live color, shared resources, other services and untagged resources", () => {
    const r = judgeScope(
      [
        step("web-blue-pool", "replace", { "bluegreen/service": "web", "bluegreen/color": "blue" }),
        step("web-router", "update", {
          "bluegreen/service": "web",
          "bluegreen/color": "shared",
          "bluegreen/role": "router",
        }),
        step("api-green-pool", "update", { "bluegreen/service": "api", "bluegreen/color": "green" }),
        step("bucket", "create", {}),
      ],
      scope,
    );
    assert.deepEqual(
      r.outOfScope.map((o) => o.why),
      [
        "belongs to the blue color",
        "is shared by both colors (role router)",
        "belongs to service api, not web",
        "has no bluegreen/color tag, so it cannot be shown to belong to the idle color",
      ],
    );
  });
  it("falls back to the color in the resource name", () => {
    const r = judgeScope([step("web-blue-tg", "update", {})], scope);
    assert.equal(r.outOfScope[0].why, "belongs to the blue color");
  });
  it("finds pair tags in aws tags and kubernetes labels", () => {
    assert.equal(findPairTags({ tags: { "bluegreen/color": "blue", n: 1 } })!["bluegreen/color"], "blue");
    assert.equal(findPairTags({ metadata: { labels: { "bluegreen/color": "green" } } })!["bluegreen/color"], "green");
    assert.equal(findPairTags({ a: 1 }), undefined);
  });
});

describe("release record", () => {
  const rec: ReleaseRecord = {
    v: 1,
    id: "x",
    kind: "deploy",
    service: "web",
    version: "2",
    fromColor: "blue",
    fromVersion: "1",
    toColor: "green",
    toVersionBefore: "0",
    phase: "bake",
    startedAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
    owner: { pid: 10, host: "h" },
  };
  it("round-trips", () => assert.deepEqual(decodeRecord(encodeRecord(rec)), rec));
  it("rejects damaged records", () => {
    assert.throws(() => decodeRecord(JSON.stringify({ ...rec, phase: "dance" })), /phase "dance" unknown/);
    assert.throws(() => decodeRecord(JSON.stringify({ ...rec, toColor: "red" })), /fromColor\/toColor invalid/);
  });
  it("judges the owner by pid on this host and by heartbeat elsewhere", () => {
    const host = (alive: boolean) => ({ pid: 1, host: "h", isAlive: () => alive });
    const t = Date.parse(rec.updatedAt);
    assert.equal(ownerState(rec, host(true), t, 1000).kind, "alive");
    assert.equal(ownerState(rec, host(false), t, 1000).kind, "dead");
    const remote = { ...rec, owner: { pid: 10, host: "other" } };
    assert.equal(ownerState(remote, host(false), t + 500, 1000).kind, "alive");
    assert.equal(ownerState(remote, host(false), t + 5000, 1000).kind, "dead");
    assert.equal(ownerState({ ...rec, owner: undefined }, host(true), t, 1000).kind, "none");
  });
});

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("adapters", () => {
  let server: http.Server;
  let base = "";
  let prom: unknown = {};
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url!.startsWith("/api/v1/query")) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(prom));
      } else if (req.url === "/slow") {
        setTimeout(() => res.end("late"), 500);
      } else if (req.url === "/hdr") {
        res.writeHead(503, { "x-bluegreen-version": "9.9" }).end("down");
      } else {
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ version: "1.2.3", color: "green" }));
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it("HttpProber reads version and color from JSON or headers and classifies statuses", async () => {
    const p = new HttpProber();
    const a = await p.probe({ url: `${base}/`, timeoutMs: 1000 });
    assert.deepEqual([a.ok, a.status, a.version, a.color], [true, 200, "1.2.3", "green"]);
    const b = await p.probe({ url: `${base}/hdr`, timeoutMs: 1000 });
    assert.deepEqual([b.ok, b.status, b.version], [false, 503, "9.9"]);
  });
  it("HttpProber reports timeouts and refused connections as failed answers", async () => {
    const p = new HttpProber();
    const t = await p.probe({ url: `${base}/slow`, timeoutMs: 50 });
    assert.deepEqual([t.ok, t.error], [false, "timeout after 50ms"]);
    const c = await p.probe({ url: `http://127.0.0.1:${await closedPort()}/`, timeoutMs: 1000 });
    assert.equal(c.ok, false);
    assert.equal(c.error, "ECONNREFUSED");
  });
  it("HttpProber rethrows an interrupt instead of counting it as a failed request", async () => {
    const ac = new AbortController();
    const pending = new HttpProber().probe({ url: `${base}/slow`, timeoutMs: 5000, signal: ac.signal });
    ac.abort();
    await assert.rejects(pending, { name: "AbortError" });
  });

  const ctx = { service: "web", color: "green" as const, version: "1.2.3" };
  it("Prometheus source breaches when the worst series crosses the threshold", async () => {
    prom = {
      status: "success",
      data: { resultType: "vector", result: [{ value: [0, "0.1"] }, { value: [0, "0.7"] }] },
    };
    const r = await prometheusSource(base, { query: 'err{color="{{color}}"}', op: ">", threshold: 0.5 }).read(ctx);
    assert.deepEqual([r.breached, r.value], [true, 0.7]);
    assert.match(r.detail, /err\{color="green"\} = 0\.7/);
  });
  it("Prometheus source does not breach on no data or an unreachable server", async () => {
    prom = { status: "success", data: { resultType: "vector", result: [] } };
    assert.equal((await prometheusSource(base, { query: "x", op: ">", threshold: 0 }).read(ctx)).breached, false);
    const down = await prometheusSource(`http://127.0.0.1:${await closedPort()}`, {
      query: "x",
      op: ">",
      threshold: 0,
    }).read(ctx);
    assert.equal(down.breached, false);
    assert.match(down.detail, /unreachable/);
  });
  it("renders placeholders and compares", () => {
    assert.equal(renderQuery("a{{service}}b{{ version }}", ctx), "awebb1.2.3");
    assert.ok(crosses(1, ">=", 1) && !crosses(1, ">", 1) && crosses(0, "<", 1));
  });
  it("CloudWatch alarm source breaches while an alarm is in ALARM", async () => {
    const src = cloudWatchAlarms(
      async (names) => names.map((n, i) => ({ name: n, state: i === 1 ? "ALARM" : "OK" })),
      ["a", "b"],
    );
    const r = await src.read(ctx);
    assert.deepEqual([r.breached, r.detail], [true, "in ALARM: b"]);
  });
});

describe("local platform adapter (HAProxy runtime API)", () => {
  let dir = "";
  let server: net.Server;
  let received: string[] = [];
  let state = "";
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bg-sock-"));
    server = net.createServer((c) => {
      c.setEncoding("utf8");
      c.on("data", (d: string) => {
        const cmd = d.trim();
        received.push(cmd);
        c.end(cmd.startsWith("show servers state") ? state : cmd === "show info" ? "Name: HAProxy\n" : "");
      });
    });
    await new Promise<void>((r) => server.listen(path.join(dir, "admin.sock"), r));
  });
  after(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const outputs = () =>
    ({
      platform: "local",
      services: { web: { adminSocket: path.join(dir, "admin.sock") } },
    }) as unknown as StackOutputsView;
  const ctx = (o = outputs()) => ({ stack: "dev", outputs: o, service: "web" });
  const line = (server: string, up: boolean, weight: number) =>
    `3 live 1 ${server} 127.0.0.1 ${up ? 2 : 0} 0 ${weight} ${weight} 0`;
  const adapter = new LocalPlatform({ upWaitMs: 200 });

  it("raises the target color's servers first, then lowers the others, in one command", async () => {
    received = [];
    state = [
      "1",
      "# be_id be_name ...",
      line("blue-0", true, 0),
      line("blue-1", true, 0),
      line("green-0", true, 100),
      line("green-1", true, 100),
    ].join("\n");
    const did = await adapter.route(ctx(), "blue");
    assert.match(did!, /web: 4 weight change/);
    assert.deepEqual(received.slice(1), [
      "set server live/blue-0 weight 100;set server live/blue-1 weight 100;set server live/green-0 weight 0;set server live/green-1 weight 0",
    ]);
  });
  it("is idempotent: a second route to the same color sends no command", async () => {
    received = [];
    state = ["1", line("blue-0", true, 200), line("green-0", true, 0)].join("\n");
    assert.match((await adapter.route(ctx(), "blue"))!, /web: 0 weight change/);
    assert.equal(received.length, 1, "only the state query");
  });
  it("refuses to route to a color with no server up, leaving the weights alone", async () => {
    received = [];
    state = ["1", line("blue-0", false, 0), line("green-0", true, 200)].join("\n");
    await assert.rejects(adapter.route(ctx(), "blue"), /no blue server \(blue-0\) passed HAProxy's health check/);
    assert.ok(
      received.every((c) => c.startsWith("show servers state")),
      "no weight change sent",
    );
  });
  it("has no direct path for stacks without an admin socket", async () => {
    const o = { platform: "local", services: { web: {} } } as unknown as StackOutputsView;
    assert.equal(await adapter.route(ctx(o), "blue"), undefined);
    assert.equal(await adapter.routedColor(ctx(o)), undefined);
  });
  it("reads where traffic goes from the live backend's weights", async () => {
    state = ["1", line("blue-0", true, 0), line("green-0", true, 200)].join("\n");
    assert.equal(await adapter.routedColor(ctx()), "green");
    state = ["1", line("blue-0", true, 20), line("green-0", true, 180)].join("\n");
    assert.equal(await adapter.routedColor(ctx()), "split");
  });
  it("preflight passes when the admin socket answers and names the socket when it does not", async () => {
    await adapter.preflight(outputs(), ["web"]);
    const gone = {
      platform: "local",
      services: { web: { adminSocket: path.join(dir, "missing.sock") } },
    } as unknown as StackOutputsView;
    await assert.rejects(
      adapter.preflight(gone, ["web"]),
      (err: Error) => err instanceof RefusedError && /missing\.sock does not answer/.test(err.message),
    );
  });
});

describe("platform registry", () => {
  it("gives the local adapter for platform local", () => {
    assert.equal(platformAdapter("local", { env: {}, workDir: "/x" }).platform, "local");
  });
  it("refuses a platform without an adapter, naming the key and what exists", () => {
    assert.throws(
      () => platformAdapter("openstack", { env: {}, workDir: "/x" }),
      (err: Error) =>
        err instanceof RefusedError && /bluegreen:platform: got "openstack"; .*adapters for: .*local/.test(err.message),
    );
  });
});
