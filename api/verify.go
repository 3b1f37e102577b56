package api

// GET /v1/verify -> Verify: isolation proven over the flows the node has
// installed (verify.Verify on a native dump, with the node's sources).

// Verify is one verification of the node's installed flows.
type Verify struct {
	Node    string `json:"node"`
	Bridge  string `json:"bridge"`
	Proven  bool   `json:"proven"`
	Summary string `json:"summary"` // "isolation proven: N sources, M header classes, 0 violations"
	Sources int    `json:"sources"`
	Classes int    `json:"classes"`
	Flows   int    `json:"flows"`
	Millis  int64  `json:"millis"` // the verification, without the dump
	// Budget is the limit the verification ran out of ("time: more than
	// 10s", ...): then it is not proven, and Violations are those found
	// before. "" when it covered the whole node.
	Budget     string      `json:"budget,omitempty"`
	Violations []Violation `json:"violations"`
	Notes      []string    `json:"notes,omitempty"` // approximations and same-priority overlaps: not violations
}

// Violation is one thing the verifier found, with a packet that shows it.
type Violation struct {
	Kind     string `json:"kind"` // isolation, spoof, admission, leak, loop, black-hole, unmodelled
	Source   string `json:"source"`
	Sources  int    `json:"sources"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	ToDomain string `json:"toDomain,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Classes  int    `json:"classes"`
	// Witness is the packet in ovs-ofctl flow syntax, as ofproto/trace
	// and `canectl trace --witness` take it; CTNext the ct_state of each
	// conntrack recirculation on its path (ofproto/trace --ct-next).
	Witness string   `json:"witness"`
	CTNext  []string `json:"ctNext,omitempty"`
	Path    []Hop    `json:"path"`
	Line    string   `json:"line"` // the violation in one line
}

// Hop is one flow a witness crosses, or a recirculation.
type Hop struct {
	Table     uint8  `json:"table"`
	TableName string `json:"tableName"`
	Priority  uint16 `json:"priority,omitempty"`
	Cookie    string `json:"cookie,omitempty"`
	Flow      string `json:"flow,omitempty"`
	Clause    bool   `json:"clause,omitempty"`    // a flow of a conjunctive match
	Conntrack string `json:"conntrack,omitempty"` // a recirculation: the ct_state assumed
}
