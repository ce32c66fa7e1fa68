// Package report renders a stats.Summary as text, JSON or HTML.
package report

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"text/tabwriter"

	"example.com/tally/internal/stats"
)

// Formats lists the names Write accepts.
var Formats = []string{"text", "json", "html"}

// Write renders s in format to w, gzip-compressed when gz is set.
func Write(w io.Writer, format string, s stats.Summary, gz bool) error {
	if gz {
		zw := gzip.NewWriter(w)
		if err := Write(zw, format, s, false); err != nil {
			return err
		}
		return zw.Close()
	}
	switch format {
	case "text":
		return writeText(w, s)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	case "html":
		return page.Execute(w, s)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

func writeText(w io.Writer, s stats.Summary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "lines\t%d\n", s.Lines)
	fmt.Fprintf(tw, "words\t%d (%d distinct, diversity %.2f)\n", s.Words, s.DistinctWords, s.Diversity)
	fmt.Fprintf(tw, "characters\t%d (%d bytes)\n", s.Runes, s.Bytes)
	fmt.Fprintf(tw, "mean word length\t%.2f\n", s.MeanWordLength)
	fmt.Fprintf(tw, "longest word\t%s\n", s.LongestWord)
	fmt.Fprintf(tw, "digest\t%s\n", s.Digest)
	section(tw, "top words", s.TopWords)
	section(tw, "top pairs", s.TopPairs)
	section(tw, "scripts", s.Scripts)
	return tw.Flush()
}

func section(w io.Writer, title string, cs []stats.Count) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\t\n", title)
	max := cs[0].Count
	for _, c := range cs {
		bar := strings.Repeat("#", (c.Count*30+max-1)/max)
		fmt.Fprintf(w, "  %s\t%d\t%s\n", c.Term, c.Count, bar)
	}
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct": func(c, total int) string {
		if total == 0 {
			return "0%"
		}
		return fmt.Sprintf("%.1f%%", float64(c)*100/float64(total))
	},
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>tally</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}td{padding:0 1em}</style></head>
<body><h1>tally</h1>
<p>{{.Lines}} lines, {{.Words}} words ({{.DistinctWords}} distinct), mean length {{.MeanWordLength}}.</p>
<h2>Top words</h2><table>{{range .TopWords}}<tr><td>{{.Term}}</td><td>{{.Count}}</td><td>{{pct .Count $.Words}}</td></tr>{{end}}</table>
<h2>Top pairs</h2><table>{{range .TopPairs}}<tr><td>{{.Term}}</td><td>{{.Count}}</td></tr>{{end}}</table>
<p><small>digest {{.Digest}}</small></p>
</body></html>
`))
