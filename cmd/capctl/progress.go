package main

import (
	"io"
	"os"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/capcenter/capcenter/client"
)

// minProgressSize is the smallest transfer that gets a progress bar.
const minProgressSize = 1 << 20

// progressBars returns a ProgressFunc drawing a bar on w for every
// transfer over minProgressSize, or nil when w is not a terminal.
func progressBars(w io.Writer) client.ProgressFunc {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(label string, total int64) client.Tracker {
		if total <= minProgressSize {
			return nil
		}
		return newBar(w, label, total)
	}
}

// bar is a Tracker drawing one mpb bar; its container ends with it.
type bar struct {
	p   *mpb.Progress
	bar *mpb.Bar
}

func newBar(w io.Writer, label string, total int64) *bar {
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithAutoRefresh())
	b := p.AddBar(total,
		mpb.PrependDecorators(decor.Name(label, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Counters(decor.SizeB1024(0), "% .1f / % .1f"), decor.Percentage(decor.WCSyncSpace)),
	)
	return &bar{p: p, bar: b}
}

func (b *bar) Add(n int) { b.bar.IncrBy(n) }

// Done completes the bar, or on error leaves it where it stopped, and waits
// until it is drawn.
func (b *bar) Done(err error) {
	if err != nil {
		b.bar.Abort(false)
	} else {
		b.bar.SetTotal(-1, true)
	}
	b.p.Wait()
}
