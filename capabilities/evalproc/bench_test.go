package evalproc_test

import (
	"testing"
	"time"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/evalproc"
)

// BenchmarkEvaluators checks and renders the webservice template in
// process and through a pool of one warm worker, to show what a process
// boundary costs an evaluation.
func BenchmarkEvaluators(b *testing.B) {
	for _, bc := range []struct {
		name string
		ev   func(*testing.B) capabilities.Evaluator
	}{
		{"InProcess", func(*testing.B) capabilities.Evaluator { return capabilities.InProcess{} }},
		{"Pool", func(b *testing.B) capabilities.Evaluator { return newPool(b, evalproc.Config{Workers: 1}) }},
	} {
		b.Run(bc.name+"/Check", func(b *testing.B) {
			ev := bc.ev(b)
			web := loadBuiltin(b, "webservice", capabilities.Limits{})
			req := capabilities.CheckRequest{File: capabilities.TemplateFile, Source: web.Template, Timeout: time.Minute}
			for b.Loop() {
				if _, err := ev.Check(b.Context(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/Render", func(b *testing.B) {
			ev := bc.ev(b)
			web := loadBuiltin(b, "webservice", capabilities.Limits{})
			params, err := web.Example("exposed")
			if err != nil {
				b.Fatal(err)
			}
			opts := capabilities.RenderOptions{Parameters: params, Limits: capabilities.Limits{Evaluator: ev}}
			for b.Loop() {
				if _, err := web.Render(b.Context(), opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkColdWorker checks the webservice template on a worker started
// for it: what replacing a killed worker adds to the next evaluation.
func BenchmarkColdWorker(b *testing.B) {
	web := loadBuiltin(b, "webservice", capabilities.Limits{})
	req := capabilities.CheckRequest{File: capabilities.TemplateFile, Source: web.Template, Timeout: time.Minute}
	for b.Loop() {
		pool := newPool(b, evalproc.Config{Workers: 1})
		if _, err := pool.Check(b.Context(), req); err != nil {
			b.Fatal(err)
		}
		_ = pool.Close()
	}
}
