package editortest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Framing is how a peer frames its messages.
type Framing int

// The framings.
const (
	// LSP is Content-Length headers (codex-auth serve); every message
	// the editor sends carries "jsonrpc": "2.0".
	LSP Framing = iota
	// JSONLines is one JSON object per line without the "jsonrpc"
	// member, as the Codex app-server speaks. Lines that are not JSON
	// are skipped (Codex may log).
	JSONLines
)

// frame returns body framed for sending.
func (f Framing) frame(body []byte) []byte {
	if f == JSONLines {
		return append(append(make([]byte, 0, len(body)+1), body...), '\n')
	}
	return append([]byte("Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"), body...)
}

// read reads the next body in framing f.
func (f Framing) read(r *bufio.Reader) ([]byte, error) {
	if f == JSONLines {
		return readLine(r)
	}
	return ReadFrame(r)
}

// readLine reads the next non-blank line, trimmed.
func readLine(r *bufio.Reader) ([]byte, error) {
	for {
		line, err := r.ReadBytes('\n')
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			return line, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ReadFrame reads one Content-Length framed body strictly: what the
// server writes must always be well-formed. io.EOF at a frame boundary
// is returned as is.
func ReadFrame(r *bufio.Reader) ([]byte, error) {
	length := -1
	for first := true; ; first = false {
		line, err := r.ReadString('\n')
		if err != nil {
			if first && err == io.EOF && line == "" {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("reading a header: %w", err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			return nil, fmt.Errorf("header line %q does not end in CRLF", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", line)
		}
		if strings.EqualFold(name, "Content-Length") {
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad Content-Length %q", value)
			}
			length = n
		}
	}
	if length < 0 {
		return nil, errors.New("frame without Content-Length")
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("reading a body of %d bytes: %w", length, err)
	}
	return body, nil
}
