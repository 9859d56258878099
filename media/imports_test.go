package media

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestForbiddenImports keeps media a leaf: it knows nothing of SIP or of the rest of ccswitch
// (only the shared helpers under internal/: metrics, ratelog).
func TestForbiddenImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(p, "github.com/ccswitch/ccswitch/internal/") {
				continue
			}
			if strings.HasPrefix(p, "github.com/ccswitch/ccswitch/") || strings.Contains(p, "sipgo") {
				t.Errorf("%s imports %s: media must not depend on other ccswitch packages or SIP", f, p)
			}
		}
	}
}
