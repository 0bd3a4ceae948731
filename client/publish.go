package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// maxManifestSize bounds an OCI manifest sent or received, as capd does.
const maxManifestSize = 4 << 20

// Publish packs b and publishes it. It returns the version as stored and
// whether this call created it: created is false when identical content
// was already published under the version. It fails with ErrAlreadyExists
// when the version holds other content, ErrInvalidArgument listing what is
// wrong with a bundle the server refuses, ErrResourceExhausted when the
// bundle exceeds a server limit, ErrPermissionDenied or ErrUnauthenticated
// when the caller may not publish the name, and the packing error when b
// cannot be packed. When the server is busy (ResourceExhausted with a
// retry delay: no publish slot free, or the token over its rate) it tries
// again after that delay, up to five times, then fails with
// ErrResourceExhausted.
func (c *Client) Publish(ctx context.Context, b *capabilities.Bundle) (*capcenterv1.Version, bool, error) {
	staged := memory.New()
	desc, err := capabilities.Pack(ctx, staged, b)
	if err != nil {
		return nil, false, fmt.Errorf("%s: pack: %w", Ref(b.Metadata.Name, b.Metadata.Version), err)
	}
	return c.PublishContent(ctx, staged, desc)
}

// PublishContent publishes a bundle already packed into src, whose image
// manifest manifest describes: it streams the manifest, then the config and
// every layer in manifest order. It returns and fails like Publish, and
// with src's error when src lacks a blob or a blob does not match its
// descriptor.
func (c *Client) PublishContent(ctx context.Context, src content.Fetcher, manifest ocispec.Descriptor) (*capcenterv1.Version, bool, error) {
	subject := manifest.Digest.String()
	if manifest.Size > maxManifestSize {
		return nil, false, fmt.Errorf("%s: %w: manifest of %d bytes, more than %d", subject, ErrInvalidArgument, manifest.Size, maxManifestSize)
	}
	raw, err := content.FetchAll(ctx, src, manifest)
	if err != nil {
		return nil, false, fmt.Errorf("%s: manifest: %w", subject, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false, fmt.Errorf("%s: %w: manifest: %w", subject, ErrInvalidArgument, err)
	}
	if name := m.Annotations[ocispec.AnnotationTitle]; name != "" {
		subject = Ref(name, m.Annotations[ocispec.AnnotationVersion])
	}
	blobs := append([]ocispec.Descriptor{m.Config}, m.Layers...)
	var total int64
	for _, d := range blobs {
		total += d.Size
	}
	tr := c.startTransfer("push "+subject, total)
	resp, err := c.publish(ctx, subject, src, raw, blobs, tr)
	for waited := time.Duration(0); ; {
		var busy *busyError
		if !errors.As(err, &busy) {
			break
		}
		// The server had no publish slot free and said when to come back;
		// clients turned away together spread out instead of all coming
		// back at the same moment to be turned away again.
		delay := jitter(min(busy.delay, maxRetryDelay))
		if waited += delay; waited > maxPublishWait {
			break
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			tr.Done(ctx.Err())
			return nil, false, fmt.Errorf("%s: %w", subject, ctx.Err())
		case <-timer.C:
		}
		resp, err = c.publish(ctx, subject, src, raw, blobs, tr)
	}
	tr.Done(err)
	if err != nil {
		return nil, false, err
	}
	return resp.GetVersion(), resp.GetCreated(), nil
}

// A publish the server turns away for want of a free slot, answering
// ResourceExhausted with a RetryInfo, is tried again after the delay it
// names (at most maxRetryDelay, plus up to half of it at random), for as
// long as the waits add up to at most maxPublishWait: a count of retries
// gave up within seconds when many writers shared a few slots.
const (
	maxPublishWait = 30 * time.Second
	maxRetryDelay  = 5 * time.Second
)

// jitter returns d lengthened by up to a half, at random.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/2+1)
}

// busyError is a ResourceExhausted answer carrying a retry delay; it
// unwraps to the error the caller sees when retries run out.
type busyError struct {
	delay time.Duration
	err   error
}

func (e *busyError) Error() string { return e.err.Error() }
func (e *busyError) Unwrap() error { return e.err }

// retryDelay finds the RetryInfo of a ResourceExhausted status error.
func retryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// publish runs one PublishBundle stream.
func (c *Client) publish(ctx context.Context, subject string, src content.Fetcher, manifest []byte, blobs []ocispec.Descriptor, tr Tracker) (*capcenterv1.PublishBundleResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream when sending fails on our side
	stream, err := c.rpc.PublishBundle(ctx, callOptions()...)
	if err != nil {
		return nil, wrapStatus(ctx, subject, err)
	}
	header := &capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Header{
		Header: &capcenterv1.PublishHeader{Manifest: manifest},
	}}
	err = stream.Send(header)
	if err == nil {
		err = c.sendBlobs(ctx, stream, src, blobs, tr)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// io.EOF from Send means the server ended the stream: its status comes
	// with CloseAndRecv.
	resp, err := stream.CloseAndRecv()
	if d, ok := retryDelay(err); ok {
		return nil, &busyError{delay: d, err: wrapStatus(ctx, subject, err)}
	}
	return resp, wrapStatus(ctx, subject, err)
}

// sendBlobs streams the bytes of blobs, read from src and verified against
// their descriptors, as chunks of c.chunkSize (a chunk may span blobs).
// It returns io.EOF when the server has ended the stream.
func (c *Client) sendBlobs(ctx context.Context, stream capcenterv1.CapabilityService_PublishBundleClient, src content.Fetcher, blobs []ocispec.Descriptor, tr Tracker) error {
	w := &chunkWriter{buf: make([]byte, 0, c.chunkSize), send: func(b []byte) error {
		err := stream.Send(&capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Chunk{Chunk: b}})
		if err == nil {
			tr.Add(len(b))
		}
		return err
	}}
	for _, d := range blobs {
		if err := copyBlob(ctx, w, src, d); err != nil {
			return err
		}
	}
	return w.flush()
}

// copyBlob writes the content of d from src to w, failing when it does not
// match d.
func copyBlob(ctx context.Context, w io.Writer, src content.Fetcher, d ocispec.Descriptor) error {
	rc, err := src.Fetch(ctx, d)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Digest, err)
	}
	defer rc.Close()
	vr := content.NewVerifyReader(rc, d)
	if _, err := io.Copy(w, vr); err != nil {
		return fmt.Errorf("%s: %w", d.Digest, err)
	}
	if err := vr.Verify(); err != nil {
		return fmt.Errorf("%s: %w", d.Digest, err)
	}
	return nil
}

// chunkWriter gathers writes into chunks of cap(buf) bytes and sends each
// full one. Errors from send are returned as they are.
type chunkWriter struct {
	buf  []byte
	send func([]byte) error
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:n]...)
		p = p[n:]
		written += n
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// flush sends what is gathered, if anything. The sent message keeps its own
// copy: gRPC may hold the bytes after Send returns.
func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	chunk := make([]byte, len(w.buf))
	copy(chunk, w.buf)
	w.buf = w.buf[:0]
	return w.send(chunk)
}
