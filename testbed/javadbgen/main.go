// Command javadbgen makes the test bed's Java artifacts and the trivy Java DB
// that identifies them: for every artifact in the fixture it writes a small,
// byte-for-byte reproducible JAR (<artifact>-<version>.jar) and indexes its
// SHA-1 with its group, artifact and version in trivy-java.db, next to the
// metadata.json trivy reads (schema version 1, as trivy-java-db publishes it).
//
//	javadbgen -db DIR -jars DIR fixture.yaml
package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aquasecurity/trivy-java-db/pkg/db"
	"github.com/aquasecurity/trivy-java-db/pkg/types"
	"gopkg.in/yaml.v3"
	_ "modernc.org/sqlite" // the "sqlite" driver trivy-java-db opens
)

// Artifact is one JAR of the fixture. Without pom.properties (the default)
// trivy can identify the JAR only by looking its SHA-1 up in the Java DB.
type Artifact struct {
	Group         string `yaml:"group"`
	Artifact      string `yaml:"artifact"`
	Version       string `yaml:"version"`
	PomProperties bool   `yaml:"pom-properties"`
}

type fixture struct {
	Artifacts []Artifact `yaml:"artifacts"`
}

// Fixed timestamps keep the JARs and the DB reproducible; NextUpdate far ahead
// so trivy never decides the DB is stale.
var updated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	dbDir := flag.String("db", "", "output directory for trivy-java.db and metadata.json")
	jarDir := flag.String("jars", "", "output directory for the JARs")
	flag.Parse()
	if *dbDir == "" || *jarDir == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: javadbgen -db DIR -jars DIR fixture.yaml")
		os.Exit(2)
	}
	if err := run(*dbDir, *jarDir, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "javadbgen:", err)
		os.Exit(1)
	}
}

func run(dbDir, jarDir, file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var fx fixture
	if err := yaml.Unmarshal(raw, &fx); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(fx.Artifacts) == 0 {
		return fmt.Errorf("%s: no artifacts", file)
	}
	if err := os.MkdirAll(jarDir, 0o755); err != nil {
		return err
	}
	var indexes []types.Index
	for i, a := range fx.Artifacts {
		if a.Group == "" || a.Artifact == "" || a.Version == "" {
			return fmt.Errorf("%s: artifact %d needs group, artifact and version", file, i+1)
		}
		jar, err := makeJar(a)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%s-%s.jar", a.Artifact, a.Version)
		if err := os.WriteFile(filepath.Join(jarDir, name), jar, 0o644); err != nil {
			return err
		}
		sum := sha1.Sum(jar)
		indexes = append(indexes, types.Index{GroupID: a.Group, ArtifactID: a.Artifact, Version: a.Version,
			SHA1: sum[:], ArchiveType: types.JarType})
	}
	return writeDB(dbDir, indexes)
}

// makeJar writes a stored (uncompressed) zip with a manifest that names no
// artifact, a resource that makes each version's bytes differ, and
// pom.properties only when asked for.
func makeJar(a Artifact) ([]byte, error) {
	files := []struct{ name, body string }{
		{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: multiarch test bed\r\n\r\n"},
		{fmt.Sprintf("%s/%s/VERSION", strings.ReplaceAll(a.Group, ".", "/"), a.Artifact), a.Version + "\n"},
	}
	if a.PomProperties {
		files = append(files, struct{ name, body string }{
			fmt.Sprintf("META-INF/maven/%s/%s/pom.properties", a.Group, a.Artifact),
			fmt.Sprintf("groupId=%s\nartifactId=%s\nversion=%s\n", a.Group, a.Artifact, a.Version),
		})
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Store, Modified: updated})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeDB(dir string, indexes []types.Index) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := db.Reset(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dbc, err := db.New(dir)
	if err != nil {
		return err
	}
	if err := dbc.Init(); err != nil {
		dbc.Close()
		return err
	}
	if err := dbc.InsertIndexes(indexes); err != nil {
		dbc.Close()
		return err
	}
	if err := dbc.VacuumDB(); err != nil {
		dbc.Close()
		return err
	}
	if err := dbc.Close(); err != nil {
		return err
	}
	meta := db.Metadata{Version: db.SchemaVersion, NextUpdate: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		UpdatedAt: updated, DownloadedAt: updated}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "metadata.json"), b, 0o644)
}
