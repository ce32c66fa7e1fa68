// Command dbgen turns YAML fixtures into a trivy vulnerability DB (trivy.db
// plus metadata.json), the way trivy's own integration tests build theirs.
//
//	dbgen -out DIR fixture.yaml...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	fixtures "github.com/aquasecurity/bolt-fixtures"
)

type metadata struct {
	Version      int       `json:"Version"`
	NextUpdate   time.Time `json:"NextUpdate"`
	UpdatedAt    time.Time `json:"UpdatedAt"`
	DownloadedAt time.Time `json:"DownloadedAt"`
}

func main() {
	out := flag.String("out", "", "output directory for trivy.db and metadata.json")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: dbgen -out DIR fixture.yaml...")
		os.Exit(2)
	}
	if err := run(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "dbgen:", err)
		os.Exit(1)
	}
}

func run(out string, files []string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	dbPath := filepath.Join(out, "trivy.db")
	_ = os.Remove(dbPath)
	loader, err := fixtures.New(dbPath, files)
	if err != nil {
		return err
	}
	if err := loader.Load(); err != nil {
		loader.Close()
		return err
	}
	if err := loader.Close(); err != nil {
		return err
	}
	// Fixed timestamps keep the DB artifact reproducible; NextUpdate far ahead
	// so trivy never decides the DB is stale during a test.
	updated := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	meta := metadata{Version: 2, NextUpdate: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: updated, DownloadedAt: updated}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "metadata.json"), b, 0o644)
}
