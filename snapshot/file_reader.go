package snapshot

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"os"

	raft "github.com/pontoon-raft/raft"
)

// readerBufferSize is the read buffer in front of state.bin.
const readerBufferSize = 256 << 10

// crcReader reads state.bin and checks it against meta.json while it does:
// it never returns more than size bytes, and in place of io.EOF it returns
// an error wrapping raft.ErrCorrupt if the data is short or its CRC differs.
// Once an error is returned, every later Read returns it again.
type crcReader struct {
	f    *os.File
	br   *bufio.Reader
	path string
	// size is the expected length, want the expected CRC; n counts the
	// bytes returned so far and hash has seen exactly them.
	size int64
	want []byte
	n    int64
	hash hash.Hash64
	err  error
}

func newCRCReader(f *os.File, path string, size int64, want []byte) *crcReader {
	return &crcReader{
		f:    f,
		br:   bufio.NewReaderSize(f, readerBufferSize),
		path: path,
		size: size,
		want: want,
		hash: crc64.New(crcTable()),
	}
}

// Read implements io.Reader.
func (r *crcReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if rem := r.size - r.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	if len(p) == 0 {
		r.err = r.finish()
		return 0, r.err
	}
	n, err := r.br.Read(p)
	r.n += int64(n)
	_, _ = r.hash.Write(p[:n])
	switch {
	case err == io.EOF:
		r.err = r.finish()
		return n, r.err
	case err != nil:
		r.err = fmt.Errorf("snapshot: reading %s: %w", r.path, err)
		return n, r.err
	}
	return n, nil
}

// finish checks what was read at the end of the data: io.EOF if it is all
// there and the CRC matches.
func (r *crcReader) finish() error {
	if r.n != r.size {
		return fmt.Errorf("%w: snapshot: %s ended after %d of %d bytes", raft.ErrCorrupt, r.path, r.n, r.size)
	}
	var got [8]byte
	binary.BigEndian.PutUint64(got[:], r.hash.Sum64())
	if !bytes.Equal(got[:], r.want) {
		return fmt.Errorf("%w: snapshot: %s: CRC mismatch: stored %x, computed %x", raft.ErrCorrupt, r.path, r.want, got)
	}
	return io.EOF
}

// Close implements io.Closer.
func (r *crcReader) Close() error {
	return r.f.Close()
}
