/* eslint-disable @typescript-eslint/no-unsafe-member-access --
   fixture props are deliberately untyped JSON that each test pokes one change into */
import * as assert from "assert";
import { awsGraph, expectCount, expectOne, kubernetesGraph, runPack } from "./fixtures";
import { TAG_RETAIN } from "../../policy/tags";
import { bluegreenPolicies } from "../../policy/policies";

const P = "bluegreen-shared-protected";

describe("bluegreen-shared-protected (advisory)", () => {
  it("is advisory", () => {
    assert.strictEqual(bluegreenPolicies().find((p) => p.name === P)!.enforcementLevel, "advisory");
  });

  it("flags an unprotected shared database", async () => {
    const g = awsGraph();
    g.get("web-db").opts = {};
    expectOne(await runPack(g.build()), P, [
      'service "web": database "web-db" (aws:rds/instance:Instance) is used by both colors but not protected',
      "protect: true",
    ]);
  });

  it("accepts provider deletion protection or the retain-on-delete tag", async () => {
    const g = awsGraph();
    g.get("web-db").opts = {};
    g.props("web-db").deletionProtection = true;
    expectCount(await runPack(g.build()), 0);
    delete g.props("web-db").deletionProtection;
    g.props("web-db").tags[TAG_RETAIN] = "true";
    expectCount(await runPack(g.build()), 0);
  });

  it("flags an unprotected shared volume on Kubernetes and ignores routing plumbing", async () => {
    const g = kubernetesGraph();
    g.get("web-uploads").opts = {};
    expectOne(await runPack(g.build()), P, ['storage "web-uploads"']);
    expectCount(await runPack(g.build(), { [P]: { exemptRoles: ["storage"] } }), 0);
  });
});
