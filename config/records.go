package config

// CallRecords says where completed call records go besides the store.
type CallRecords struct {
	// Export is a file every completed call record is appended to, one JSON object per line
	// (the store.CallRecord fields), for billing and reporting tools; relative to the config
	// file's folder. Empty: records are only kept in the store (and shown in the timeline).
	Export string `yaml:"export"`
}
