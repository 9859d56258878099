package voice

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ccswitch/ccswitch/configs"
	"github.com/ccswitch/ccswitch/media"
)

// promptSet finds and caches prompts: <language>/<name>.wav in the operator's folder
// (media.prompts), else among the prompts embedded in the binary (configs/prompts), trying
// the contact's language, the number's, then "en" — so a folder overrides the embedded
// prompts file by file, and ccswitch plays its demo prompts from any working directory. A
// name with a slash or ending in .wav is a file path (relative to the config's folder).
type promptSet struct {
	dir, base string // dir: the operator's folder ("" for none)

	mu    sync.Mutex
	cache map[string]*media.Prompt
}

// source is one place a prompt may come from.
type source struct {
	fsys fs.FS  // nil: name is a path of the OS
	name string // in fsys, or a path
}

func (s source) String() string {
	if s.fsys == nil {
		return s.name
	}
	return "embedded:" + s.name
}

func newPromptSet(dir, base string) *promptSet {
	return &promptSet{dir: dir, base: base, cache: map[string]*media.Prompt{}}
}

// candidates lists the places tried for name in the given languages, in order.
func (p *promptSet) candidates(name string, langs ...string) []source {
	if strings.ContainsRune(name, '/') || strings.HasSuffix(name, ".wav") {
		if !filepath.IsAbs(name) && p.base != "" {
			name = filepath.Join(p.base, name)
		}
		return []source{{name: name}}
	}
	var out []source
	seen := map[string]bool{}
	for _, l := range append(langs, "en") {
		if l == "" || seen[l] || strings.ContainsAny(l, "/\\.") {
			continue
		}
		seen[l] = true
		if p.dir != "" {
			out = append(out, source{name: filepath.Join(p.dir, l, name+".wav")})
		}
		out = append(out, source{fsys: configs.Prompts, name: path.Join(l, name+".wav")})
	}
	return out
}

// file is a prompt file at the root of the prompts (hold-music.wav): the folder's, else the
// embedded one.
func (p *promptSet) file(name string) []source {
	var out []source
	if p.dir != "" {
		out = append(out, source{name: filepath.Join(p.dir, name)})
	}
	return append(out, source{fsys: configs.Prompts, name: name})
}

func exists(s source) bool {
	var st fs.FileInfo
	var err error
	if s.fsys == nil {
		st, err = os.Stat(s.name)
	} else {
		st, err = fs.Stat(s.fsys, s.name)
	}
	return err == nil && st.Mode().IsRegular()
}

// resolve returns the first place that has name.
func (p *promptSet) resolve(name string, langs ...string) (source, error) {
	return first(name, p.candidates(name, langs...))
}

func first(name string, c []source) (source, error) {
	tried := make([]string, len(c))
	for i, s := range c {
		if exists(s) {
			return s, nil
		}
		tried[i] = s.String()
	}
	return source{}, fmt.Errorf("voice: prompt %q: none of %s exists", name, strings.Join(tried, ", "))
}

// load returns the prompt, from the cache when it was loaded before.
func (p *promptSet) load(name string, langs ...string) (*media.Prompt, error) {
	s, err := p.resolve(name, langs...)
	if err != nil {
		return nil, err
	}
	return p.read(s)
}

// loadFile returns a prompt file at the root of the prompts.
func (p *promptSet) loadFile(name string) (*media.Prompt, error) {
	s, err := first(name, p.file(name))
	if err != nil {
		return nil, err
	}
	return p.read(s)
}

func (p *promptSet) read(s source) (*media.Prompt, error) {
	key := s.String()
	p.mu.Lock()
	pr := p.cache[key]
	p.mu.Unlock()
	if pr != nil {
		return pr, nil
	}
	var err error
	if s.fsys == nil {
		pr, err = media.LoadWAV(s.name)
	} else {
		var f fs.File
		if f, err = s.fsys.Open(s.name); err == nil {
			pr, err = media.ReadWAV(key, f)
			f.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("voice: prompt %s: %w", key, err)
	}
	p.mu.Lock()
	p.cache[key] = pr
	p.mu.Unlock()
	return pr, nil
}
