// Package stats counts words, word pairs and characters in text.
package stats

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Count is one word (or pair of words) and how often it occurs.
type Count struct {
	Term  string `json:"term"`
	Count int    `json:"count"`
}

// Summary is everything Tally learns from a text.
type Summary struct {
	Lines          int     `json:"lines"`
	Words          int     `json:"words"`
	DistinctWords  int     `json:"distinctWords"`
	Runes          int     `json:"runes"`
	Bytes          int     `json:"bytes"`
	MeanWordLength float64 `json:"meanWordLength"`
	Diversity      float64 `json:"lexicalDiversity"`
	LongestWord    string  `json:"longestWord"`
	TopWords       []Count `json:"topWords"`
	TopPairs       []Count `json:"topPairs"`
	Scripts        []Count `json:"scripts"`
	Digest         string  `json:"digest"`
}

// Options tune what Tally keeps.
type Options struct {
	Top       int             // how many words and pairs to keep (0: 10)
	MinLength int             // shorter words are not counted
	Stop      map[string]bool // words never counted
}

// DefaultStop is a short English stop list.
var DefaultStop = toSet("a an and are as at be by for from has have in is it its of on or that the to was were will with")

func toSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// Tally reads r to the end and summarises it.
func Tally(r io.Reader, opt Options) (Summary, error) {
	if opt.Top <= 0 {
		opt.Top = 10
	}
	words := map[string]int{}
	pairs := map[string]int{}
	scripts := map[string]int{}
	h := sha256.New()
	var s Summary
	var totalLen int
	prev := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		s.Lines++
		s.Bytes += len(line) + 1
		s.Runes += utf8.RuneCountInString(line) + 1
		for _, w := range Tokens(line) {
			h.Write([]byte(w))
			h.Write([]byte{0})
			scripts[script(w)]++
			if utf8.RuneCountInString(w) < opt.MinLength || opt.Stop[w] {
				prev = ""
				continue
			}
			s.Words++
			totalLen += utf8.RuneCountInString(w)
			words[w]++
			if utf8.RuneCountInString(w) > utf8.RuneCountInString(s.LongestWord) {
				s.LongestWord = w
			}
			if prev != "" {
				pairs[prev+" "+w]++
			}
			prev = w
		}
	}
	if err := sc.Err(); err != nil {
		return Summary{}, err
	}
	s.DistinctWords = len(words)
	if s.Words > 0 {
		s.MeanWordLength = round2(float64(totalLen) / float64(s.Words))
		s.Diversity = round2(float64(s.DistinctWords) / float64(s.Words))
	}
	s.TopWords = top(words, opt.Top)
	s.TopPairs = top(pairs, opt.Top)
	s.Scripts = top(scripts, len(scripts))
	s.Digest = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// Tokens splits a line into lower-case words: runs of letters and digits,
// with inner apostrophes and hyphens kept ("don't", "multi-arch").
func Tokens(line string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		w := strings.Trim(b.String(), "'-")
		if w != "" {
			out = append(out, w)
		}
		b.Reset()
	}
	for _, r := range line {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case (r == '\'' || r == '’') && b.Len() > 0:
			b.WriteRune('\'')
		case r == '-' && b.Len() > 0:
			b.WriteRune('-')
		default:
			flush()
		}
	}
	flush()
	return out
}

func script(w string) string {
	for _, r := range w {
		switch {
		case unicode.Is(unicode.Latin, r):
			return "Latin"
		case unicode.Is(unicode.Cyrillic, r):
			return "Cyrillic"
		case unicode.Is(unicode.Greek, r):
			return "Greek"
		case unicode.Is(unicode.Han, r):
			return "Han"
		case unicode.IsDigit(r):
			return "Digits"
		}
	}
	return "Other"
}

func top(m map[string]int, n int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Term < out[j].Term
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }
