/**
 * Hook and smoke-command output, kept where git does not look: `<project>/.bluegreen/logs/<stack>/<release>/...log`,
 * redacted like every other output of the tool and readable by its owner only (0600). The release record and the
 * messages name the file (relative to the project) instead of copying the output.
 */
import * as fs from "fs";
import * as path from "path";
import type { LogSink } from "../ports";
import type { Redactor } from "../redact";

const safe = (part: string): string => part.replace(/[^A-Za-z0-9_.-]+/g, "_").slice(0, 80) || "_";

export function fileLogs(projectDir: string, redactor?: Redactor): LogSink {
  return {
    write(parts, text) {
      const rel = path.join(
        ".bluegreen",
        "logs",
        ...parts.slice(0, -1).map(safe),
        `${safe(parts[parts.length - 1])}.log`,
      );
      const file = path.join(projectDir, rel);
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        fs.writeFileSync(file, redactor ? redactor.redact(text) : text, { mode: 0o600 });
        fs.chmodSync(file, 0o600);
        return rel;
      } catch {
        return undefined; // a log that cannot be written never changes a release
      }
    },
  };
}
