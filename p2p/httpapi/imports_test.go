package httpapi

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsP2POnly: the admin API imports no peerwire package but p2p
// (ARCHITECTURE §1), so it matches p2p's sentinels and parses with p2p's
// re-exports. Its tests may import more, to build a node's Config.
func TestImportsP2POnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/peerwire/peerwire"
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if (path == module || strings.HasPrefix(path, module+"/")) && path != module+"/p2p" {
				t.Errorf("%s imports %s; the admin API may import %s/p2p only", f, path, module)
			}
		}
	}
	if len(files) == 0 {
		t.Fatal("no source files found")
	}
}
