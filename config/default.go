package config

import "github.com/ccswitch/ccswitch/configs"

// Default parses the embedded demo configuration (configs/ccswitch.yaml).
func Default() (*Config, error) {
	return Parse(configs.DefaultName, configs.Default)
}
