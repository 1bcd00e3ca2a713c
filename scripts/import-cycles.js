#!/usr/bin/env node
// Refuses import cycles, type-only imports included (eslint's import-x/no-cycle skips those: they vanish at run time,
// but a cycle of types still ties two rooms together). Usage: node scripts/import-cycles.js [dir...]; no dir: every
// TypeScript file of tsconfig.json and policy/tsconfig.json. Prints each cycle's files; exit 1 if there is one.
"use strict";
const fs = require("fs");
const path = require("path");
const ts = require("typescript");

const root = path.resolve(__dirname, "..");
// Cycles on purpose, which test/unit/import-cycles.test.ts checks are refused.
const FIXTURES = path.join(root, "test", "fixtures");

function projectFiles(tsconfig) {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    tsconfig,
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic() {} },
  );
  if (!parsed) throw new Error(`cannot read ${tsconfig}`);
  return { files: parsed.fileNames, options: parsed.options };
}

function dirFiles(dir) {
  return fs
    .readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => path.join(dir, f));
}

/** Relative imports and re-exports of `file`, resolved to project files (type-only ones too). */
function importsOf(file, options) {
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const out = [];
  for (const st of source.statements) {
    const spec =
      (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) &&
      st.moduleSpecifier &&
      ts.isStringLiteral(st.moduleSpecifier)
        ? st.moduleSpecifier.text
        : undefined;
    if (!spec || !spec.startsWith(".")) continue;
    const r = ts.resolveModuleName(spec, file, options, ts.sys).resolvedModule;
    if (r && !r.isExternalLibraryImport && !r.resolvedFileName.endsWith(".d.ts"))
      out.push(path.resolve(r.resolvedFileName));
  }
  return out;
}

/** Strongly connected components with more than one file (Tarjan): each is one or more cycles. */
function cycles(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const found = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const group = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1) found.push(group.map((f) => path.relative(root, f)).sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function main(args) {
  const graph = new Map();
  if (args.length > 0) {
    const { options } = projectFiles(path.join(root, "tsconfig.json"));
    for (const dir of args)
      for (const f of dirFiles(path.resolve(dir))) graph.set(path.resolve(f), importsOf(f, options));
  } else {
    for (const cfg of ["tsconfig.json", "policy/tsconfig.json"]) {
      const { files, options } = projectFiles(path.join(root, cfg));
      for (const f of files) {
        const abs = path.resolve(f);
        if (abs.includes(`${path.sep}node_modules${path.sep}`) || abs.startsWith(FIXTURES + path.sep)) continue;
        graph.set(abs, importsOf(abs, options));
      }
    }
  }
  const found = cycles(graph);
  for (const group of found) console.error(`import cycle of ${group.length} files: ${group.join(", ")}`);
  if (found.length > 0) {
    console.error("Move the shared types or ports down (automation/ports.ts, the record) so imports point one way.");
    return 1;
  }
  console.log(`no import cycles among ${graph.size} files`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
