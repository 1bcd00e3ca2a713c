// Command pulumi-language-nodejs is bluegreen's Node.js language host for the Pulumi engine.
//
// Why it exists: the upstream host lives in its own Go module, which the module proxy reachable from our build
// machines does not serve, while the engine (pkg/v3) and the SDK with the gRPC contract (sdk/v3) are served. This
// host implements the parts of the LanguageRuntime contract that running a Node.js program, a Node.js policy pack
// and a Node.js plugin need, by starting the `cmd/run*` entry points that ship inside @pulumi/pulumi itself. Code
// generation, templates and packing are left unimplemented (the engine reports them as such).
//
// The engine starts it as `pulumi-language-nodejs [--logtostderr] [-v=N] [--tracing URL] ENGINE_ADDRESS` and reads
// the port it serves on from its first line of standard output.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// exitCodeAlreadyReported is the code @pulumi/pulumi's runner exits with after it has reported the error to the
// engine itself; the engine must then not print a second, generic error.
const exitCodeAlreadyReported = 32

type hostArgs struct {
	engineAddress string
	tracing       string
}

// parseArgs accepts the flags the engine passes to every plugin and the engine address as the last positional
// argument. Unknown flags are ignored so that a newer engine does not break an older host.
func parseArgs(argv []string) (hostArgs, error) {
	var out hostArgs
	var positional []string
	for i := 0; i < len(argv); i++ {
		arg := argv[i]
		switch {
		case arg == "--tracing" || arg == "-tracing":
			if i+1 < len(argv) {
				out.tracing = argv[i+1]
				i++
			}
		case strings.HasPrefix(arg, "--tracing=") || strings.HasPrefix(arg, "-tracing="):
			out.tracing = arg[strings.Index(arg, "=")+1:]
		case strings.HasPrefix(arg, "-"):
			// --logtostderr, -v=N, -root=DIR and future flags carry no meaning for this host.
		default:
			positional = append(positional, arg)
		}
	}
	if len(positional) == 0 {
		return out, errors.New("missing required engine RPC address argument")
	}
	out.engineAddress = positional[len(positional)-1]
	return out, nil
}

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "version") {
		fmt.Println(version.Version)
		return
	}
	args, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(2)
	}

	// Stop when the engine goes away, so that no host outlives an interrupted `pulumi up`.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_ = rpcutil.Healthcheck(ctx, args.engineAddress, 5*time.Minute, cancel)
	}()
	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancelChannel)
	}()

	host := &nodeLanguageHost{engineAddress: args.engineAddress, tracing: args.tracing}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the language host RPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: RPC server stopped: %v\n", err)
		os.Exit(1)
	}
}

type nodeLanguageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
}

func (h *nodeLanguageHost) Handshake(
	context.Context, *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *nodeLanguageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(version.Version, "v")}, nil
}

// GetRequiredPlugins and GetRequiredPackages report nothing: the engine then loads each provider when the program
// first registers a resource of it, at the version the SDK package asks for. That keeps previews from failing on
// providers a stack never uses (this machine cannot download plugins).
func (h *nodeLanguageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *nodeLanguageHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *nodeLanguageHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

// runtimeOptions are the `runtime.options` of Pulumi.yaml / PulumiPolicy.yaml that this host understands.
type runtimeOptions struct {
	typescript   bool
	nodeargs     []string
	tsconfigPath string
}

func parseRuntimeOptions(options *structpb.Struct) runtimeOptions {
	out := runtimeOptions{typescript: true}
	if options == nil {
		return out
	}
	m := options.AsMap()
	if v, ok := m["typescript"].(bool); ok {
		out.typescript = v
	}
	if v, ok := m["nodeargs"].(string); ok && strings.TrimSpace(v) != "" {
		out.nodeargs = strings.Fields(v)
	}
	if v, ok := m["tsconfig"].(string); ok {
		out.tsconfigPath = v
	}
	return out
}

// findPulumiEntryPoint walks up from dir to the node_modules that holds @pulumi/pulumi/cmd/<name>, the way Node's
// own resolution would find the SDK the program imports.
func findPulumiEntryPoint(dir, name string) (string, error) {
	start := dir
	for {
		candidate := filepath.Join(dir, "node_modules", "@pulumi", "pulumi", "cmd", name)
		if st, err := os.Stat(candidate); err == nil && st.IsDir() {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("could not find @pulumi/pulumi/cmd/%s in a node_modules folder at or above %q: "+
				"run `npm ci` (or `npm install`) in the project first", name, start)
		}
		dir = parent
	}
}

func (h *nodeLanguageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := req.GetPwd()
	entryPoint := req.GetProgram()
	var opts runtimeOptions
	if info != nil {
		programDir = info.GetProgramDirectory()
		entryPoint = info.GetEntryPoint()
		opts = parseRuntimeOptions(info.GetOptions())
	} else {
		opts = runtimeOptions{typescript: true}
	}
	if entryPoint == "" {
		entryPoint = "."
	}

	runner, err := findPulumiEntryPoint(programDir, "run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	nodeArgs := append([]string{}, opts.nodeargs...)
	nodeArgs = append(nodeArgs, runner,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", programDir,
		"--parallel", strconv.Itoa(int(req.GetParallel())),
	)
	if org := req.GetOrganization(); org != "" {
		nodeArgs = append(nodeArgs, "--organization", org)
	}
	if info != nil && info.GetRootDirectory() != "" {
		nodeArgs = append(nodeArgs, "--root-directory", info.GetRootDirectory())
	}
	if req.GetDryRun() {
		nodeArgs = append(nodeArgs, "--dry-run")
	}
	if h.tracing != "" {
		nodeArgs = append(nodeArgs, "--tracing", h.tracing)
	}
	nodeArgs = append(nodeArgs, entryPoint)
	nodeArgs = append(nodeArgs, req.GetArgs()...)

	configJSON, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("encoding stack config: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("encoding secret config keys: %w", err)
	}

	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON),
		"PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(opts.typescript),
	)
	if opts.tsconfigPath != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfigPath)
	}

	cmd := exec.CommandContext(ctx, "node", nodeArgs...)
	cmd.Dir = programDir
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code := exitErr.ExitCode()
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return &pulumirpc.RunResponse{Error: fmt.Sprintf("program was killed by signal %v", ws.Signal())}, nil
			}
			if code == exitCodeAlreadyReported {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", code)}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// streamWriter forwards a child's output to the engine as RunPlugin messages.
type streamWriter struct {
	send   func(*pulumirpc.RunPluginResponse) error
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	chunk := append([]byte(nil), p...)
	msg := &pulumirpc.RunPluginResponse{}
	if w.stderr {
		msg.Output = &pulumirpc.RunPluginResponse_Stderr{Stderr: chunk}
	} else {
		msg.Output = &pulumirpc.RunPluginResponse_Stdout{Stdout: chunk}
	}
	if err := w.send(msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

// RunPlugin starts a policy pack (kind "analyzer") or a Node.js plugin with the runner that @pulumi/pulumi ships for
// it, and streams its output back; the engine reads the plugin's port from that output.
func (h *nodeLanguageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	info := req.GetInfo()
	if info == nil {
		return status.Error(codes.InvalidArgument, "RunPlugin needs program info")
	}
	programDir := info.GetProgramDirectory()
	opts := parseRuntimeOptions(info.GetOptions())

	entry := "run-plugin"
	if req.GetKind() == "analyzer" {
		entry = "run-policy-pack"
	}
	runner, err := findPulumiEntryPoint(programDir, entry)
	if err != nil {
		return status.Error(codes.FailedPrecondition, err.Error())
	}

	// The policy runner takes the engine address and then the pack; the plugin runner takes the plugin and then
	// its own arguments (the engine's, which carry the engine address).
	var engineArgs []string
	for _, a := range req.GetArgs() {
		if !strings.HasPrefix(a, "-") {
			engineArgs = append(engineArgs, a)
		}
	}
	nodeArgs := append([]string{}, opts.nodeargs...)
	nodeArgs = append(nodeArgs, runner)
	if req.GetKind() == "analyzer" {
		nodeArgs = append(nodeArgs, engineArgs...)
		nodeArgs = append(nodeArgs, programDir)
	} else {
		nodeArgs = append(nodeArgs, programDir)
		nodeArgs = append(nodeArgs, engineArgs...)
	}

	var mu = make(chan struct{}, 1)
	send := func(msg *pulumirpc.RunPluginResponse) error {
		mu <- struct{}{}
		defer func() { <-mu }()
		return server.Send(msg)
	}

	cmd := exec.CommandContext(server.Context(), "node", nodeArgs...)
	cmd.Dir = programDir
	cmd.Env = append(append(os.Environ(), req.GetEnv()...),
		"PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(opts.typescript))
	cmd.Stdout = streamWriter{send: send}
	cmd.Stderr = streamWriter{send: send, stderr: true}
	runErr := cmd.Run()
	code := 0
	if runErr != nil {
		var exitErr *exec.ExitError
		if !errors.As(runErr, &exitErr) {
			return status.Errorf(codes.Internal, "could not start node for plugin %q: %v", programDir, runErr)
		}
		code = exitErr.ExitCode()
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

// InstallDependencies runs `npm ci` where a lock file exists (reproducible), `npm install` otherwise.
func (h *nodeLanguageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	dir := req.GetDirectory()
	if info := req.GetInfo(); info != nil && info.GetProgramDirectory() != "" {
		dir = info.GetProgramDirectory()
	}
	verb := "install"
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err == nil {
		verb = "ci"
	}
	cmd := exec.CommandContext(server.Context(), "npm", verb)
	cmd.Dir = dir
	out := func(stderr bool) io.Writer {
		return writerFunc(func(p []byte) (int, error) {
			chunk := append([]byte(nil), p...)
			msg := &pulumirpc.InstallDependenciesResponse{Stdout: chunk}
			if stderr {
				msg = &pulumirpc.InstallDependenciesResponse{Stderr: chunk}
			}
			return len(p), server.Send(msg)
		})
	}
	cmd.Stdout = out(false)
	cmd.Stderr = out(true)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s in %q failed: %w", verb, dir, err)
	}
	return nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (h *nodeLanguageHost) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	nodeVersion := "unknown"
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		nodeVersion = strings.TrimSpace(string(out))
	}
	nodePath, _ := exec.LookPath("node")
	return &pulumirpc.AboutResponse{
		Executable: nodePath,
		Version:    nodeVersion,
		Metadata:   map[string]string{"host": "bluegreen", "goos": runtime.GOOS},
	}, nil
}

// GetProgramDependencies lists the direct dependencies of the program's package.json with the versions installed.
func (h *nodeLanguageHost) GetProgramDependencies(
	_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetPwd()
	if info := req.GetInfo(); info != nil && info.GetProgramDirectory() != "" {
		dir = info.GetProgramDirectory()
	}
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, fmt.Errorf("reading package.json: %w", err)
	}
	var pkg struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return nil, fmt.Errorf("parsing package.json: %w", err)
	}
	names := map[string]bool{}
	for n := range pkg.Dependencies {
		names[n] = true
	}
	if req.GetTransitiveDependencies() {
		for n := range pkg.DevDependencies {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var deps []*pulumirpc.DependencyInfo
	for _, n := range sorted {
		installed, err := os.Open(filepath.Join(dir, "node_modules", n, "package.json"))
		if err != nil {
			continue
		}
		var meta struct {
			Version string `json:"version"`
		}
		_ = json.NewDecoder(bufio.NewReader(installed)).Decode(&meta)
		_ = installed.Close()
		deps = append(deps, &pulumirpc.DependencyInfo{Name: n, Version: meta.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}
