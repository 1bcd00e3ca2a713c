/**
 * The test route on the local platform, for real: the Pulumi engine, the demo app's processes and HAProxy. Requests on
 * the production port that carry the header reach the idle color, every other request the live one, with not one
 * wrong answer out of thousands; a switch moves the route with the preview backend over the runtime API (no reload).
 */
import { strict as assert } from "assert";
import * as http from "http";
import { Color } from "../../components/core/conventions";
import {
  cleanupLocalStack,
  createLocalStack,
  lastRouterChange,
  LocalStackHandle,
  portBlock,
  servicesConfig,
} from "./local-harness";

const HEADER = "x-bluegreen-preview";
const VERSIONS: Record<Color, string> = { blue: "1.0.0", green: "1.1.0" };

/** `count` GETs over keep-alive connections, `parallel` at a time; the color each answer names, tallied. */
async function colorsSeen(
  url: string,
  headers: Record<string, string>,
  count: number,
  parallel = 16,
): Promise<Record<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: parallel });
  const tally: Record<string, number> = {};
  const one = () =>
    new Promise<string>((resolve) => {
      const req = http.get(url, { agent, headers, timeout: 5000 }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => {
          try {
            const body = JSON.parse(text) as { color?: string };
            resolve(res.statusCode === 200 ? (body.color ?? "no color") : `status ${res.statusCode}`);
          } catch {
            resolve(`status ${res.statusCode} (not JSON)`);
          }
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e) => resolve(`error ${e.message}`));
    });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const seen = await one();
      tally[seen] = (tally[seen] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  agent.destroy();
  return tally;
}

describe("test route on the local platform (real HAProxy)", function () {
  this.timeout(300000);
  let h: LocalStackHandle | undefined;
  const livePort = portBlock(5);
  const live = `http://127.0.0.1:${livePort}/`;
  const services = servicesConfig({
    web: { livePort, versions: VERSIONS, extra: { testRoute: { header: HEADER } } },
  });

  before(async () => {
    h = await createLocalStack("troute");
    await h.setConfig("blue", services);
    await h.up();
  });
  after(async () => cleanupLocalStack(h));

  it("sends every request with the header to the idle color and every other one to the live color", async () => {
    const [plain, pinned] = await Promise.all([colorsSeen(live, {}, 3000), colorsSeen(live, { [HEADER]: "1" }, 3000)]);
    assert.deepEqual(plain, { blue: 3000 }, "without the header: the live color only");
    assert.deepEqual(pinned, { green: 3000 }, "with the header: the idle color only");
    // Another value of the header is not the route.
    assert.deepEqual(await colorsSeen(live, { [HEADER]: "2" }, 200), { blue: 200 });
  });

  it("follows a switch without an HAProxy reload: the header then reaches the new idle color", async () => {
    await h!.setConfig("green", services);
    await h!.up();
    assert.equal(lastRouterChange(h!.stateDir, h!.stackName, "web").method, "runtime-api");
    const [plain, pinned] = await Promise.all([colorsSeen(live, {}, 1000), colorsSeen(live, { [HEADER]: "1" }, 1000)]);
    assert.deepEqual(plain, { green: 1000 });
    assert.deepEqual(pinned, { blue: 1000 });
  });
});
