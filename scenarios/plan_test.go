package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every number of a plan is range-checked, and the error names the field, so a plan file with
// a wild number is refused instead of crashing or exhausting memory.
func TestValidateNamesOutOfRangeFields(t *testing.T) {
	base := func() Plan {
		s, _ := Lookup("reopen_after_reset")
		return s.Build(1)
	}
	if p := base(); p.Validate() != nil {
		t.Fatalf("the base plan is invalid: %v", p.Validate())
	}
	for field, change := range map[string]func(*Plan){
		"posts[3].size_bytes":                func(p *Plan) { p.Posts[3].SizeBytes = -5 },
		"posts[0].size_bytes":                func(p *Plan) { p.Posts[0].SizeBytes = 1e12 },
		"duration_us":                        func(p *Plan) { p.DurationUs = 9e18 },
		"posts[1].at_us":                     func(p *Plan) { p.Posts[1].AtUs = -1 },
		"posts[2].seq":                       func(p *Plan) { p.Posts[2].Seq = -1 << 63 },
		"liveness_bound_us":                  func(p *Plan) { p.LivenessBoundUs = 1 << 60 },
		"server.history_batch_msgs":          func(p *Plan) { p.Server.HistoryBatchMsgs = -1 },
		"server.pub_last_seq":                func(p *Plan) { p.Server.PubLastSeq = 1<<63 - 1 },
		"net.idle_timeout_us":                func(p *Plan) { p.Net.IdleTimeoutUs = -3 },
		"net.online.latency_us":              func(p *Plan) { p.Net.Online.LatencyUs = 9e18 },
		"net.request.send_buffer_bytes":      func(p *Plan) { p.Net.Request.SendBufferBytes = 1 << 40 },
		"net.online.bandwidth_bytes_per_sec": func(p *Plan) { p.Net.Online.BandwidthBytesPerSec = -1 },
		"net.request.loss_prob":              func(p *Plan) { p.Net.Request.LossProb = 1.5 },
		"clients[0].buffer_bytes":            func(p *Plan) { p.Clients[0].BufferBytes = -1 },
		"clients[0].open_at_us":              func(p *Plan) { p.Clients[0].OpenAtUs = 1 << 62 },
		"clients[0].reopen.backoff_us":       func(p *Plan) { p.Clients[0].Reopen.BackoffUs = 0 },
		"clients[0].reopen.max_reopens":      func(p *Plan) { p.Clients[0].Reopen.MaxReopens = -2 },
		"clients[0].handshake_timeout_us":    func(p *Plan) { p.Clients[0].HandshakeTimeoutUs = -1 },
		"faults[0].duration_us":              func(p *Plan) { p.Faults[0].DurationUs = 9e18 },
		"faults[0].delay_us":                 func(p *Plan) { p.Faults[0].DelayUs = -1 },
		"failpoints[0].prob": func(p *Plan) {
			p.Failpoints = []FailpointPlan{{Name: "server-after-store", Prob: 2}}
		},
	} {
		p := base()
		change(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), field+" = ") {
			t.Errorf("%s: error %v does not name the field", field, err)
		}
	}
}

func TestLoadRefusesUnknownFieldsAndTrailingData(t *testing.T) {
	dir := t.TempDir()
	s, _ := Lookup("test_new")
	p := s.Build(1)
	good := filepath.Join(dir, "good.json")
	if err := p.Save(good); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(good); err != nil {
		t.Fatalf("a saved plan does not load: %v", err)
	}
	text, _ := os.ReadFile(good)
	for name, tc := range map[string]struct{ text, want string }{
		"typo":     {strings.Replace(string(text), `"duration_us"`, `"duraton_us"`, 1), `unknown field "duraton_us"`},
		"nested":   {strings.Replace(string(text), `"at_us"`, `"at_ms"`, 1), `unknown field "at_ms"`},
		"trailing": {string(text) + "{}", "data after the plan"},
		"range":    {strings.Replace(string(text), `"size_bytes": `, `"size_bytes": -`, 1), "size_bytes = -"},
		"float":    {strings.Replace(string(text), `"duration_us": 10000`, `"duration_us": 9e18`, 1), "duration_us"},
	} {
		path := filepath.Join(dir, name+".json")
		os.WriteFile(path, []byte(tc.text), 0o644)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}
