package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/directorysync/directorysync/dirsync"
	"github.com/directorysync/directorysync/mapping"
)

// pageSize is the listing's page size: WorkOS's.
const pageSize = 100

// writeListing writes recs as JSON lines to path.
func writeListing(path string, recs []mapping.Record) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create listing: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	enc := json.NewEncoder(w)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			f.Close()
			return fmt.Errorf("write listing %s: record %d: %w", path, i, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write listing %s: %w", path, err)
	}
	return f.Close()
}

// fileProvider is a dirsync.Provider that streams a JSON-lines listing
// from a file, one page of pageSize records at a time, decoding each page
// only when the engine asks for it: the process never holds the whole
// listing, as with a real provider, so the sync's memory is measured alone.
// It counts the time spent reading and decoding (not the time the engine
// spends on each page), so the engine's own time is the sync's minus it.
// It lists no groups.
type fileProvider struct {
	source string

	mu     sync.Mutex
	path   string
	decode time.Duration
}

var _ dirsync.Provider = (*fileProvider)(nil)

func (p *fileProvider) setListing(path string) {
	p.mu.Lock()
	p.path = path
	p.mu.Unlock()
}

// takeDecode returns the decoding time counted since the last call.
func (p *fileProvider) takeDecode() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.decode
	p.decode = 0
	return d
}

func (p *fileProvider) SourceID() string { return p.source }

func (p *fileProvider) Status(context.Context) (dirsync.SourceStatus, error) {
	return dirsync.SourceStatus{Linked: true, State: "linked"}, nil
}

func (p *fileProvider) Users(ctx context.Context, fn func(page []mapping.Record) error) error {
	p.mu.Lock()
	path := p.path
	p.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open listing: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<16))
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		page := make([]mapping.Record, 0, pageSize)
		for len(page) < pageSize {
			var rec mapping.Record
			if err := dec.Decode(&rec); err != nil {
				if errors.Is(err, io.EOF) {
					done = true
					break
				}
				return fmt.Errorf("listing %s: record %d: %w", path, len(page), err)
			}
			page = append(page, rec)
		}
		p.mu.Lock()
		p.decode += time.Since(start)
		p.mu.Unlock()
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *fileProvider) Groups(context.Context, func([]dirsync.ProviderGroup) error) error {
	return nil
}

func (p *fileProvider) GroupMembers(context.Context, string, func([]string) error) error {
	return nil
}
