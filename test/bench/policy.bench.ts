/**
 * Policy pack benchmark: synthetic stacks of 100, 1,000 and 5,000 services (half AWS, half Kubernetes, both colors,
 * 12-15 resources per service), every stack validation of the pack run as the engine would, median of several runs.
 * Target: 1,000 services in under 1 s, linear growth (ratio 5,000/1,000 close to 5).
 *
 *   npx ts-node --transpile-only test/bench/policy.bench.ts [sizes...]
 */
import type { PolicyResource } from "../../policy/model";
import { bluegreenPolicies } from "../../policy/policies";
import { awsGraph, Graph, kubernetesGraph, SERVICE, Spec } from "../policy/fixtures";

/** One service's resources, renamed from the happy-path fixture (names, tags, ARNs, ids all carry the name). */
function templates(): { specs: Spec[]; json: string }[] {
  return [awsGraph(), kubernetesGraph()].map((g) => {
    const specs = [...g.specs.values()];
    return { specs, json: JSON.stringify(specs) };
  });
}

function buildStack(services: number): PolicyResource[] {
  const tpl = templates();
  const g = new Graph();
  for (let i = 0; i < services; i++) {
    const t = tpl[i % tpl.length];
    const name = `svc${i}`;
    // Every occurrence of the service name (and the shared security group id) becomes unique per service.
    const specs = JSON.parse(t.json.split(SERVICE).join(name).split("sg-0123").join(`sg-${i}`)) as Spec[];
    for (const s of specs) g.add(s.type, s.name, s.props, { opts: s.opts, deps: s.deps });
  }
  return g.build();
}

async function validateAll(resources: PolicyResource[]): Promise<number> {
  let violations = 0;
  for (const p of bluegreenPolicies()) {
    await p.validateStack(
      {
        resources,
        stackTags: new Map(),
        getConfig: <T extends object>() => ({}) as T,
        notApplicable: (): never => {
          throw new Error("not applicable");
        },
      },
      () => violations++,
    );
  }
  return violations;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const results = new Map<number, number>();
  console.log("services  resources  violations  median ms  runs (ms)");
  for (const size of sizes.length > 0 ? sizes : [100, 1000, 5000]) {
    const resources = buildStack(size);
    const runs: number[] = [];
    let violations = 0;
    const count = size >= 5000 ? 5 : 7;
    await validateAll(resources); // warm-up (JIT)
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      violations = await validateAll(resources);
      runs.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    const m = median(runs);
    results.set(size, m);
    console.log(
      `${String(size).padStart(8)}  ${String(resources.length).padStart(9)}  ${String(violations).padStart(10)}  ` +
        `${m.toFixed(1).padStart(9)}  ${runs.map((r) => r.toFixed(0)).join(" ")}`,
    );
    if (violations !== 0) throw new Error(`the synthetic stack should be clean, got ${violations} violations`);
  }
  const [a, b] = [results.get(1000), results.get(5000)];
  if (a !== undefined && b !== undefined) {
    console.log(`ratio 5000/1000: ${(b / a).toFixed(2)} (linear = 5.00)`);
    console.log(`1000 services: ${a.toFixed(0)} ms (target < 1000 ms) ${a < 1000 ? "OK" : "TOO SLOW"}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
