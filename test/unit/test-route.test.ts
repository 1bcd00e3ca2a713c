/**
 * The test route (`bluegreen:services.<name>.testRoute`): validation with key, value and what is allowed; the HAProxy
 * rule it becomes on the live frontend (checked by the real `haproxy -c` when installed); what a client sends.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, RawStackConfig } from "../../components/core/config";
import { parseStackConfig } from "../../components/stack-config";
import { decideRouting } from "../../components/core/routing";
import { ServiceConfig } from "../../components/core/spec";
import { describeTestRoute, testRouteHeaderLine, testRouteHeaders } from "../../components/core/test-route";
import { renderConfig, TEST_ROUTE_ACL } from "../../components/local/haproxy";
import { buildLocalPlan } from "../../components/local/plan";
import { findExecutable, runSync } from "../../components/local/proc";
import { parseLocalServiceSettings, parseLocalStackSettings } from "../../components/local/settings";
import { awsConfig, withValue } from "./fixtures";

function problems(raw: RawStackConfig): { key: string; message: string }[] {
  try {
    parseStackConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  return assert.fail("expected the config to be rejected");
}

const KEY = "bluegreen:services.web.testRoute";

describe("test route: config", () => {
  it("parses a header route, lowercases the name and defaults the value to 1", () => {
    const cfg = parseStackConfig(withValue(awsConfig(), "services.web.testRoute", { header: "X-Bluegreen-Preview" }));
    assert.deepEqual(cfg.services.find((s) => s.spec.name === "web")!.spec.testRoute, {
      header: "x-bluegreen-preview",
      value: "1",
    });
  });

  it("parses a cookie route with a value", () => {
    const cfg = parseStackConfig(
      withValue(awsConfig(), "services.web.testRoute", { cookie: "bg_preview", value: "yes" }),
    );
    assert.deepEqual(cfg.services.find((s) => s.spec.name === "web")!.spec.testRoute, {
      cookie: "bg_preview",
      value: "yes",
    });
  });

  const bad: [string, unknown, string, RegExp][] = [
    ["neither header nor cookie", {}, KEY, /exactly one of header or cookie/],
    ["both header and cookie", { header: "x-a", cookie: "b" }, KEY, /exactly one of header or cookie/],
    ["a header name with a space", { header: "x a" }, `${KEY}.header`, /got "x a"; allowed: a header name/],
    ["a header the router owns", { header: "Host" }, `${KEY}.header`, /got "Host"; the router or HTTP owns it/],
    ["a value that would need quoting", { header: "x-a", value: "a b" }, `${KEY}.value`, /got "a b"; allowed: letters/],
    [
      "an unknown key",
      { header: "x-a", match: "exact" },
      `${KEY}.match`,
      /unknown key.*allowed keys: header, cookie, value/,
    ],
    ["a non-object", "x-bluegreen-preview", KEY, /allowed: an object/],
  ];
  for (const [what, value, key, message] of bad) {
    it(`rejects ${what}, naming ${key}`, () => {
      const found = problems(withValue(awsConfig(), "services.web.testRoute", value)).filter((p) => p.key === key);
      assert.equal(found.length, 1, JSON.stringify(problems(withValue(awsConfig(), "services.web.testRoute", value))));
      assert.match(found[0].message, message);
    });
  }

  it("hints testRoute for Argo's headerRoute", () => {
    const found = problems(withValue(awsConfig(), "services.web.headerRoute", { header: "x-a" }));
    assert.ok(
      found.some((p) => /did you mean testRoute/.test(p.message)),
      JSON.stringify(found),
    );
  });

  it("tells a client what to send", () => {
    assert.deepEqual(testRouteHeaders({ header: "x-bg", value: "1" }), { "x-bg": "1" });
    assert.deepEqual(testRouteHeaders({ cookie: "bg", value: "on" }), { cookie: "bg=on" });
    assert.equal(testRouteHeaderLine({ cookie: "bg", value: "on" }), "cookie: bg=on");
    assert.equal(describeTestRoute({ header: "x-bg", value: "1" }), "header x-bg: 1");
  });
});

function localService(testRoute?: ServiceConfig["spec"]["testRoute"]): ServiceConfig {
  return {
    spec: {
      name: "web",
      port: 8080,
      image: "example/web",
      capacity: 2,
      healthCheck: {
        path: "/healthz",
        intervalSeconds: 10,
        timeoutSeconds: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
        gracePeriodSeconds: 30,
      },
      env: {},
      platformSettings: { local: { livePort: 18080 } },
      ...(testRoute ? { testRoute } : {}),
    },
    versions: { blue: "1.0.0", green: "1.1.0" },
  };
}

function routerConfig(svc: ServiceConfig, dir = "/s"): string {
  const local = parseLocalServiceSettings([svc]).get("web")!;
  const settings = parseLocalStackSettings({ stateDir: "/tmp/bg-state" });
  const plan = buildLocalPlan(svc, decideRouting("blue", undefined), local, settings, "dev");
  return renderConfig(plan.router, { adminSocket: `${dir}/a.sock`, pidFile: `${dir}/p` });
}

describe("test route: local router (HAProxy)", () => {
  it("sends the header's value to the preview backend on the live frontend, before the default backend", () => {
    const text = routerConfig(localService({ header: "x-bluegreen-preview", value: "1" }));
    assert.match(
      text,
      new RegExp(
        `frontend live\\n {2}bind 127\\.0\\.0\\.1:18080\\n {2}acl ${TEST_ROUTE_ACL} req\\.hdr\\(x-bluegreen-preview\\) -m str 1\\n` +
          ` {2}use_backend preview if ${TEST_ROUTE_ACL}\\n {2}default_backend live`,
      ),
    );
  });

  it("matches a cookie with req.cook", () => {
    assert.match(
      routerConfig(localService({ cookie: "bg", value: "on" })),
      /acl bluegreen_test_route req\.cook\(bg\) -m str on/,
    );
  });

  it("has no rule without a test route", () => {
    assert.doesNotMatch(routerConfig(localService()), /bluegreen_test_route/);
  });

  it("renders a config the real HAProxy accepts (haproxy -c)", function () {
    const haproxy = findExecutable("haproxy", `${process.env.PATH}:/usr/sbin`);
    if (!haproxy) this.skip();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bg-test-route-"));
    try {
      const file = path.join(dir, "haproxy.cfg");
      fs.writeFileSync(file, routerConfig(localService({ cookie: "bg_preview", value: "yes" }), dir));
      const res = runSync(haproxy, ["-c", "-f", file]);
      assert.equal(res.code, 0, res.output);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
