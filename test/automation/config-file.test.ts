import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { restoreInterruptedConfigWrite, stackConfigFile } from "../../automation/adapters/pulumi-driver";

describe("stack config file: a config write killed half way", () => {
  let dir: string;
  let file: string;
  const good = "config:\n  bluegreen:platform: local\n  bluegreen:liveColor: blue\n";
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-config-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: p\nruntime: nodejs\nstackConfigDir: stacks\n");
    fs.mkdirSync(path.join(dir, "stacks"));
    file = stackConfigFile(dir, "dev");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("finds the stack file through the project's stackConfigDir", () => {
    assert.equal(file, path.join(dir, "stacks", "Pulumi.dev.yaml"));
  });

  it("restores the last good copy when the write left the file empty", () => {
    fs.writeFileSync(file, "");
    fs.writeFileSync(file + ".bluegreen-backup", good);
    assert.equal(restoreInterruptedConfigWrite(file), "restored");
    assert.equal(fs.readFileSync(file, "utf8"), good);
    assert.equal(fs.existsSync(file + ".bluegreen-backup"), false);
  });

  it("keeps a completed write and drops the stale backup", () => {
    const written = good.replace("blue\n", "green\n");
    fs.writeFileSync(file, written);
    fs.writeFileSync(file + ".bluegreen-backup", good);
    assert.equal(restoreInterruptedConfigWrite(file), "discarded");
    assert.equal(fs.readFileSync(file, "utf8"), written);
    assert.equal(fs.existsSync(file + ".bluegreen-backup"), false);
  });

  it("does nothing without a backup", () => {
    fs.writeFileSync(file, "");
    assert.equal(restoreInterruptedConfigWrite(file), "none");
    assert.equal(fs.readFileSync(file, "utf8"), "");
  });
});
