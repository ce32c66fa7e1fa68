// Command binfmt is the entrypoint of the test bed's binfmt image: the image
// the action runs as `docker run --privileged --rm IMAGE [--uninstall L]
// [--install L]` to register QEMU with the kernel.
//
// It keeps the command-line contract of the binfmt image users pull
// (tonistiigi/binfmt): architectures by platform name (arm64, arm,
// linux/riscv64) or "all"; interpreters at $QEMU_BINARY_PATH/qemu-NAME
// (default /usr/bin); handlers named qemu-NAME with flags CF (P too when
// QEMU_PRESERVE_ARGV0 is set); a log line per architecture on stderr and a
// JSON status on stdout; exit status 0 even when one registration fails, so
// callers must read the entries back. That image cannot be built here (its
// module is not served by the Go module proxy this machine reaches), so this
// is the test bed's own implementation. The magic and mask of each handler
// come from Debian's qemu-user-static definitions (/usr/share/binfmts),
// copied into the image beside the interpreters.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
)

// qemuNames maps a platform architecture to QEMU's name for it.
var qemuNames = map[string]string{
	"amd64":    "x86_64",
	"386":      "i386",
	"arm64":    "aarch64",
	"arm":      "arm",
	"riscv64":  "riscv64",
	"ppc64le":  "ppc64le",
	"s390x":    "s390x",
	"mips64le": "mips64el",
	"mips64":   "mips64",
	"loong64":  "loongarch64",
}

// handler is one Debian binfmts definition: magic and mask at an offset.
type handler struct {
	magic, mask, offset string
}

func main() {
	log.SetFlags(0)
	mount := flag.String("mount", "/proc/sys/fs/binfmt_misc", "binfmt_misc mount point")
	install := flag.String("install", "", "architectures to install (comma-separated, or all)")
	uninstall := flag.String("uninstall", "", "architectures to uninstall (comma-separated)")
	defs := flag.String("definitions", envOr("QEMU_BINFMTS_DIR", "/usr/share/binfmts"), "directory of Debian binfmts definitions")
	flag.Parse()
	if err := run(*mount, *defs, *install, *uninstall); err != nil {
		log.Printf("error: %v", err)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(mount, defs, install, uninstall string) error {
	if _, err := os.Stat(filepath.Join(mount, "status")); err != nil {
		if err := syscall.Mount("binfmt_misc", mount, "binfmt_misc", 0, ""); err != nil {
			return fmt.Errorf("cannot mount binfmt_misc at %s: %w", mount, err)
		}
		defer func() { _ = syscall.Unmount(mount, 0) }()
	}
	for _, a := range split(uninstall) {
		if err := remove(mount, a); err != nil {
			log.Printf("uninstalling: %s %v", a, err)
		} else {
			log.Printf("uninstalling: %s OK", a)
		}
	}
	arches := split(install)
	if len(arches) == 1 && arches[0] == "all" {
		arches = available(defs)
	}
	for _, a := range arches {
		if err := register(mount, defs, a); err != nil {
			log.Printf("installing: %s %v", a, err)
		} else {
			log.Printf("installing: %s OK", a)
		}
	}
	return printStatus(mount)
}

func split(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// qemuName resolves arm64, linux/arm64, linux/arm/v7, aarch64 or qemu-aarch64.
func qemuName(arch string) (string, bool) {
	a := strings.TrimPrefix(arch, "qemu-")
	if parts := strings.Split(a, "/"); len(parts) >= 2 {
		a = parts[1]
	}
	if q, ok := qemuNames[a]; ok {
		return q, true
	}
	for _, q := range qemuNames {
		if q == a {
			return q, true
		}
	}
	return "", false
}

func available(defs string) []string {
	var out []string
	for arch, q := range qemuNames {
		if _, err := os.Stat(filepath.Join(defs, "qemu-"+q)); err == nil && arch != runtime.GOARCH {
			out = append(out, arch)
		}
	}
	sort.Strings(out)
	return out
}

func readDefinition(defs, q string) (handler, error) {
	f, err := os.Open(filepath.Join(defs, "qemu-"+q))
	if err != nil {
		return handler{}, fmt.Errorf("no binfmts definition for qemu-%s: %w", q, err)
	}
	defer f.Close()
	var h handler
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch k {
		case "magic":
			h.magic = v
		case "mask":
			h.mask = v
		case "offset":
			h.offset = v
		}
	}
	if h.magic == "" {
		return handler{}, fmt.Errorf("binfmts definition qemu-%s has no magic", q)
	}
	return h, sc.Err()
}

func register(mount, defs, arch string) error {
	q, ok := qemuName(arch)
	if !ok {
		return fmt.Errorf("unsupported architecture: %s", arch)
	}
	h, err := readDefinition(defs, q)
	if err != nil {
		return err
	}
	name := os.Getenv("QEMU_BINARY_PREFIX") + "qemu-" + q
	if strings.ContainsRune(name, '/') {
		return errors.New("QEMU_BINARY_PREFIX must not contain a path separator (set QEMU_BINARY_PATH for the directory)")
	}
	interp := filepath.Join(envOr("QEMU_BINARY_PATH", "/usr/bin"), name)
	if _, err := os.Stat(interp); err != nil {
		return fmt.Errorf("interpreter %s: %w", interp, err)
	}
	flags := "CF"
	if os.Getenv("QEMU_PRESERVE_ARGV0") != "" {
		flags += "P"
	}
	// The kernel's registration line: :name:type:offset:magic:mask:interpreter:flags
	line := fmt.Sprintf(":%s:M:%s:%s:%s:%s:%s", name, h.offset, h.magic, h.mask, interp, flags)
	f, err := os.OpenFile(filepath.Join(mount, "register"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write([]byte(line)); err != nil {
		if errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("%s already registered", name)
		}
		return fmt.Errorf("cannot register %s: %w", interp, err)
	}
	return nil
}

func remove(mount, arch string) error {
	q, ok := qemuName(arch)
	if !ok {
		q = strings.TrimPrefix(arch, "qemu-")
	}
	entries, err := os.ReadDir(mount)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if n := e.Name(); n == "qemu-"+q || n == q || strings.HasSuffix(n, "-qemu-"+q) {
			return os.WriteFile(filepath.Join(mount, n), []byte("-1"), 0o600)
		}
	}
	return errors.New("not found")
}

func printStatus(mount string) error {
	entries, err := os.ReadDir(mount)
	if err != nil {
		return err
	}
	supported := []string{"linux/" + runtime.GOARCH}
	emulators := []string{}
	for _, e := range entries {
		n := e.Name()
		if n == "register" || n == "status" {
			continue
		}
		dt, err := os.ReadFile(filepath.Join(mount, n))
		if err != nil || !strings.HasPrefix(string(dt), "enabled") {
			continue
		}
		emulators = append(emulators, n)
		for arch, q := range qemuNames {
			if !strings.HasSuffix(n, "qemu-"+q) {
				continue
			}
			if arch == "arm" {
				supported = append(supported, "linux/arm/v7", "linux/arm/v6")
			} else {
				supported = append(supported, "linux/"+arch)
			}
		}
	}
	sort.Strings(supported[1:])
	out, err := json.MarshalIndent(struct {
		Supported []string `json:"supported"`
		Emulators []string `json:"emulators"`
	}{supported, emulators}, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}
