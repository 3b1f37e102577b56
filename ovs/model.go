package ovs

import "github.com/ovn-kubernetes/libovsdb/model"

// Hand-written models of the four Open_vSwitch tables Cane touches, with
// only the columns it uses. Types follow libovsdb's mapping: optional
// scalars are pointers, sets are slices.

type ovsRoot struct {
	UUID          string            `ovsdb:"_uuid"`
	Bridges       []string          `ovsdb:"bridges"`
	OtherConfig   map[string]string `ovsdb:"other_config"`
	ExternalIDs   map[string]string `ovsdb:"external_ids"`
	OVSVersion    *string           `ovsdb:"ovs_version"`
	DatapathTypes []string          `ovsdb:"datapath_types"`
}

type bridge struct {
	UUID         string            `ovsdb:"_uuid"`
	Name         string            `ovsdb:"name"`
	Ports        []string          `ovsdb:"ports"`
	DatapathType string            `ovsdb:"datapath_type"`
	FailMode     *string           `ovsdb:"fail_mode"`
	Protocols    []string          `ovsdb:"protocols"`
	OtherConfig  map[string]string `ovsdb:"other_config"`
	ExternalIDs  map[string]string `ovsdb:"external_ids"`
}

type port struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Interfaces  []string          `ovsdb:"interfaces"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
}

type iface struct {
	UUID          string            `ovsdb:"_uuid"`
	Name          string            `ovsdb:"name"`
	Type          string            `ovsdb:"type"`
	OFPort        *int              `ovsdb:"ofport"`
	OFPortRequest *int              `ovsdb:"ofport_request"`
	Error         *string           `ovsdb:"error"`
	Options       map[string]string `ovsdb:"options"`
	ExternalIDs   map[string]string `ovsdb:"external_ids"`
	MTU           *int              `ovsdb:"mtu"`
	MAC           *string           `ovsdb:"mac"`
	Statistics    map[string]int    `ovsdb:"statistics"`
}

func dbModel() (model.ClientDBModel, error) {
	return model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		"Open_vSwitch": &ovsRoot{},
		"Bridge":       &bridge{},
		"Port":         &port{},
		"Interface":    &iface{},
	})
}
