package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestParseArgsTakesTheLastPositionalAsEngineAddress(t *testing.T) {
	got, err := parseArgs([]string{"--logtostderr", "-v=9", "--tracing", "http://trace", "-root=/x", "127.0.0.1:4321"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got.engineAddress != "127.0.0.1:4321" || got.tracing != "http://trace" {
		t.Fatalf("got %+v", got)
	}
}

func TestParseArgsWithoutEngineAddressFails(t *testing.T) {
	if _, err := parseArgs([]string{"--logtostderr", "-v=3"}); err == nil {
		t.Fatal("expected an error for a missing engine address")
	}
}

func TestRuntimeOptionsDefaultToTypeScript(t *testing.T) {
	opts := parseRuntimeOptions(nil)
	if !opts.typescript || len(opts.nodeargs) != 0 {
		t.Fatalf("got %+v", opts)
	}
	custom, err := structpb.NewStruct(map[string]any{
		"typescript": false, "nodeargs": "--max-old-space-size=4096 --trace-warnings", "tsconfig": "tsconfig.build.json",
	})
	if err != nil {
		t.Fatal(err)
	}
	opts = parseRuntimeOptions(custom)
	if opts.typescript || len(opts.nodeargs) != 2 || opts.tsconfigPath != "tsconfig.build.json" {
		t.Fatalf("got %+v", opts)
	}
}

func TestFindPulumiEntryPointWalksUpToNodeModules(t *testing.T) {
	root := t.TempDir()
	runner := filepath.Join(root, "node_modules", "@pulumi", "pulumi", "cmd", "run")
	if err := os.MkdirAll(runner, 0o755); err != nil {
		t.Fatal(err)
	}
	program := filepath.Join(root, "test", "fixture")
	if err := os.MkdirAll(program, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := findPulumiEntryPoint(program, "run")
	if err != nil || got != runner {
		t.Fatalf("got %q, %v; want %q", got, err, runner)
	}
	if _, err := findPulumiEntryPoint(program, "run-policy-pack"); err == nil {
		t.Fatal("expected an error naming the missing runner")
	}
}

func TestGetProgramDependenciesListsInstalledVersions(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"dependencies": {"@pulumi/pulumi": "3.248.0", "left-pad": "1"}, "devDependencies": {"mocha": "12"}}`)
	write("node_modules/@pulumi/pulumi/package.json", `{"version": "3.248.0"}`)
	write("node_modules/mocha/package.json", `{"version": "12.0.3"}`)

	host := &nodeLanguageHost{}
	res, err := host.GetProgramDependencies(context.Background(), &pulumirpc.GetProgramDependenciesRequest{
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir},
	})
	if err != nil {
		t.Fatal(err)
	}
	// left-pad is declared but not installed: it is left out rather than reported with no version.
	if len(res.Dependencies) != 1 || res.Dependencies[0].Name != "@pulumi/pulumi" ||
		res.Dependencies[0].Version != "3.248.0" {
		t.Fatalf("got %v", res.Dependencies)
	}

	res, err = host.GetProgramDependencies(context.Background(), &pulumirpc.GetProgramDependenciesRequest{
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}, TransitiveDependencies: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dependencies) != 2 || res.Dependencies[1].Name != "mocha" {
		t.Fatalf("got %v", res.Dependencies)
	}
}
