// Command pulumi-language-nodejs is bluegreen's Node.js language host for the Pulumi engine.
//
// Why it exists: the upstream host lives in its own Go module, which the module proxy reachable from our build
// machines does not serve, while the engine (pkg/v3) and the SDK with the gRPC contract (sdk/v3) are served. This
// host implements the parts of the LanguageRuntime contract that running a Node.js program, a Node.js policy pack
// and a Node.js plugin need, by starting the `cmd/run*` entry points that ship inside @pulumi/pulumi itself, and
// gives the program the same inputs and the same failure reports as upstream's host (docs/language-host.md lists
// each one). Code generation, linking and packing need the engine's codegen packages (pkg/v3) and are left out:
// those calls fail with a message that says so.
//
// The engine starts it as `pulumi-language-nodejs [--logtostderr] [-v=N] [--tracing URL] ENGINE_ADDRESS` and reads
// the port it serves on from its first line of standard output.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/shlex"
	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	// The runner inside @pulumi/pulumi that loads the user's program; PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides it,
	// as it does for upstream's host.
	defaultRunPath = "@pulumi/pulumi/cmd/run"

	// exitCodeAlreadyReported is the code @pulumi/pulumi's runner exits with after it has reported the error to the
	// engine itself; the engine must then not print a second, generic error.
	exitCodeAlreadyReported = 32

	// cancelGrace is how long a program may take to stop after SIGINT before it is killed.
	cancelGrace = 5 * time.Second
)

type hostArgs struct {
	engineAddress string
	tracing       string
	runtime       string
}

// parseArgs accepts the flags the engine passes to every plugin and the engine address as the last positional
// argument. Unknown flags are ignored so that a newer engine does not break an older host.
func parseArgs(argv []string) (hostArgs, error) {
	out := hostArgs{runtime: "nodejs"}
	var positional []string
	for i := 0; i < len(argv); i++ {
		arg := argv[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch {
		case !strings.HasPrefix(arg, "-"):
			positional = append(positional, arg)
		case name == "tracing" || name == "runtime":
			if !hasValue && i+1 < len(argv) {
				value = argv[i+1]
				i++
			}
			if name == "tracing" {
				out.tracing = value
			} else {
				out.runtime = value
			}
		default:
			// --logtostderr, -v=N, -root=DIR and future flags carry no meaning for this host.
		}
	}
	if out.runtime != "nodejs" {
		return out, fmt.Errorf("unsupported runtime: %s (bluegreen's language host runs Node.js only)", out.runtime)
	}
	if len(positional) == 0 {
		return out, errors.New("missing required engine RPC address argument")
	}
	out.engineAddress = positional[len(positional)-1]
	return out, nil
}

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version" || os.Args[1] == "version") {
		fmt.Println(version.Version)
		return
	}
	args, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(2)
	}

	// Stop serving on SIGINT or when the engine goes away, so that no host outlives an interrupted `pulumi up`.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	if err := rpcutil.Healthcheck(ctx, args.engineAddress, 5*time.Minute, cancel); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start health check host RPC server: %v\n", err)
		os.Exit(1)
	}
	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		cancel()
		close(cancelChannel)
	}()

	host := newHost(args.engineAddress, args.tracing)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start language host RPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: language host RPC stopped serving: %v\n", err)
		os.Exit(1)
	}
}

type nodeLanguageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string // from the command line, or from Handshake when the engine attaches to a running host
	tracing       string

	// cancelled by the engine's Cancel call (Ctrl-C on `pulumi up`): running programs get SIGINT.
	cancelCtx  context.Context
	cancelFunc context.CancelFunc
}

func newHost(engineAddress, tracing string) *nodeLanguageHost {
	ctx, cancel := context.WithCancel(context.Background())
	return &nodeLanguageHost{engineAddress: engineAddress, tracing: tracing, cancelCtx: ctx, cancelFunc: cancel}
}

func (h *nodeLanguageHost) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

func (h *nodeLanguageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.mu.Lock()
		h.engineAddress = req.GetEngineAddress()
		h.mu.Unlock()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *nodeLanguageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelFunc()
	return &emptypb.Empty{}, nil
}

func (h *nodeLanguageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// GetRequiredPlugins and GetRequiredPackages report nothing: the engine then loads each provider when the program
// first registers a resource of it, at the version the SDK package asks for. That keeps previews from failing on
// providers a stack never uses (this machine cannot download plugins). Upstream scans node_modules instead.
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

// RuntimeOptionsPrompts asks `pulumi new` for a package manager when Pulumi.yaml names none, as upstream does.
func (h *nodeLanguageHost) RuntimeOptionsPrompts(
	_ context.Context, req *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	if _, set := req.GetInfo().GetOptions().AsMap()["packagemanager"]; set {
		return &pulumirpc.RuntimeOptionsResponse{}, nil
	}
	return &pulumirpc.RuntimeOptionsResponse{Prompts: []*pulumirpc.RuntimeOptionPrompt{{
		Key:         "packagemanager",
		Description: "The package manager to use for installing dependencies",
		PromptType:  pulumirpc.RuntimeOptionPrompt_STRING,
		Choices:     plugin.MakeExecutablePromptChoices("npm", "pnpm", "yarn", "bun"),
		Default: &pulumirpc.RuntimeOptionPrompt_RuntimeOptionValue{
			PromptType: pulumirpc.RuntimeOptionPrompt_STRING, StringValue: "npm",
		},
	}}}, nil
}

// Template has nothing to adjust in a Node.js template (upstream's host does nothing either).
func (h *nodeLanguageHost) Template(context.Context, *pulumirpc.TemplateRequest) (*pulumirpc.TemplateResponse, error) {
	return &pulumirpc.TemplateResponse{}, nil
}

// nodeOptions are the `runtime.options` of Pulumi.yaml / PulumiPolicy.yaml / PulumiPlugin.yaml.
type nodeOptions struct {
	typescript     bool   // run .ts through ts-node (default true)
	tsconfigPath   string // tsconfig for ts-node, relative to the program
	nodeargs       string // extra arguments for node, split like a shell would
	packagemanager npm.PackageManagerType
}

// parseOptions reads runtime options with upstream's types and defaults; a value of the wrong type is an error
// naming the option, not a silent default.
func parseOptions(options map[string]any) (nodeOptions, error) {
	out := nodeOptions{typescript: true, packagemanager: npm.AutoPackageManager}
	if v, ok := options["typescript"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return out, fmt.Errorf("typescript option must be a boolean, got %v", v)
		}
		out.typescript = b
	}
	if v, ok := options["tsconfig"]; ok {
		s, isString := v.(string)
		if !isString {
			return out, fmt.Errorf("tsconfigpath option must be a string, got %v", v)
		}
		out.tsconfigPath = s
	}
	if v, ok := options["nodeargs"]; ok {
		s, isString := v.(string)
		if !isString {
			return out, fmt.Errorf("nodeargs option must be a string, got %v", v)
		}
		out.nodeargs = s
	}
	if v, ok := options["packagemanager"]; ok {
		s, isString := v.(string)
		if !isString {
			return out, fmt.Errorf("packagemanager option must be a string, got %v", v)
		}
		switch pm := npm.PackageManagerType(s); pm {
		case npm.AutoPackageManager, npm.NpmPackageManager, npm.YarnPackageManager, npm.PnpmPackageManager,
			npm.BunPackageManager:
			out.packagemanager = pm
		default:
			return out, fmt.Errorf("packagemanager option must be one of auto, npm, yarn, pnpm or bun, got %q", s)
		}
	}
	return out, nil
}

// optionsOf returns the runtime options of a request's program info (none for an engine that sends no info).
func optionsOf(info *pulumirpc.ProgramInfo) map[string]any {
	if info.GetOptions() == nil {
		return map[string]any{}
	}
	return info.GetOptions().AsMap()
}

// locateModule resolves a module such as @pulumi/pulumi/cmd/run the way the program's own require() would (from its
// folder, through node_modules, workspaces and NODE_PATH).
func locateModule(ctx context.Context, module, programDir, nodeBin, installHint string) (string, error) {
	// The nearest node_modules above the program holds it (the common case; @pulumi/pulumi has no "exports" map):
	// that is what require.resolve answers, found without starting node (~60 ms on every preview and update).
	for dir := programDir; dir != ""; {
		local := filepath.Join(dir, "node_modules", filepath.FromSlash(module), "index.js")
		if st, err := os.Stat(local); err == nil && st.Mode().IsRegular() {
			return local, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	script := fmt.Sprintf("try { console.log(require.resolve(%q)); } catch (e) { if (e.code === 'MODULE_NOT_FOUND') "+
		"{ console.error(%q); } else { console.error(e.message); } process.exit(1); }",
		module, "It looks like the Pulumi SDK has not been installed. Have you run "+installHint+"?")
	cmd := exec.CommandContext(ctx, nodeBin, "-e", script)
	cmd.Dir = programDir
	out, err := cmd.Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && len(exitErr.Stderr) > 0 {
			return "", errors.New(strings.TrimSpace(string(exitErr.Stderr)))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// programLocation is where the engine says the program is: its folder, the entry point inside it, and the project root.
type programLocation struct {
	programDir string
	entryPoint string
	rootDir    string
}

func locate(req *pulumirpc.RunRequest) programLocation {
	if info := req.GetInfo(); info != nil {
		return programLocation{info.GetProgramDirectory(), info.GetEntryPoint(), info.GetRootDirectory()}
	}
	// Engines older than ProgramInfo send the working directory and the program path.
	entry := req.GetProgram()
	if entry == "" {
		entry = "."
	}
	return programLocation{req.GetPwd(), entry, ""}
}

// constructArguments builds the runner's command line from a RunRequest; empty values are left out.
func (h *nodeLanguageHost) constructArguments(req *pulumirpc.RunRequest, runPath string, loc programLocation) []string {
	args := []string{runPath}
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine())
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", loc.rootDir)
	add("stack", req.GetStack())
	add("pwd", loc.programDir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", h.tracing)
	entry := loc.entryPoint
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
}

// constructConfig gives the program its stack config as a JSON object (`{}` when the stack has none: the SDK's
// Config cannot read `null`). Keys take the `<namespace>:config:<name>` form, which every SDK version reads.
func constructConfig(req *pulumirpc.RunRequest) (string, error) {
	transformed := make(map[string]string, len(req.GetConfig()))
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return "", err
		}
		transformed[key.Namespace()+":config:"+key.Name()] = v
	}
	out, err := json.Marshal(transformed)
	return string(out), err
}

// constructConfigSecretKeys lists the config keys that hold secrets as a JSON array (`[]` when there are none).
func constructConfigSecretKeys(req *pulumirpc.RunRequest) (string, error) {
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	out, err := json.Marshal(keys)
	return string(out), err
}

// runtimeEnv is what the runner reads besides its arguments: TypeScript on/off and the tsconfig to use.
func runtimeEnv(opts nodeOptions) []string {
	var env []string
	// V8's code cache on disk for the program's modules, loaded before the program can enable it itself (the SDK's
	// run and tracing modules). Node's own default folder, so a program that enables it finds the same cache.
	if os.Getenv("NODE_COMPILE_CACHE") == "" && os.Getenv("NODE_DISABLE_COMPILE_CACHE") == "" {
		env = append(env, "NODE_COMPILE_CACHE="+filepath.Join(os.TempDir(), "node-compile-cache"))
	}
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfigPath != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfigPath)
	}
	return env
}

func (h *nodeLanguageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	fail := func(format string, a ...any) (*pulumirpc.RunResponse, error) {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf(format, a...)}, nil
	}
	loc := locate(req)
	opts, err := parseOptions(optionsOf(req.GetInfo()))
	if err != nil {
		return fail("%v", err)
	}
	if req.GetAttachDebugger() {
		return fail("attaching a debugger is not implemented by bluegreen's language host " +
			"(scripts/toolchain/language-host); run without --attach-debugger, or use the upstream Pulumi CLI")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return fail("could not find node on the $PATH: %v", err)
	}
	runPath := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runPath == "" {
		runPath = defaultRunPath
	}
	runPath, err = locateModule(ctx, runPath, loc.programDir, nodeBin, "pulumi install")
	if err != nil {
		return fail("%v", err)
	}
	configJSON, err := constructConfig(req)
	if err != nil {
		return fail("failed to serialize configuration: %v", err)
	}
	secretKeysJSON, err := constructConfigSecretKeys(req)
	if err != nil {
		return fail("failed to serialize configuration secret keys: %v", err)
	}
	nodeArgs, err := shlex.Split(opts.nodeargs)
	if err != nil {
		return fail("nodeargs option %q: %v", opts.nodeargs, err)
	}
	nodeArgs = append(nodeArgs, h.constructArguments(req, runPath, loc)...)

	env := append(os.Environ(), "PULUMI_CONFIG="+configJSON, "PULUMI_CONFIG_SECRET_KEYS="+secretKeysJSON)
	env = append(env, runtimeEnv(opts)...)

	// The program stops when the engine cancels (Cancel RPC) or the Run call ends: first SIGINT so that the SDK can
	// finish what it reports, then a kill after a grace period.
	cmdCtx, cmdCancel := context.WithCancel(h.cancelCtx)
	defer cmdCancel()
	stopAfter := context.AfterFunc(ctx, cmdCancel)
	defer stopAfter()
	cmd := exec.CommandContext(cmdCtx, nodeBin, nodeArgs...)
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = cancelGrace
	cmd.Dir = loc.programDir
	cmd.Env = env
	// Node may switch its stdout to non-blocking mode: hand it a pipe (through a wrapper), never our own descriptor.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	sniffer := newOOMSniffer()
	cmd.Stderr = io.MultiWriter(struct{ io.Writer }{os.Stderr}, sniffer)

	runErr := cmd.Run()
	if runErr == nil {
		return &pulumirpc.RunResponse{}, nil
	}
	var exitErr *exec.ExitError
	if !errors.As(runErr, &exitErr) {
		return fail("Problem executing program (could not run language executor): %v", runErr)
	}
	switch code := exitErr.ExitCode(); code {
	case exitCodeAlreadyReported:
		// The SDK has shown the user an actionable message already: end the update without another one.
		return &pulumirpc.RunResponse{Bail: true}, nil
	case 0:
		return fail("Program exited unexpectedly: %v", exitErr)
	default:
		if sniffer.detected() {
			return fail("Program exited with non-zero exit code: %d. %s", code, oomAdvice)
		}
		// A program killed by a signal reports -1, as upstream's host does.
		return fail("Program exited with non-zero exit code: %d", code)
	}
}

const oomAdvice = "Detected a possible out of memory error. Consider increasing the memory available to the " +
	"nodejs process by setting the `nodeargs` runtime option in Pulumi.yaml to " +
	"`nodeargs: --max-old-space-size=<size>` where `<size>` is the maximum memory in megabytes that can be " +
	"allocated to nodejs. See https://www.pulumi.com/docs/concepts/projects/project-file/#runtime-options"

// oomSniffer watches a program's stderr, line by line, for V8's out-of-memory report.
type oomSniffer struct {
	mu      sync.Mutex
	partial []byte
	found   bool
}

func newOOMSniffer() *oomSniffer { return &oomSniffer{} }

func (s *oomSniffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.found {
		return len(p), nil
	}
	s.partial = append(s.partial, p...)
	scanner := bufio.NewScanner(strings.NewReader(string(s.partial)))
	for scanner.Scan() {
		line := scanner.Text()
		if strings.Contains(line, "<--- Last few GCs --->") ||
			strings.Contains(line, "Check failed: needs_context && current_scope_ == closure_scope_") {
			s.found = true
			s.partial = nil
			return len(p), nil
		}
	}
	// Keep only the unfinished last line for the next write.
	if i := strings.LastIndexByte(string(s.partial), '\n'); i >= 0 {
		s.partial = append([]byte(nil), s.partial[i+1:]...)
	}
	return len(p), nil
}

func (s *oomSniffer) detected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.found
}

// RunPlugin starts a policy pack (kind "analyzer") or a Node.js plugin with the runner that @pulumi/pulumi ships for
// it, and streams its output back; the engine reads the plugin's port from that output. A policy pack is first
// shown to the engine through sdk/v3's PolicyProxy, which collects the stack's organization, project, stack, dry-run
// flag and config, so that the pack sees them in its environment as it does under upstream's host.
func (h *nodeLanguageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	ctx := server.Context()
	info := req.GetInfo()
	if info == nil {
		return status.Error(codes.InvalidArgument, "RunPlugin needs program info")
	}
	programDir := info.GetProgramDirectory()
	opts, err := parseOptions(optionsOf(info))
	if err != nil {
		return err
	}
	if req.GetAttachDebugger() {
		return errors.New("attaching a debugger is not implemented by bluegreen's language host")
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	isPolicyPack := req.GetKind() == "analyzer"
	runPath := "@pulumi/pulumi/cmd/run-policy-pack"
	if !isPolicyPack {
		runPath = os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
		if runPath == "" {
			runPath = "@pulumi/pulumi/cmd/run-plugin"
		}
	}
	runPath, err = locateModule(ctx, runPath, programDir, nodeBin, "npm install in "+programDir)
	if err != nil {
		return err
	}

	nodeArgs, err := shlex.Split(opts.nodeargs)
	if err != nil {
		return fmt.Errorf("nodeargs option %q: %w", opts.nodeargs, err)
	}
	// node's own arguments come before the runner (upstream passes them after it, where the runner ignores them).
	nodeArgs = append(nodeArgs, runPath)
	// The policy runner takes the engine's arguments and then the pack; the plugin runner the plugin and then its
	// arguments.
	if isPolicyPack {
		nodeArgs = append(append(nodeArgs, req.GetArgs()...), programDir)
	} else {
		nodeArgs = append(append(nodeArgs, programDir), req.GetArgs()...)
	}
	env := append(append(os.Environ(), req.GetEnv()...), runtimeEnv(opts)...)

	var proxy *sdk.PolicyProxy
	if isPolicyPack {
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start policy pack proxy: %w", err)
		}
		stack, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get stack configuration: %w", err)
		}
		env = append(env, policyPackEnv(stack)...)
	}

	cmd := exec.CommandContext(ctx, nodeBin, nodeArgs...)
	// Policy packs have always run in their own folder; other plugins in the engine's working directory.
	cmd.Dir = req.GetPwd()
	if isPolicyPack || cmd.Dir == "" {
		cmd.Dir = programDir
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		if proxy != nil {
			proxy.Abort(err)
		}
		return fmt.Errorf("Problem executing plugin program (could not run language executor): %w", err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd) // waits for the pack to exit
	} else {
		err = cmd.Wait()
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("Program exited with non-zero exit code: %d", exitErr.ExitCode())
		}
		return err
	}
	return closer.Close()
}

// policyPackEnv is the stack information a Node.js policy pack reads from its environment.
func policyPackEnv(stack *pulumirpc.AnalyzerStackConfigureRequest) []string {
	if stack == nil {
		return nil
	}
	var env []string
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add("PULUMI_NODEJS_ORGANIZATION", stack.GetOrganization())
	add("PULUMI_NODEJS_PROJECT", stack.GetProject())
	add("PULUMI_NODEJS_STACK", stack.GetStack())
	add("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(stack.GetDryRun()))
	if stack.GetConfig() != nil {
		if raw, err := json.Marshal(stack.GetConfig()); err == nil {
			add("PULUMI_CONFIG", string(raw))
		}
	}
	return env
}

// InstallDependencies installs with the project's package manager (the `packagemanager` option, or the one its
// lock file belongs to: npm, yarn, pnpm or bun), at the workspace root when the program is part of a workspace.
func (h *nodeLanguageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	dir := req.GetDirectory()
	if info := req.GetInfo(); info != nil && info.GetProgramDirectory() != "" {
		dir = info.GetProgramDirectory()
	}
	opts, err := parseOptions(optionsOf(req.GetInfo()))
	if err != nil {
		return fmt.Errorf("failed to parse options: %w", err)
	}
	fmt.Fprint(stdout, "Installing dependencies...\n\n")
	root := dir
	if workspace, err := npm.FindWorkspaceRoot(dir); err == nil {
		fmt.Fprintf(stdout, "Detected workspace root at %s\n", workspace)
		root = workspace
	} else if !errors.Is(err, npm.ErrNotInWorkspace) {
		return fmt.Errorf("failure while trying to find workspace root: %w", err)
	}
	if _, err := npm.Install(server.Context(), opts.packagemanager, root, false, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprint(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

func (h *nodeLanguageHost) About(_ context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	opts, err := parseOptions(optionsOf(req.GetInfo()))
	if err != nil {
		return nil, fmt.Errorf("failed to parse options: %w", err)
	}
	nodePath, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find executable %q: %w", "node", err)
	}
	resp := &pulumirpc.AboutResponse{Executable: nodePath, Metadata: map[string]string{}}
	if out, err := exec.Command(nodePath, "--version").Output(); err == nil {
		resp.Version = strings.TrimSpace(string(out))
	}
	if pm, err := npm.ResolvePackageManager(opts.packagemanager, req.GetInfo().GetProgramDirectory()); err == nil {
		resp.Metadata["packagemanager"] = pm.Name()
		if v, err := packageManagerVersion(pm); err == nil {
			resp.Metadata["packagemanagerVersion"] = v
		}
	}
	return resp, nil
}

// packageManagerVersion is `<pm> --version`, which the engine asks for in every preview and update (About, for the
// update's metadata): starting npm costs ~150 ms each time. The answer is kept per executable (path, size and
// modification time) in the user's cache folder.
func packageManagerVersion(pm npm.PackageManager) (string, error) {
	exe, err := exec.LookPath(pm.Name())
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	st, err := os.Stat(exe)
	if err != nil {
		return "", err
	}
	var cacheFile string
	if dir, err := os.UserCacheDir(); err == nil {
		key := fmt.Sprintf("%s|%d|%d", exe, st.Size(), st.ModTime().UnixNano())
		cacheFile = filepath.Join(dir, "bluegreen", "language-host",
			fmt.Sprintf("%s-version-%x", pm.Name(), sha256.Sum256([]byte(key))))
		if b, err := os.ReadFile(cacheFile); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
	}
	v, err := pm.Version()
	if err != nil {
		return "", err
	}
	if cacheFile != "" {
		// Written then renamed: a concurrent reader sees the whole answer or none. A failure only costs speed.
		if err := os.MkdirAll(filepath.Dir(cacheFile), 0o755); err == nil {
			tmp := fmt.Sprintf("%s.%d.tmp", cacheFile, os.Getpid())
			if os.WriteFile(tmp, []byte(v.String()), 0o644) == nil {
				_ = os.Rename(tmp, cacheFile)
			}
		}
	}
	return v.String(), nil
}

// GetProgramDependencies lists the program's packages from its package manager's lock file (direct dependencies,
// or all of them when asked for transitive ones), as upstream does.
func (h *nodeLanguageHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetPwd()
	if info := req.GetInfo(); info != nil && info.GetProgramDirectory() != "" {
		dir = info.GetProgramDirectory()
	}
	opts, err := parseOptions(optionsOf(req.GetInfo()))
	if err != nil {
		return nil, fmt.Errorf("failed to parse options: %w", err)
	}
	pm, err := npm.ResolvePackageManager(opts.packagemanager, dir)
	if err != nil {
		return nil, fmt.Errorf("failed to determine package manager: %w", err)
	}
	packages, err := pm.ListPackages(ctx, dir, req.GetTransitiveDependencies())
	if err != nil {
		return nil, fmt.Errorf("failed to get node dependencies: %w", err)
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(packages))
	for _, p := range packages {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// notImplemented is the error for the parts of upstream's host that need the engine's code generators.
func notImplemented(what, commands string) error {
	return status.Errorf(codes.Unimplemented,
		"%s is not implemented by bluegreen's language host (scripts/toolchain/language-host), so %s cannot run "+
			"with it: use the Pulumi CLI from https://www.pulumi.com/docs/install/, which ships the upstream "+
			"pulumi-language-nodejs",
		what, commands)
}

func (h *nodeLanguageHost) GenerateProgram(
	context.Context, *pulumirpc.GenerateProgramRequest,
) (*pulumirpc.GenerateProgramResponse, error) {
	return nil, notImplemented("TypeScript code generation", "`pulumi convert` and the code `pulumi import` writes")
}

func (h *nodeLanguageHost) GenerateProject(
	context.Context, *pulumirpc.GenerateProjectRequest,
) (*pulumirpc.GenerateProjectResponse, error) {
	return nil, notImplemented("TypeScript project generation", "`pulumi convert --language typescript`")
}

func (h *nodeLanguageHost) GeneratePackage(
	context.Context, *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	return nil, notImplemented("Node.js SDK generation", "`pulumi package gen-sdk` and `pulumi package add`")
}

func (h *nodeLanguageHost) Link(context.Context, *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	return nil, notImplemented("linking a generated SDK", "`pulumi package add`")
}

func (h *nodeLanguageHost) Pack(context.Context, *pulumirpc.PackRequest) (*pulumirpc.PackResponse, error) {
	return nil, notImplemented("packing an SDK", "`pulumi package pack-sdk` and `pulumi package publish`")
}
