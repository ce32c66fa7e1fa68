// Command tally counts the words of text files (or standard input) and prints
// a report as text, JSON or HTML; with -serve it answers the same over HTTP.
//
//	tally [-format text|json|html] [-top N] [-min N] [-gzip] [FILE...]
//	tally -serve 127.0.0.1:8080
//	tally -selftest
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"example.com/tally/internal/report"
	"example.com/tally/internal/stats"
)

func main() {
	format := flag.String("format", "text", "report format: "+strings.Join(report.Formats, ", "))
	top := flag.Int("top", 10, "how many words and pairs to list")
	minLen := flag.Int("min", 1, "ignore words shorter than this")
	gz := flag.Bool("gzip", false, "gzip the report")
	noStop := flag.Bool("all-words", false, "count stop words too")
	serve := flag.String("serve", "", "listen on this address instead of reading files")
	selftest := flag.Bool("selftest", false, "tally a built-in text and check the result")
	version := flag.Bool("version", false, "print the Go version and platform")
	flag.Parse()

	opt := stats.Options{Top: *top, MinLength: *minLen, Stop: stats.DefaultStop}
	if *noStop {
		opt.Stop = nil
	}
	var err error
	switch {
	case *version:
		fmt.Printf("tally %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	case *selftest:
		err = selfTest()
	case *serve != "":
		err = listen(*serve, opt)
	default:
		err = tallyFiles(os.Stdout, flag.Args(), *format, opt, *gz)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tally:", err)
		os.Exit(1)
	}
}

func tallyFiles(w io.Writer, files []string, format string, opt stats.Options, gz bool) error {
	var readers []io.Reader
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		defer fh.Close()
		readers = append(readers, fh, strings.NewReader("\n"))
	}
	in := io.Reader(os.Stdin)
	if len(readers) > 0 {
		in = io.MultiReader(readers...)
	}
	s, err := stats.Tally(in, opt)
	if err != nil {
		return err
	}
	return report.Write(w, format, s, gz)
}

const sample = `Build once per platform, scan each platform, then compose the index.
Emulated builds are slow: a compiler under QEMU runs many times slower than native.
Cross-compile on the build platform, or build each platform on its own runner.`

var digestRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func selfTest() error {
	s, err := stats.Tally(strings.NewReader(sample), stats.Options{Stop: stats.DefaultStop})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, f := range report.Formats {
		if err := report.Write(&buf, f, s, f == "html"); err != nil {
			return err
		}
	}
	switch {
	case s.Lines != 3:
		return fmt.Errorf("selftest: %d lines, want 3", s.Lines)
	case s.TopWords[0].Term != "platform":
		return fmt.Errorf("selftest: top word %q, want platform", s.TopWords[0].Term)
	case !digestRE.MatchString(s.Digest):
		return errors.New("selftest: bad digest " + s.Digest)
	}
	fmt.Printf("selftest ok on %s/%s: %d words, %d bytes of reports\n", runtime.GOOS, runtime.GOARCH, s.Words, buf.Len())
	return nil
}

func listen(addr string, opt stats.Options) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/tally", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST text to /tally", http.StatusMethodNotAllowed)
			return
		}
		o := opt
		if n, err := strconv.Atoi(r.URL.Query().Get("top")); err == nil && n > 0 {
			o.Top = n
		}
		s, err := stats.Tally(http.MaxBytesReader(w, r.Body, 8<<20), o)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		format := r.URL.Query().Get("format")
		if format == "" {
			format = "json"
		}
		gz := strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
		if gz {
			w.Header().Set("Content-Encoding", "gzip")
		}
		if err := report.Write(w, format, s, gz); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("tally listening on %s", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
