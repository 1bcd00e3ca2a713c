/**
 * Which revision of the stack's release state this checkout's stack file was last equal to. Kept beside the
 * checkout, untracked (`.bluegreen/release-state/<stack>.json`, under the git-ignored `.bluegreen/`): it describes
 * this working copy, not the product, so it must never travel through git to another clone. A fresh clone has none
 * (revision 0): its copy is trusted only where it equals the stack's.
 */
import * as fs from "fs";
import * as path from "path";
import { stackLeaf } from "./release-state";

interface Marker {
  v: 1;
  /** The backend the revision belongs to (a checkout that logs in elsewhere starts again from 0). */
  backend: string;
  rev: number;
}

function markerFile(projectDir: string, stack: string): string {
  return path.join(projectDir, ".bluegreen", "release-state", `${stackLeaf(stack)}.json`);
}

export function readCheckoutRevision(projectDir: string, stack: string, backend: string): number {
  try {
    const m = JSON.parse(fs.readFileSync(markerFile(projectDir, stack), "utf8")) as Partial<Marker>;
    return m.v === 1 && m.backend === backend && Number.isInteger(m.rev) ? (m.rev as number) : 0;
  } catch {
    return 0;
  }
}

/** Written through a temp file and a rename: a kill never leaves half a marker. */
export function writeCheckoutRevision(projectDir: string, stack: string, backend: string, rev: number): void {
  const file = markerFile(projectDir, stack);
  if (readCheckoutRevision(projectDir, stack, backend) === rev) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ v: 1, backend, rev } satisfies Marker)}\n`);
  fs.renameSync(tmp, file);
}
