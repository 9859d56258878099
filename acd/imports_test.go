package acd_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestForbiddenImports fails if package acd, or anything under it,
// imports another ccswitch package: the engine stays pure (like pebble's
// internal/lint TestForbiddenImports).
func TestForbiddenImports(t *testing.T) {
	const mod = "github.com/ccswitch/ccswitch/"
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		n++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, mod) && p != mod+"acd" && !strings.HasPrefix(p, mod+"acd/") {
				t.Errorf("%s imports %s: acd must not import other ccswitch packages", path, p)
			}
		}
		return nil
	})
	if err != nil || n < 10 {
		t.Fatalf("walked %d files: %v", n, err)
	}
}
