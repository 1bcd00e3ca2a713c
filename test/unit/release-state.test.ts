import { strict as assert } from "assert";
import { fork } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fileStoreFromBackendUrl } from "../../components/core/state-store/file";
import {
  judgeCheckout,
  ReleaseState,
  ReleaseStateDoc,
  ReleaseStateStore,
  releaseStateOf,
  stageAndSwitchProblems,
  staleMessage,
  stateDifferences,
} from "../../components/core/state-store/release-state";
import { readCheckoutRevision, writeCheckoutRevision } from "../../components/core/state-store/checkout-marker";
import { projectDirOf } from "../../components/core/state-store";

const origin = { kind: "deploy", by: "alice", host: "runner-1", at: "2026-12-03T10:00:00.000Z" };

function state(live: "blue" | "green", blue: string, green: string): ReleaseState {
  return { liveColor: live, services: { web: { versions: { blue, green } } } };
}

function doc(rev: number, s: ReleaseState): ReleaseStateDoc {
  return { v: 1, gen: rev, rev, state: s, madeBy: { ...origin, releaseId: "r1", service: "web", version: "2.4.0" } };
}

function tempBackend(): string {
  return `file://${fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-rs-"))}`;
}

describe("release state kept in the stack's backend", () => {
  describe("releaseStateOf", () => {
    it("copies live colors, versions, weights and scale-downs, and nothing else (no env, no secrets)", () => {
      const s = releaseStateOf({
        liveColor: "green",
        services: JSON.stringify({
          web: {
            image: "x",
            env: { TOKEN: "s3cr3t" },
            versions: { blue: "2.3.1", green: 2 },
            liveColor: "blue",
            weights: { blue: 90, green: 10 },
            idleScaleDown: { color: "blue", capacity: 1 },
          },
        }),
      });
      assert.deepEqual(s, {
        liveColor: "green",
        services: {
          web: {
            versions: { blue: "2.3.1", green: "2" },
            liveColor: "blue",
            weights: { blue: 90, green: 10 },
            idleScaleDown: { color: "blue", capacity: 1 },
          },
        },
      });
      assert.ok(!JSON.stringify(s).includes("s3cr3t"));
    });
  });

  describe("judgeCheckout", () => {
    const stack = state("green", "2.3.1", "2.4.0");

    it("a stack with no recorded state is untracked", () => {
      assert.equal(judgeCheckout(state("blue", "1", "1"), 0, undefined).kind, "untracked");
    });

    it("equal content is in sync whatever revision the checkout remembers (a fresh clone of a committed file)", () => {
      assert.equal(judgeCheckout(stack, 0, doc(7, stack)).kind, "in-sync");
    });

    it("a difference on top of the newest revision is a deliberate edit (the documented flip)", () => {
      const j = judgeCheckout(state("blue", "2.3.1", "2.4.0"), 7, doc(7, stack));
      assert.equal(j.kind, "local-edit");
      assert.deepEqual(j.kind === "local-edit" && j.changes, ["liveColor: green → blue"]);
    });

    it("a difference from a checkout behind the stack is stale, and the message names the release and the command", () => {
      const j = judgeCheckout(state("blue", "2.3.1", "2.3.1"), 3, doc(7, stack));
      assert.equal(j.kind, "stale");
      assert.ok(j.kind === "stale");
      const msg = staleMessage("dev", j, "file:///shared");
      for (const part of [
        "revision 3",
        "revision 7",
        "deploy of web 2.4.0 (release r1) by alice on host runner-1 at 2026-12-03T10:00:00.000Z",
        "liveColor: stack has green, this checkout blue",
        "services.web.versions.green: stack has 2.4.0, this checkout 2.3.1",
        "bluegreen sync --stack dev",
      ]) {
        assert.ok(msg.includes(part), `${part} missing from: ${msg}`);
      }
    });
  });

  describe("stageAndSwitchProblems", () => {
    it("refuses making a color live while changing its version, naming the service, color and both versions", () => {
      const p = stageAndSwitchProblems(state("blue", "2.3.1", "2.3.1"), state("green", "2.3.1", "2.4.0"));
      assert.equal(p.length, 1);
      assert.match(p[0], /service web: this update makes green live and changes green's version 2\.3\.1 → 2\.4\.0/);
    });

    it("lets a flip alone and a staging alone through (the tool's two-step flow)", () => {
      assert.deepEqual(stageAndSwitchProblems(state("blue", "2.3.1", "2.3.1"), state("blue", "2.3.1", "2.4.0")), []);
      assert.deepEqual(stageAndSwitchProblems(state("blue", "2.3.1", "2.4.0"), state("green", "2.3.1", "2.4.0")), []);
    });

    it("judges a service's own live color too", () => {
      const before: ReleaseState = { liveColor: "blue", services: { web: { versions: { blue: "1", green: "1" } } } };
      const after: ReleaseState = {
        liveColor: "blue",
        services: { web: { versions: { blue: "1", green: "2" }, liveColor: "green" } },
      };
      assert.equal(stageAndSwitchProblems(before, after).length, 1);
    });
  });

  describe("ReleaseStateStore on a file backend", () => {
    it("bumps the revision only when the state changes, and keeps who made it", async () => {
      const store = new ReleaseStateStore(fileStoreFromBackendUrl(tempBackend()), "bluegreen", "dev");
      const a = await store.update(() => ({ state: state("blue", "1", "1"), madeBy: origin }));
      const b = await store.update((cur) => ({ ...cur!, state: cur!.state, release: "{}" }));
      const c = await store.update((cur) => ({
        ...cur!,
        state: state("green", "1", "1"),
        madeBy: { ...origin, by: "bob" },
      }));
      assert.deepEqual(
        [a, b, c].map((d) => [d!.gen, d!.rev, d!.madeBy.by]),
        [
          [1, 1, "alice"],
          [2, 1, "alice"],
          [3, 2, "bob"],
        ],
      );
      assert.equal((await store.read())!.gen, 3);
    });

    it("loses no update when writers race: every appended entry lands", async () => {
      const store = new ReleaseStateStore(fileStoreFromBackendUrl(tempBackend()), "bluegreen", "dev");
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          store.update((cur) => ({
            state: state("blue", "1", "1"),
            madeBy: origin,
            history: [...(cur?.history ?? []), i],
          })),
        ),
      );
      const final = await store.read();
      assert.deepEqual(
        [...(final!.history as number[])].sort((x, y) => x - y),
        [...Array(12).keys()],
      );
    });

    it("of processes claiming at once, exactly one gets the claim (separate Node processes)", async function () {
      this.timeout(60_000);
      const backend = tempBackend();
      const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-claim-")), "claim.js");
      fs.writeFileSync(
        script,
        `require(${JSON.stringify(require.resolve("ts-node"))}).register({ transpileOnly: true, project: ${JSON.stringify(path.resolve(__dirname, "../../tsconfig.json"))} });
const { fileStoreFromBackendUrl } = require(${JSON.stringify(path.resolve(__dirname, "../../components/core/state-store/file"))});
const { ReleaseStateStore } = require(${JSON.stringify(path.resolve(__dirname, "../../components/core/state-store/release-state"))});
const store = new ReleaseStateStore(fileStoreFromBackendUrl(process.argv[2]), "bluegreen", "dev");
process.once("message", () => store.update((cur) => {
  if (cur && cur.release) throw new Error("claimed by " + JSON.parse(cur.release).owner);
  return { state: { services: {} }, madeBy: { kind: "deploy", by: "t", host: "h", at: "now" }, release: JSON.stringify({ owner: process.pid }) };
}).then(() => process.send("won"), (e) => process.send("lost: " + e.message)).finally(() => process.disconnect()));
process.send("ready");`,
      );
      const children = Array.from({ length: 6 }, () => fork(script, [backend], { stdio: "inherit" }));
      await Promise.all(children.map((c) => new Promise((r) => c.once("message", r))));
      const results = await Promise.all(
        children.map(
          (c) =>
            new Promise<string>((r) => {
              c.once("message", (m) => r(m as string));
              c.send("go");
            }),
        ),
      );
      assert.equal(results.filter((r) => r === "won").length, 1, results.join(", "));
      assert.equal(results.filter((r) => r.startsWith("lost: claimed by")).length, 5, results.join(", "));
    });
  });

  describe("checkout marker", () => {
    it("remembers a revision per stack and backend, and starts again at 0 on another backend", () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-marker-"));
      assert.equal(readCheckoutRevision(dir, "dev", "file:///a"), 0);
      writeCheckoutRevision(dir, "dev", "file:///a", 5);
      assert.equal(readCheckoutRevision(dir, "dev", "file:///a"), 5);
      assert.equal(readCheckoutRevision(dir, "dev", "s3://b"), 0);
      assert.equal(readCheckoutRevision(dir, "prod", "file:///a"), 0);
    });
  });

  it("stateDifferences lists each changed path with both values", () => {
    assert.deepEqual(stateDifferences(state("blue", "1", "1"), state("green", "1", "2")), [
      "liveColor: blue → green",
      "services.web.versions.green: 1 → 2",
    ]);
  });
});

describe("the program's project folder", () => {
  it("is the folder holding Pulumi.yaml, also when Pulumi starts the program in the folder of its main (bin/)", () => {
    const root = path.resolve(__dirname, "..", "..");
    assert.equal(projectDirOf(path.join(root, "bin")), root);
    assert.equal(projectDirOf(root), root);
  });
});
