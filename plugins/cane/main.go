// Command cane is the CNI plugin. It forwards every request to caned over
// its unix socket and prints what caned answers.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/cane-cni/cane/api"
)

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    forward("ADD"),
		Del:    forward("DEL"),
		Check:  forward("CHECK"),
		GC:     forward("GC"),
		Status: forward("STATUS"),
	}, version.All, "Cane: a container network on Open vSwitch")
}

// forward sends the request to caned; on ADD it prints the result.
func forward(cmd string) func(*skel.CmdArgs) error {
	return func(args *skel.CmdArgs) error {
		if len(args.StdinData) > api.MaxNetConf {
			return types.NewError(types.ErrInvalidNetworkConfig, "network config too large", fmt.Sprintf("%d bytes on stdin, limit %d", len(args.StdinData), api.MaxNetConf))
		}
		var conf struct {
			Socket string `json:"socket"`
		}
		if err := json.Unmarshal(args.StdinData, &conf); err != nil {
			return types.NewError(types.ErrDecodingFailure, "cannot decode network config", err.Error())
		}
		if conf.Socket == "" {
			conf.Socket = api.DefaultSocket
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		res, cerr := api.NewClient(conf.Socket).CNI(ctx, api.CNIRequest{
			Command: cmd, ContainerID: args.ContainerID, Netns: args.Netns, IfName: args.IfName,
			Args: args.Args, Path: args.Path, Config: args.StdinData,
		})
		if cerr != nil {
			return cerr
		}
		if cmd == "ADD" {
			_, err := os.Stdout.Write(res)
			return err
		}
		return nil
	}
}
