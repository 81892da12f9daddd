package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// framer cuts one connection's bytes into frames of either RFC 6587 framing, deciding
// per frame (see doc.go). Its bufio.Reader of MaxMessageBytes plus frameSlack is the
// only buffer a connection has: frames are handed out as slices of it, and oversized
// ones are discarded through it without ever being held whole.
type framer struct {
	r        *bufio.Reader
	max      int
	consume  int  // bytes of the last frame (or of a skipped one) still to discard
	skipLine bool // an oversized newline-terminated frame is being discarded
}

// frameSlack leaves room for a CR and the terminator after a frame of max bytes.
const frameSlack = 16

// maxLenDigits bounds an octet count: nine digits are enough to skip any frame a
// sender could mean, and a longer "count" is not a count.
const maxLenDigits = 9

var (
	// errOversized: a frame over MaxMessageBytes was skipped; the connection goes on.
	errOversized = errors.New("frame over MaxMessageBytes")
	// errFraming: an octet count that is not a number; nothing after it can be framed.
	errFraming = errors.New("octet count is not a number")
	// errTruncated: the connection ended (or timed out) inside a frame.
	errTruncated = errors.New("connection ended inside a frame")
)

func newFramer(r io.Reader, max int) *framer {
	return &framer{r: bufio.NewReaderSize(r, max+frameSlack), max: max}
}

// next returns the next frame, valid until the following call. After errOversized next
// may be called again; any other error ends the connection: the reader's own error
// (io.EOF, a timeout) between frames, errFraming, or errTruncated inside a frame.
func (f *framer) next() ([]byte, error) {
	if err := f.discard(); err != nil {
		return nil, err
	}
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, err
		}
		switch {
		case c == '\n' || c == '\r' || c == 0 || c == ' ' || c == '\t':
			continue // between frames: CRLF, NUL after LF, LF after an octet-counted frame
		case isDigit(c):
			return f.octetCounted(c)
		default:
			_ = f.r.UnreadByte()
			return f.terminated()
		}
	}
}

// octetCounted reads "MSG-LEN SP MSG" (RFC 6587 §3.4.1) after MSG-LEN's first digit.
func (f *framer) octetCounted(first byte) ([]byte, error) {
	if first == '0' { // MSG-LEN = NONZERO-DIGIT *DIGIT
		return nil, errFraming
	}
	n := int(first - '0')
	for digits := 1; ; digits++ {
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, truncated(err)
		}
		if c == ' ' {
			break
		}
		if !isDigit(c) || digits == maxLenDigits {
			return nil, errFraming
		}
		n = n*10 + int(c-'0')
	}
	f.consume = n
	if n > f.max {
		return nil, errOversized
	}
	b, err := f.r.Peek(n)
	if err != nil {
		f.consume = 0
		return nil, truncated(err)
	}
	return b, nil
}

// terminated reads a frame ended by LF or NUL (RFC 6587 §3.4.2), dropping a CR before
// the terminator. It scans only bytes it has not scanned yet, so a sender trickling a
// byte at a time costs linear work.
func (f *framer) terminated() ([]byte, error) {
	scanned := 0
	for {
		buf, _ := f.r.Peek(f.r.Buffered())
		if i := indexTerminator(buf[scanned:]); i >= 0 {
			end := scanned + i
			f.consume = end + 1
			frame := bytes.TrimSuffix(buf[:end], []byte{'\r'})
			if len(frame) > f.max {
				return nil, errOversized
			}
			return frame, nil
		}
		scanned = len(buf)
		if scanned > f.max+1 { // no terminator can come soon enough
			f.skipLine = true
			return nil, errOversized
		}
		if _, err := f.r.Peek(scanned + 1); err != nil {
			return nil, truncated(err)
		}
	}
}

// discard drops what is left of the previous frame before the next one is read.
func (f *framer) discard() error {
	if n := f.consume; n > 0 {
		f.consume = 0
		if _, err := f.r.Discard(n); err != nil {
			return err
		}
	}
	for f.skipLine {
		buf, _ := f.r.Peek(f.r.Buffered())
		if i := indexTerminator(buf); i >= 0 {
			_, _ = f.r.Discard(i + 1)
			f.skipLine = false
			break
		}
		_, _ = f.r.Discard(len(buf))
		if _, err := f.r.Peek(1); err != nil {
			return err
		}
	}
	return nil
}

// indexTerminator is the index of the first LF or NUL in b, or -1.
func indexTerminator(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.IndexByte(b, 0)
	}
	if z := bytes.IndexByte(b[:i], 0); z >= 0 {
		return z
	}
	return i
}

func truncated(err error) error { return fmt.Errorf("%w: %w", errTruncated, err) }
