package evalproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestFrames(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	for _, m := range []string{"{}", "", `{"check":{"file":"t.cue"}}`} {
		if err := writeFrame(&buf, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"{}", "", `{"check":{"file":"t.cue"}}`} {
		got, err := readFrame(&buf, 100)
		if err != nil || string(got) != want {
			t.Fatalf("readFrame = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readFrame(&buf, 100); !errors.Is(err, io.EOF) {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"cut header", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"cut body", []byte{0, 0, 0, 5, 'a'}, io.ErrUnexpectedEOF},
		{"over the limit", binary.BigEndian.AppendUint32(nil, 101), ErrFrameTooLarge},
		{"over 4 GiB", []byte{0xff, 0xff, 0xff, 0xff}, ErrFrameTooLarge},
	}
	for _, tt := range tests {
		if _, err := readFrame(bytes.NewReader(tt.in), 100); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := writeFrame(io.Discard, make([]byte, MaxFrameSize+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("writing past MaxFrameSize: %v", err)
	}
	var v map[string]any
	for _, bad := range []string{`{} {}`, `{`, `{} x`} {
		if err := decodeMessage([]byte(bad), &v); err == nil {
			t.Errorf("decodeMessage(%q) succeeded", bad)
		}
	}
}

// FuzzFrames reads frames from arbitrary bytes and decodes each as both
// sides do: nothing may panic, no frame may pass the limit, and a frame
// read must write back to the same bytes.
func FuzzFrames(f *testing.F) {
	frame := func(msgs ...string) []byte {
		var buf bytes.Buffer
		for _, m := range msgs {
			_ = writeFrame(&buf, []byte(m))
		}
		return buf.Bytes()
	}
	f.Add(frame("{}"))
	f.Add(binary.BigEndian.AppendUint32(nil, 1<<20))
	f.Add(frame(`{"memoryLimit":1}`, `{"error":{"kind":"validation","problems":[{"File":"t","Line":1}]}}`))
	f.Add(frame(`{"error":{"kind":"tooLarge","message":"m"}}`, `{"rendered":{"Output":{"n":1e999},"Outputs":[{"Name":"x"}]}}`))
	f.Add(frame(`{"render":{"parameters":{"a":[1,{"b":null}]}}}`, `{"check":{"file":"t","source":"eA=="}}`))
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			frame, err := readFrame(r, limit)
			if err != nil {
				return
			}
			if len(frame) > limit {
				t.Fatalf("frame of %d bytes passed the limit", len(frame))
			}
			var out bytes.Buffer
			if err := writeFrame(&out, frame); err != nil || !bytes.Equal(out.Bytes()[frameHeader:], frame) {
				t.Fatalf("frame does not write back: %v", err)
			}
			var resp response
			if decodeMessage(frame, &resp) == nil && resp.Error != nil {
				_ = resp.Error.err().Error()
			}
			var req request
			_ = decodeMessage(frame, &req)
			var h hello
			_ = decodeMessage(frame, &h)
		}
	})
}
