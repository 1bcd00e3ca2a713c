package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// fakeRunner stands in for @pulumi/pulumi/cmd/run: it records what the host gave it (arguments, node flags, the
// config environment, its working directory) in $FAKE_RUNNER_OUT and then behaves as $FAKE_RUNNER_MODE says.
const fakeRunner = `
const fs = require("fs");
fs.writeFileSync(process.env.FAKE_RUNNER_OUT, JSON.stringify({
  argv: process.argv.slice(2),
  execArgv: process.execArgv,
  cwd: process.cwd(),
  config: process.env.PULUMI_CONFIG ?? null,
  secretKeys: process.env.PULUMI_CONFIG_SECRET_KEYS ?? null,
  typescript: process.env.PULUMI_NODEJS_TYPESCRIPT ?? null,
  tsconfig: process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? null,
  compileCache: process.env.NODE_COMPILE_CACHE ?? null,
}));
switch (process.env.FAKE_RUNNER_MODE) {
  case "reported": process.exit(32);
  case "fail": process.exit(3);
  case "oom": process.stderr.write("\n<--- Last few GCs --->\n"); process.exit(134);
  case "killed": process.kill(process.pid, "SIGKILL"); break;
  case "wait-for-sigint":
    process.on("SIGINT", () => { fs.writeFileSync(process.env.FAKE_RUNNER_OUT + ".sigint", "1"); process.exit(1); });
    setInterval(() => {}, 1000);
    break;
}
`

type runnerRecord struct {
	Argv         []string `json:"argv"`
	ExecArgv     []string `json:"execArgv"`
	Cwd          string   `json:"cwd"`
	Config       *string  `json:"config"`
	SecretKeys   *string  `json:"secretKeys"`
	TypeScript   *string  `json:"typescript"`
	TSConfig     *string  `json:"tsconfig"`
	CompileCache *string  `json:"compileCache"`
}

// programWithFakeSDK makes a program folder whose node_modules holds the fake runner, and returns the folder and
// the file the runner reports to.
func programWithFakeSDK(t *testing.T, mode string) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("these tests start real node processes: %v", err)
	}
	root := t.TempDir()
	runner := filepath.Join(root, "node_modules", "@pulumi", "pulumi", "cmd", "run", "index.js")
	if err := os.MkdirAll(filepath.Dir(runner), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runner, []byte(fakeRunner), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "runner.json")
	t.Setenv("FAKE_RUNNER_OUT", out)
	t.Setenv("FAKE_RUNNER_MODE", mode)
	return root, out
}

// runPlainProgram runs a program with no config and no options through the host and returns what the runner saw.
func runPlainProgram(t *testing.T) runnerRecord {
	t.Helper()
	dir, out := programWithFakeSDK(t, "ok")
	res, err := newHost("127.0.0.1:1", "").Run(context.Background(), &pulumirpc.RunRequest{
		Project: "p", Stack: "dev", MonitorAddress: "127.0.0.1:2",
		Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."},
	})
	if err != nil || res.GetError() != "" {
		t.Fatalf("Run: %v %q", err, res.GetError())
	}
	return readRecord(t, out)
}

func readRecord(t *testing.T, path string) runnerRecord {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the runner never ran: %v", err)
	}
	var rec runnerRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The bug of issue #16: a stack with no config handed the program PULUMI_CONFIG="null", and
// `new pulumi.Config().get("x")` died at preview. Upstream sends `{}`.
func TestRunGivesAStackWithoutConfigAnEmptyConfigObject(t *testing.T) {
	rec := runPlainProgram(t)
	if rec.Config == nil || *rec.Config != "{}" {
		t.Fatalf("PULUMI_CONFIG = %v, want {}", deref(rec.Config))
	}
	if rec.SecretKeys == nil || *rec.SecretKeys != "[]" {
		t.Fatalf("PULUMI_CONFIG_SECRET_KEYS = %v, want []", deref(rec.SecretKeys))
	}
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

func TestRunPassesEveryInputTheWayUpstreamDoes(t *testing.T) {
	dir, out := programWithFakeSDK(t, "ok")
	programDir := filepath.Join(dir, "src")
	if err := os.MkdirAll(programDir, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := newHost("127.0.0.1:1", "http://trace").Run(context.Background(), &pulumirpc.RunRequest{
		Organization: "acme", Project: "p", Stack: "dev", MonitorAddress: "127.0.0.1:2", DryRun: true,
		Parallel: 7, Args: []string{"extra"},
		Config:           map[string]string{"p:name": "web", "aws:region": "eu-west-1"},
		ConfigSecretKeys: []string{"p:name"},
		Info: &pulumirpc.ProgramInfo{
			RootDirectory: dir, ProgramDirectory: programDir, EntryPoint: "main.js",
			Options: mustStruct(t, map[string]any{
				"typescript": false, "tsconfig": "tsconfig.build.json", "nodeargs": "--max-old-space-size=123 --no-warnings",
			}),
		},
	})
	if err != nil || res.GetError() != "" {
		t.Fatalf("Run: %v %q", err, res.GetError())
	}
	rec := readRecord(t, out)
	want := []string{
		"--monitor", "127.0.0.1:2", "--engine", "127.0.0.1:1", "--organization", "acme", "--project", "p",
		"--root-directory", dir, "--stack", "dev", "--pwd", programDir, "--dry-run", "--parallel", "7",
		"--tracing", "http://trace", "main.js", "extra",
	}
	if strings.Join(rec.Argv, " ") != strings.Join(want, " ") {
		t.Fatalf("runner arguments\n got %q\nwant %q", rec.Argv, want)
	}
	if strings.Join(rec.ExecArgv, " ") != "--max-old-space-size=123 --no-warnings" {
		t.Fatalf("node flags: %q", rec.ExecArgv)
	}
	if rec.Cwd != programDir {
		t.Fatalf("cwd %q, want %q", rec.Cwd, programDir)
	}
	var config map[string]string
	if err := json.Unmarshal([]byte(deref(rec.Config)), &config); err != nil {
		t.Fatal(err)
	}
	if len(config) != 2 || config["p:config:name"] != "web" || config["aws:config:region"] != "eu-west-1" {
		t.Fatalf("PULUMI_CONFIG = %s", deref(rec.Config))
	}
	if deref(rec.SecretKeys) != `["p:name"]` {
		t.Fatalf("PULUMI_CONFIG_SECRET_KEYS = %s", deref(rec.SecretKeys))
	}
	// typescript: false leaves PULUMI_NODEJS_TYPESCRIPT unset, as upstream does.
	if rec.TypeScript != nil || deref(rec.TSConfig) != "tsconfig.build.json" {
		t.Fatalf("typescript %s, tsconfig %s", deref(rec.TypeScript), deref(rec.TSConfig))
	}
}

func TestRunTurnsTypeScriptOnByDefault(t *testing.T) {
	dir, out := programWithFakeSDK(t, "ok")
	res, err := newHost("127.0.0.1:1", "").Run(context.Background(), &pulumirpc.RunRequest{
		Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."},
	})
	if err != nil || res.GetError() != "" {
		t.Fatalf("Run: %v %q", err, res.GetError())
	}
	if rec := readRecord(t, out); deref(rec.TypeScript) != "true" {
		t.Fatalf("PULUMI_NODEJS_TYPESCRIPT = %s", deref(rec.TypeScript))
	}
}

func TestRunReportsFailuresWithUpstreamsMessages(t *testing.T) {
	cases := []struct {
		mode      string
		wantError string
		wantBail  bool
	}{
		{mode: "reported", wantBail: true},
		{mode: "fail", wantError: "Program exited with non-zero exit code: 3"},
		{mode: "killed", wantError: "Program exited with non-zero exit code: -1"},
		{mode: "oom", wantError: "Program exited with non-zero exit code: 134. Detected a possible out of memory error."},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			dir, _ := programWithFakeSDK(t, c.mode)
			res, err := newHost("127.0.0.1:1", "").Run(context.Background(), &pulumirpc.RunRequest{
				Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."},
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.GetBail() != c.wantBail || !strings.HasPrefix(res.GetError(), c.wantError) ||
				(c.wantError == "" && res.GetError() != "") {
				t.Fatalf("got bail=%v error=%q; want bail=%v error starting %q",
					res.GetBail(), res.GetError(), c.wantBail, c.wantError)
			}
		})
	}
}

func TestRunWithoutTheSDKSaysHowToInstallIt(t *testing.T) {
	dir := t.TempDir()
	res, err := newHost("127.0.0.1:1", "").Run(context.Background(), &pulumirpc.RunRequest{
		Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "It looks like the Pulumi SDK has not been installed. Have you run pulumi install?"
	if res.GetError() != want {
		t.Fatalf("got %q, want %q", res.GetError(), want)
	}
}

func TestRunRefusesRuntimeOptionsOfTheWrongType(t *testing.T) {
	dir, out := programWithFakeSDK(t, "ok")
	res, err := newHost("127.0.0.1:1", "").Run(context.Background(), &pulumirpc.RunRequest{
		Info: &pulumirpc.ProgramInfo{
			RootDirectory: dir, ProgramDirectory: dir, EntryPoint: ".",
			Options: mustStruct(t, map[string]any{"typescript": "yes"}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.GetError(), "typescript option must be a boolean") {
		t.Fatalf("got %q", res.GetError())
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("the program ran despite the bad option")
	}
}

// The engine calls Cancel on Ctrl-C: the program gets SIGINT (so the SDK can stop cleanly) and Run returns.
func TestCancelInterruptsTheRunningProgram(t *testing.T) {
	dir, out := programWithFakeSDK(t, "wait-for-sigint")
	host := newHost("127.0.0.1:1", "")
	done := make(chan *pulumirpc.RunResponse, 1)
	go func() {
		res, _ := host.Run(context.Background(), &pulumirpc.RunRequest{
			Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."},
		})
		done <- res
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(out); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the program did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the runner install its SIGINT handler
	if _, err := host.Cancel(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.GetError() != "Program exited with non-zero exit code: 1" {
			t.Fatalf("got %q", res.GetError())
		}
	case <-time.After(cancelGrace + 5*time.Second):
		t.Fatal("Run did not return after Cancel")
	}
	if _, err := os.Stat(out + ".sigint"); err != nil {
		t.Fatal("the program was not sent SIGINT")
	}
}

func TestParseArgsTakesTheLastPositionalAsEngineAddress(t *testing.T) {
	got, err := parseArgs([]string{"--logtostderr", "-v=9", "--tracing", "http://trace", "-root=/x", "127.0.0.1:4321"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got.engineAddress != "127.0.0.1:4321" || got.tracing != "http://trace" {
		t.Fatalf("got %+v", got)
	}
	got, err = parseArgs([]string{"-tracing=http://t2", "127.0.0.1:1"})
	if err != nil || got.tracing != "http://t2" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestParseArgsRefusesWhatThisHostCannotDo(t *testing.T) {
	if _, err := parseArgs([]string{"--logtostderr", "-v=3"}); err == nil {
		t.Fatal("expected an error for a missing engine address")
	}
	_, err := parseArgs([]string{"--runtime=bun", "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "unsupported runtime: bun") {
		t.Fatalf("got %v", err)
	}
}

func TestParseOptionsDefaultsAndTypes(t *testing.T) {
	opts, err := parseOptions(map[string]any{})
	if err != nil || !opts.typescript || opts.nodeargs != "" || opts.packagemanager != "auto" {
		t.Fatalf("got %+v, %v", opts, err)
	}
	opts, err = parseOptions(map[string]any{
		"typescript": false, "nodeargs": "--trace-warnings", "tsconfig": "t.json", "packagemanager": "pnpm",
	})
	if err != nil || opts.typescript || opts.tsconfigPath != "t.json" || opts.packagemanager != "pnpm" {
		t.Fatalf("got %+v, %v", opts, err)
	}
	for _, bad := range []map[string]any{
		{"tsconfig": 3.0}, {"nodeargs": true}, {"packagemanager": "cargo"}, {"packagemanager": 1.0},
	} {
		if _, err := parseOptions(bad); err == nil {
			t.Fatalf("expected an error for %v", bad)
		}
	}
}

func TestGetProgramDependenciesReadsTheLockFile(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"name": "p", "dependencies": {"@pulumi/pulumi": "3.270.0"}}`)
	// Written indented, as npm writes it (the lock file reader is line-based).
	lock, err := json.MarshalIndent(map[string]any{
		"name": "p", "lockfileVersion": 3, "requires": true,
		"packages": map[string]any{
			"":                            map[string]any{"name": "p", "dependencies": map[string]string{"@pulumi/pulumi": "3.270.0"}},
			"node_modules/@pulumi/pulumi": map[string]any{"version": "3.270.0"},
			"node_modules/semver":         map[string]any{"version": "7.7.1"},
		},
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	write("package-lock.json", string(lock))
	host := newHost("", "")
	res, err := host.GetProgramDependencies(context.Background(), &pulumirpc.GetProgramDependenciesRequest{
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir, RootDirectory: dir, EntryPoint: "."},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dependencies) != 1 || res.Dependencies[0].Name != "@pulumi/pulumi" ||
		res.Dependencies[0].Version != "3.270.0" {
		t.Fatalf("direct: %v", res.Dependencies)
	}
	res, err = host.GetProgramDependencies(context.Background(), &pulumirpc.GetProgramDependenciesRequest{
		Info:                   &pulumirpc.ProgramInfo{ProgramDirectory: dir, RootDirectory: dir, EntryPoint: "."},
		TransitiveDependencies: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dependencies) != 2 {
		t.Fatalf("transitive: %v", res.Dependencies)
	}
}

func TestCodeGenerationSaysItIsNotImplementedAndWhatToUseInstead(t *testing.T) {
	_, err := newHost("", "").GenerateProgram(context.Background(), &pulumirpc.GenerateProgramRequest{})
	st, _ := status.FromError(err)
	if st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "pulumi convert") ||
		!strings.Contains(st.Message(), "upstream") {
		t.Fatalf("got %v", err)
	}
}

// The program starts with V8's code cache on disk (Node's default folder) unless the user chose a folder or
// turned the cache off.
func TestRunGivesTheProgramACompileCache(t *testing.T) {
	t.Setenv("NODE_COMPILE_CACHE", "")
	t.Setenv("NODE_DISABLE_COMPILE_CACHE", "")
	if got, want := deref(runPlainProgram(t).CompileCache), filepath.Join(os.TempDir(), "node-compile-cache"); got != want {
		t.Fatalf("NODE_COMPILE_CACHE = %q, want %q", got, want)
	}
	t.Setenv("NODE_COMPILE_CACHE", "/somewhere/else")
	if got := deref(runPlainProgram(t).CompileCache); got != "/somewhere/else" {
		t.Fatalf("the user's NODE_COMPILE_CACHE was replaced: %q", got)
	}
	t.Setenv("NODE_COMPILE_CACHE", "")
	t.Setenv("NODE_DISABLE_COMPILE_CACHE", "1")
	if got := runPlainProgram(t).CompileCache; got != nil && *got != "" {
		t.Fatalf("NODE_COMPILE_CACHE set although the cache is turned off: %q", *got)
	}
}

// About asks the package manager for its version once per installation, not at every preview and update.
func TestAboutAsksNpmForItsVersionOncePerInstallation(t *testing.T) {
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	npmScript := "#!/bin/sh\necho called >> " + calls + "\necho 10.9.7\n"
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(npmScript), 0o755); err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(node, filepath.Join(bin, "node")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	host := newHost("127.0.0.1:1", "")
	for i := 0; i < 3; i++ {
		res, err := host.About(context.Background(), &pulumirpc.AboutRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.GetMetadata()["packagemanagerVersion"]; got != "10.9.7" {
			t.Fatalf("packagemanagerVersion %q (run %d)", got, i)
		}
	}
	raw, _ := os.ReadFile(calls)
	if n := strings.Count(string(raw), "called"); n != 1 {
		t.Fatalf("npm --version ran %d times, want 1", n)
	}
}
