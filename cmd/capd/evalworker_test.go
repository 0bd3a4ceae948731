package main

import (
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/capcenter/capcenter/capabilities/evalproc"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// TestMain lets this test binary stand in for capd's executable: capd
// starts its evaluation workers as itself with the eval-worker argument,
// which under test is this binary, and then it runs capd's main.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == evalWorkerCommand {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseEvalArgs(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{"defaults", nil, nil, func(c config) bool {
			return c.evalWorkers == runtime.GOMAXPROCS(0) && c.evalMemory == evalproc.DefaultMemoryLimit
		}, ""},
		{"flags", []string{"--eval-workers", "0", "--eval-memory", "512MiB"}, nil,
			func(c config) bool { return c.evalWorkers == 0 && c.evalMemory == 512<<20 }, ""},
		{"env", nil, map[string]string{"CAPD_EVAL_WORKERS": "3", "CAPD_EVAL_MEMORY": "1GiB"},
			func(c config) bool { return c.evalWorkers == 3 && c.evalMemory == 1<<30 }, ""},
		{"bad workers", nil, map[string]string{"CAPD_EVAL_WORKERS": "-1"}, nil, "CAPD_EVAL_WORKERS"},
		{"bad memory", []string{"--eval-memory", "lots"}, nil, nil, "positive size"},
		{"eval-worker reads no variable", []string{"eval-worker"}, map[string]string{"CAPD_LOG_LEVEL": "loud"},
			func(c config) bool { return c.command == evalWorkerCommand }, ""},
		{"eval-worker takes no argument", []string{"eval-worker", "--data", "/d"}, nil, nil, "no arguments"},
		{"reindex has no workers", []string{"reindex", "--eval-workers", "2"}, nil, nil, "eval-workers"},
	})
}

// TestServeEvaluatesInWorkers serves with evaluation workers (this test
// binary run as `capd eval-worker`): seeding validates every built-in
// bundle in them, and a render goes through them too.
func TestServeEvaluatesInWorkers(t *testing.T) {
	t.Parallel()
	cfg := config{
		command: "serve", data: t.TempDir(), grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0",
		seedBuiltin: true, logLevel: slog.LevelDebug, shutdownTimeout: 5 * time.Second,
		evalWorkers: 1, evalMemory: 512 << 20,
	}
	s := serveInBackground(t, cfg)
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	params, _ := structpb.NewStruct(map[string]any{"image": "nginx:1.27"})
	r, err := capcenterv1.NewCapabilityServiceClient(conn).RenderTemplate(t.Context(), &capcenterv1.RenderTemplateRequest{
		Name: "capabilities/webservice/versions/latest", Parameters: params,
	})
	if err != nil || len(r.GetObjects()) == 0 {
		t.Errorf("RenderTemplate = %v, %v", r, err)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("run after cancel = %v (logs: %s)", err, s.logs.String())
	}
	if started := strings.Count(s.logs.String(), "eval worker started"); started != 1 {
		t.Errorf("%d eval workers started, want 1 reused for every evaluation (logs: %s)", started, s.logs.String())
	}
}
