package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
)

// MaxRequest bounds a request body: a netconf plus a GC valid list of a
// few thousand attachments fits easily.
const MaxRequest = 4 << 20

// DecodeStrict reads exactly one JSON value of known fields, within
// MaxRequest bytes, into v. Unknown fields, a second value or trailing
// garbage are errors: a request is what the client meant, or refused.
func DecodeStrict(body io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(body, MaxRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.Decode(new(json.RawMessage)) != io.EOF {
		return errors.New("data after the request")
	}
	return nil
}

// DecodeCNIRequest reads a POST /v1/cni body. A body that is not exactly
// one CNIRequest is CNI error 6 (decoding failure), "malformed request",
// with the decoder's reason as details.
func DecodeCNIRequest(body io.Reader) (CNIRequest, *types.Error) {
	var req CNIRequest
	if err := DecodeStrict(body, &req); err != nil {
		return CNIRequest{}, types.NewError(types.ErrDecodingFailure, "malformed request", err.Error())
	}
	return req, nil
}

// CheckAttachment validates what every verb about one attachment needs
// and can be judged without the kernel: the container ID (1-256 bytes, no
// '/' or NUL) and the interface name (see ValidIfName). The netns is the
// daemon's to check. Errors are CNI error 4 (invalid environment
// variables), naming which.
func (r CNIRequest) CheckAttachment() *types.Error {
	if r.ContainerID == "" || len(r.ContainerID) > 256 || strings.ContainsAny(r.ContainerID, "/\x00") {
		return types.NewError(types.ErrInvalidEnvironmentVariables, "invalid CNI_CONTAINERID", fmt.Sprintf("%.64q", r.ContainerID))
	}
	if err := ValidIfName(r.IfName); err != nil {
		return types.NewError(types.ErrInvalidEnvironmentVariables, "invalid CNI_IFNAME", err.Error())
	}
	return nil
}

// ValidIfName accepts what the kernel accepts as an interface name
// (dev_valid_name in net/core/dev.c): 1-15 bytes, not "." or "..", and no
// '/', ':' or white space (the kernel's isspace, which counts byte 0xa0
// too). NUL is refused as well: the kernel would cut the name there.
func ValidIfName(s string) error {
	bad := s == "" || len(s) > 15 || s == "." || s == ".."
	for i := 0; i < len(s) && !bad; i++ {
		switch s[i] {
		case '/', ':', 0, ' ', '\t', '\n', '\v', '\f', '\r', 0xa0:
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("%.32q is not a valid interface name (1-15 bytes, no '/', ':' or spaces)", s)
	}
	return nil
}
