package evalproc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxFrameSize bounds one message between the pool and a worker, either
// way: room for a template and parameters at their default limits, or for
// a render result far larger than a gRPC answer may be.
const MaxFrameSize = 64 << 20

// frameHeader is the size of a frame's length prefix.
const frameHeader = 4

// ErrFrameTooLarge is wrapped when a frame declares, or a message needs,
// more than the bound of the side reading or writing it.
var ErrFrameTooLarge = errors.New("frame too large")

// writeFrame writes data as one frame: its length as a 4-byte big-endian
// number, then the bytes, in a single Write. It fails with
// ErrFrameTooLarge when data is over MaxFrameSize, writing nothing.
func writeFrame(w io.Writer, data []byte) error {
	if len(data) > MaxFrameSize {
		return fmt.Errorf("%d bytes, more than %d: %w", len(data), MaxFrameSize, ErrFrameTooLarge)
	}
	buf := make([]byte, frameHeader, frameHeader+len(data))
	binary.BigEndian.PutUint32(buf, uint32(len(data)))
	_, err := w.Write(append(buf, data...))
	return err
}

// readFrame reads one frame of at most limit bytes. It fails with io.EOF
// when r ends before the frame starts, io.ErrUnexpectedEOF when it ends
// within one, and ErrFrameTooLarge, having read only the length, when the
// frame declares more than limit.
func readFrame(r io.Reader, limit int) ([]byte, error) {
	var head [frameHeader]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("%d bytes declared, more than %d: %w", n, limit, ErrFrameTooLarge)
	}
	// Read through a buffer that grows with what arrives, so that a frame
	// cut short never costs its declared size.
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeMessage writes v as one frame of JSON.
func writeMessage(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFrame(w, data)
}

// readMessage reads one frame of at most limit bytes and decodes its JSON
// into v, as decodeMessage does.
func readMessage(r io.Reader, limit int, v any) error {
	data, err := readFrame(r, limit)
	if err != nil {
		return err
	}
	return decodeMessage(data, v)
}

// decodeMessage decodes one message's JSON into v, numbers in untyped
// places as json.Number (as the capabilities package keeps them), and
// fails when anything follows the value.
func decodeMessage(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("message: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("message: data after the value")
	}
	return nil
}
