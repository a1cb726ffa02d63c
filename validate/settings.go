package validate

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// What a driver process is told, as environment variables; the same values replace the
// placeholders {online}, {request}, {storage} and {name} in its command line.
const (
	EnvOnline  = "STREAMSIM_ONLINE"  // server: listen here; client: connect here (its proxy)
	EnvRequest = "STREAMSIM_REQUEST" // the same for the request channel
	EnvStorage = "STREAMSIM_STORAGE" // server: an empty directory of its own for this run
	EnvName    = "STREAMSIM_NAME"    // client: its name in the plan
	EnvServer  = "STREAMSIM_SERVER"  // server: ServerSettings as JSON
	EnvClient  = "STREAMSIM_CLIENT"  // client: ClientSettings as JSON
)

// ServerSettings are the plan's server settings, times already scaled to real time. A driver
// honours what its implementation can; one it ignores makes the scenario test less than its
// description says, never report a false violation.
type ServerSettings struct {
	Autoseq           bool  `json:"autoseq,omitempty"`
	Durable           bool  `json:"durable,omitempty"`
	HistoryBatchMsgs  int   `json:"history_batch_msgs,omitempty"`
	HistoryIntervalUs int64 `json:"history_interval_us,omitempty"`
	PubLastSeq        int64 `json:"pub_last_seq,omitempty"`
}

// ClientSettings are a plan client's settings, times already scaled to real time.
type ClientSettings struct {
	Name               string `json:"name"`
	BufferBytes        int    `json:"buffer_bytes,omitempty"`
	Protocol           string `json:"protocol,omitempty"` // "new" (default) or "old"
	Contiguous         bool   `json:"contiguous,omitempty"`
	HandshakeTimeoutUs int64  `json:"handshake_timeout_us,omitempty"`
}

// ServerFromEnv reads EnvServer; zero settings when it is unset.
func ServerFromEnv() (ServerSettings, error) {
	var s ServerSettings
	return s, fromEnv(EnvServer, &s)
}

// ClientFromEnv reads EnvClient; zero settings when it is unset.
func ClientFromEnv() (ClientSettings, error) {
	var c ClientSettings
	return c, fromEnv(EnvClient, &c)
}

func fromEnv(name string, v any) error {
	js := os.Getenv(name)
	if js == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(js), v); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}

// expand replaces the placeholders in a shell command, quoting values the shell would split.
func expand(cmd string, vars map[string]string) string {
	for k, v := range vars {
		cmd = strings.ReplaceAll(cmd, "{"+k+"}", ShellQuote(v))
	}
	return cmd
}

// ShellQuote quotes s for /bin/sh when the shell would split or expand it.
func ShellQuote(s string) string {
	safe := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._/:-+@%=,", r))
	}) < 0
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
