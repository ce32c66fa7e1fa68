package stats

import (
	"reflect"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	got := Tokens("Don't stop: multi-arch builds, 3 times!")
	want := []string{"don't", "stop", "multi-arch", "builds", "3", "times"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Tokens = %q, want %q", got, want)
	}
}

func TestTally(t *testing.T) {
	s, err := Tally(strings.NewReader("the cat sat\nthe cat ran\n"), Options{Stop: DefaultStop})
	if err != nil {
		t.Fatal(err)
	}
	if s.Lines != 2 || s.Words != 4 || s.DistinctWords != 3 {
		t.Fatalf("unexpected summary %+v", s)
	}
	if s.TopWords[0] != (Count{"cat", 2}) {
		t.Fatalf("top word = %+v", s.TopWords[0])
	}
}
