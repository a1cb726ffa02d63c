package scenarios

// FaultDoc describes one fault a plan can ask for: where it goes in the plan, its parameters
// (plan field names, with units in the names), and what it does.
type FaultDoc struct {
	Name   string
	Where  string // "link" (net.online / net.request), "fault" (the faults list), "failpoint"
	Params string
	Doc    string
}

// FaultCatalogue lists every fault a plan can inject, as `simrun list faults` prints it.
func FaultCatalogue() []FaultDoc {
	return []FaultDoc{
		{"latency", "link", "latency_us, latency_dist (uniform|fixed|exponential), jitter_us", "one-way delay of every write; uniform adds 0..jitter_us, exponential adds a draw with mean jitter_us; a stream is never reordered"},
		{"segmentation", "link", "segment_prob, segment_max", "a write arrives cut into up to segment_max pieces"},
		{"bandwidth", "link", "bandwidth_bytes_per_sec", "writes are serialised at this rate; the unsent bytes show in the sender's Pending"},
		{"loss", "link", "loss_prob, retransmit_us", "TCP segments are lost and retransmitted after retransmit_us (doubling): delay and head-of-line blocking, never missing bytes"},
		{"slow receiver", "link", "recv_bytes_per_sec, send_buffer_bytes", "the receiver reads slowly; bytes pile up in the sender's buffer, and the server drops a subscriber 1 MiB behind"},
		{"unreliable", "link (online only)", "unreliable, loss_prob, dup_prob, reorder_prob, reorder_max_us", "datagram semantics: whole messages lost, duplicated or reordered; only contiguous clients can detect it"},
		{"idle timeout", "net", "idle_timeout_us", "a connection that gets nothing through this long (blackhole, partition, endless loss) resets on both ends"},
		{FaultReset, "fault", "client, channel", "reset the client's connection: in-flight bytes lost, both ends see the reset"},
		{FaultStall, "fault", "client, channel, duration_us", "hold server-to-client data, then release it in order"},
		{FaultBlackhole, "fault", "client, channel, duration_us", "drop server-to-client data; past the idle timeout the connection resets"},
		{FaultSlowClose, "fault", "client, channel, duration_us", "the connection's close reaches the peer duration_us late"},
		{FaultPartition, "fault", "client, direction (to_client|to_server), duration_us", "hold all traffic one way between the server and the client; connections reset after the idle timeout"},
		{FaultCrash, "fault", "client (a client's name or \"server\"), duration_us", "crash the node and restart it duration_us later: a server on what its disk kept, a client resuming from its last delivered seq"},
		{"trigger", "fault", "trigger (request|reply|overlap|client_done|evict|online), delay_us, on", "instead of at_us, inject the fault delay_us after the client (or the client named by on, as for a server crash) reaches that phase: faults at the handover"},
		{"failpoint", "failpoint", "name, prob, max", "fire a named protocol failpoint (simrun list failpoints) with probability prob, at most max times"},
		{"slow reader", "client", "read_bytes_per_sec", "this client reads its online channel at this rate, whatever net.online says: one slow consumer among fast ones"},
		{"lag limit", "server", "max_lag_bytes", "the server drops an online subscriber with this many bytes waiting unsent (default 1 MiB)"},
		{"malformed request", "client", "request_version", "the client's requests carry this version instead of 1: the server must refuse them with an Error (TLL answers nothing, P9)"},
		{"durable", "server", "durable", "sync every post before acknowledging and publishing it; the store is a simulated disk that loses its unsynced tail at a crash"},
	}
}
