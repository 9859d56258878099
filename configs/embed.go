// Package configs holds the example operator configurations and the default prompts, and
// embeds the demo configuration that ccswitch runs when no -config is given, and the prompts
// it plays when media.prompts names no folder: ccswitch is one binary, run from any folder.
package configs

import (
	"embed"
	"io/fs"
)

// DefaultName is how messages name the embedded default configuration.
const DefaultName = "configs/ccswitch.yaml"

// Default is configs/ccswitch.yaml, byte for byte.
//
//go:embed ccswitch.yaml
var Default []byte

//go:embed prompts/*/*.wav prompts/hold-music.wav
var prompts embed.FS

// Prompts are the default prompts, configs/prompts: <language>/<name>.wav and
// hold-music.wav.
var Prompts fs.FS

func init() {
	sub, err := fs.Sub(prompts, "prompts")
	if err != nil {
		panic(err) // a constant path: unreachable
	}
	Prompts = sub
}
