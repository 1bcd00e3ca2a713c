/**
 * The program's side of "the stack is the source of truth for every checkout" (components/core/state-store/): before
 * any resource is registered, compare this checkout's release state (live colors, versions, weights, scale-downs in
 * the stack file) with the one kept in the stack's backend, and
 *
 * - refuse a checkout whose copy is behind the stack's (another checkout or CI runner released since): its `pulumi up`
 *   would silently move production back, so preview and up stop here, naming the release that made today's state
 *   and `bluegreen sync`;
 * - refuse an update that makes a color live and changes that color's version at once (CrossGuard sees only the new
 *   resource graph, not the previous state, so the program, which reads the recorded state, does this);
 * - on `pulumi up` (not preview) of a deliberate edit from an up-to-date checkout - the documented flip
 *   `pulumi config set bluegreen:liveColor green && pulumi up` - record the new state in the backend first, so every
 *   other checkout sees it (the record before the change, as the release tool does).
 *
 * Backends without a release-state store (Pulumi Cloud, gs://, azblob://) keep the state in the stack file: nothing
 * to compare, nothing refused.
 */
import * as os from "os";
import * as pulumi from "@pulumi/pulumi";
import {
  actorName,
  backendUrlFor,
  displayBackend,
  judgeCheckout,
  openReleaseState,
  projectDirOf,
  ReleaseStateDoc,
  releaseStateOf,
  stageAndSwitchProblems,
  readCheckoutRevision,
  staleMessage,
  StoreError,
  writeCheckoutRevision,
} from "./core/state-store";
import { readStructured } from "./stack";

/** True when the stored record is a release that has not ended (its owner may be moving traffic right now). */
function releaseInProgress(doc: ReleaseStateDoc | undefined): string | undefined {
  if (!doc?.release) return undefined;
  try {
    const r = JSON.parse(doc.release) as { phase?: string; id?: string; service?: string; version?: string };
    return r.phase && r.phase !== "done"
      ? `${r.service ?? "?"} ${r.version ?? "?"} (release ${r.id ?? "?"})`
      : undefined;
  } catch {
    return undefined;
  }
}

export async function guardReleaseState(
  config = new pulumi.Config("bluegreen"),
  projectDir = projectDirOf(process.cwd()),
): Promise<void> {
  const url = backendUrlFor(projectDir);
  const stack = pulumi.getStack();
  const fail = (message: string): never => {
    throw new pulumi.RunError(message);
  };
  let store;
  try {
    store = openReleaseState({ backendUrl: url, project: pulumi.getProject(), stack });
  } catch (err) {
    if (err instanceof StoreError) fail(`release state: ${err.message}`);
    throw err;
  }
  if (!store || !url) return;
  const file = releaseStateOf({ liveColor: config.get("liveColor"), services: readStructured(config, "services") });
  const where = displayBackend(url);
  const fileRevision = readCheckoutRevision(projectDir, stack, where);
  const judge = (doc: ReleaseStateDoc | undefined): ReturnType<typeof judgeCheckout> => {
    const j = judgeCheckout(file, fileRevision, doc);
    if (j.kind === "stale") fail(staleMessage(stack, j, where));
    if (j.kind === "local-edit") {
      const problems = stageAndSwitchProblems(j.doc.state, file);
      if (problems.length > 0) fail(`stack ${stack}: refused before any change:\n  ${problems.join("\n  ")}`);
      const running = releaseInProgress(j.doc);
      if (running) {
        fail(
          `stack ${stack}: a release of ${running} is in progress; this update would change ${j.changes.join(", ")} ` +
            "under it. Wait for it to end (`bluegreen status`) or abort it (`bluegreen abort`)",
        );
      }
    }
    return j;
  };
  try {
    const first = judge(await store.read());
    if (first.kind === "in-sync") writeCheckoutRevision(projectDir, stack, where, first.doc.rev);
    // A preview changes nothing; an update whose state the backend already holds has nothing to record.
    if (pulumi.runtime.isDryRun() || first.kind === "in-sync") return;
    const written = await store.update((current) => {
      const j = judge(current);
      if (j.kind === "in-sync") return undefined;
      return {
        state: file,
        madeBy: { kind: "pulumi up", by: actorName(), host: os.hostname(), at: new Date().toISOString() },
        ...(current?.release !== undefined ? { release: current.release } : {}),
        ...(current?.history !== undefined ? { history: current.history } : {}),
      };
    });
    if (written) writeCheckoutRevision(projectDir, stack, where, written.rev);
  } catch (err) {
    if (err instanceof StoreError) fail(`release state in ${where}: ${err.message}`);
    throw err;
  }
}
