// Package configs holds the example operator configurations and the default prompts, and
// embeds the demo configuration that ccswitch runs when no -config is given.
package configs

import _ "embed"

// DefaultName is how messages name the embedded default configuration.
const DefaultName = "configs/ccswitch.yaml"

// Default is configs/ccswitch.yaml, byte for byte.
//
//go:embed ccswitch.yaml
var Default []byte
