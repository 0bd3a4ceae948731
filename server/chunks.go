package server

import (
	"errors"
	"io"
)

// chunkReader reads the concatenated chunks of a stream: next returns the
// next chunk, io.EOF at the end of the stream, or the stream's error.
type chunkReader struct {
	next func() ([]byte, error)
	buf  []byte
	// read counts the bytes handed out.
	read int64
}

// Read implements io.Reader. An empty chunk is skipped.
func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		chunk, err := r.next()
		if err != nil {
			return 0, err
		}
		r.buf = chunk
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	r.read += int64(n)
	return n, nil
}

// chunkWriter cuts what is written to it into chunks of ChunkSize bytes,
// each passed to send; Flush sends what is left.
type chunkWriter struct {
	send func([]byte) error
	buf  []byte
}

func newChunkWriter(send func([]byte) error) *chunkWriter {
	return &chunkWriter{send: send, buf: make([]byte, 0, ChunkSize)}
}

// Write implements io.Writer. It fails with send's error.
func (w *chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), ChunkSize-len(w.buf))
		w.buf = append(w.buf, p[:n]...)
		p, written = p[n:], written+n
		if len(w.buf) == ChunkSize {
			if err := w.Flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// ReadFrom implements io.ReaderFrom, so io.Copy reads straight into the
// chunk being filled instead of through a buffer of its own. It fails with
// r's error or send's.
func (w *chunkWriter) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		n, err := r.Read(w.buf[len(w.buf):cap(w.buf)])
		w.buf = w.buf[:len(w.buf)+n]
		total += int64(n)
		if len(w.buf) == cap(w.buf) {
			if ferr := w.Flush(); ferr != nil {
				return total, ferr
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			return total, nil
		case err != nil:
			return total, err
		}
	}
}

// Flush sends the bytes not sent yet, if any. The chunk passed to send is
// not reused, so send may keep it.
func (w *chunkWriter) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	chunk := w.buf
	w.buf = make([]byte, 0, ChunkSize)
	return w.send(chunk)
}

var (
	_ io.Reader = (*chunkReader)(nil)
	_ io.Writer = (*chunkWriter)(nil)
)
