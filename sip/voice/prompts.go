package voice

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ccswitch/ccswitch/media"
)

// promptSet finds and caches prompts: <dir>/<language>/<name>.wav, falling back to the
// number's language and then "en"; a name with a slash or ending in .wav is a path (relative
// to the config's folder).
type promptSet struct {
	dir, base string

	mu    sync.Mutex
	cache map[string]*media.Prompt
}

func newPromptSet(dir, base string) *promptSet {
	return &promptSet{dir: dir, base: base, cache: map[string]*media.Prompt{}}
}

// candidates lists the files tried for name in the given languages, in order.
func (p *promptSet) candidates(name string, langs ...string) []string {
	if strings.ContainsRune(name, '/') || strings.HasSuffix(name, ".wav") {
		if !filepath.IsAbs(name) && p.base != "" {
			name = filepath.Join(p.base, name)
		}
		return []string{name}
	}
	var out []string
	seen := map[string]bool{}
	for _, l := range append(langs, "en") {
		if l == "" || seen[l] || strings.ContainsAny(l, "/\\.") {
			continue
		}
		seen[l] = true
		out = append(out, filepath.Join(p.dir, l, name+".wav"))
	}
	return out
}

// resolve returns the first existing file for name.
func (p *promptSet) resolve(name string, langs ...string) (string, error) {
	c := p.candidates(name, langs...)
	for _, f := range c {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			return f, nil
		}
	}
	return "", fmt.Errorf("voice: prompt %q: none of %s exists", name, strings.Join(c, ", "))
}

// load returns the prompt, from the cache when it was loaded before.
func (p *promptSet) load(name string, langs ...string) (*media.Prompt, error) {
	f, err := p.resolve(name, langs...)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	pr := p.cache[f]
	p.mu.Unlock()
	if pr != nil {
		return pr, nil
	}
	pr, err = media.LoadWAV(f)
	if err != nil {
		return nil, fmt.Errorf("voice: prompt %q: %w", f, err)
	}
	p.mu.Lock()
	p.cache[f] = pr
	p.mu.Unlock()
	return pr, nil
}
