import * as assert from "assert";
import { isStackTagsRace, retryingStackTagsRace } from "../../automation/adapters/pulumi-cli";

// CI saw `pulumi up` fail with "failed to load stack tags: failed to read stack tags file: EOF" while the release's
// beacon (`pulumi stack tag set`) rewrote the file backend's tags file: the switch failed and was rolled back.
const RACE =
  "Command failed with exit code 1: pulumi up --yes\nerror: failed to load stack tags: failed to read stack tags file: EOF";

describe("the file backend's stack tags race", () => {
  it("is recognised by the message pulumi prints, and only by it", () => {
    assert.strictEqual(isStackTagsRace(new Error(RACE)), true);
    assert.strictEqual(
      isStackTagsRace(new Error("failed to unmarshal stack tags: unexpected end of JSON input")),
      true,
    );
    assert.strictEqual(isStackTagsRace(new Error("error: the stack is currently locked by 1 lock(s)")), false);
    assert.strictEqual(isStackTagsRace(new Error("error: update failed")), false);
  });

  it("an engine command failing on it runs again and its result is returned", async () => {
    let calls = 0;
    const result = await retryingStackTagsRace(
      () => {
        calls++;
        return calls < 3 ? Promise.reject(new Error(RACE)) : Promise.resolve("updated");
      },
      { pauseMs: 1 },
    );
    assert.strictEqual(result, "updated");
    assert.strictEqual(calls, 3);
  });

  it("any other failure is not retried, and the race gives up after the attempts", async () => {
    let calls = 0;
    await assert.rejects(
      retryingStackTagsRace(
        () => {
          calls++;
          return Promise.reject(new Error("error: update failed"));
        },
        { pauseMs: 1 },
      ),
      /update failed/,
    );
    assert.strictEqual(calls, 1);
    calls = 0;
    await assert.rejects(
      retryingStackTagsRace(
        () => {
          calls++;
          return Promise.reject(new Error(RACE));
        },
        { pauseMs: 1, attempts: 3 },
      ),
      /stack tags file: EOF/,
    );
    assert.strictEqual(calls, 3);
  });

  it("a cancelled command is not run again", async () => {
    const ac = new AbortController();
    let calls = 0;
    await assert.rejects(
      retryingStackTagsRace(
        () => {
          calls++;
          ac.abort();
          return Promise.reject(new Error(RACE));
        },
        { pauseMs: 1, signal: ac.signal },
      ),
    );
    assert.strictEqual(calls, 1);
  });
});
