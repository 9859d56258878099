package config

import "path/filepath"

// CallRecords says where completed call records go besides the store.
type CallRecords struct {
	// Export is a file every completed call record is appended to, one JSON object per line
	// (the store.CallRecord fields), for billing and reporting tools; relative to the config
	// file's folder. Empty: records are only kept in the store (and shown in the timeline).
	Export string `yaml:"export"`
}

// Resolve returns path as the config means it: an absolute path as is, a relative one from
// the config file's folder (Dir), or from the working directory for the embedded default.
func (c *Config) Resolve(path string) string {
	if path == "" || filepath.IsAbs(path) || c.Dir == "" {
		return path
	}
	return filepath.Join(c.Dir, path)
}
