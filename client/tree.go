package client

import (
	"context"
	"net/url"

	"github.com/corralhq/corral/daemon"
)

// Tree returns every process of each process that names designate (all
// without names), with CPU and memory from its cgroup when the daemon has
// cgroups.
func (c *Client) Tree(ctx context.Context, names ...string) ([]daemon.ProcessTree, error) {
	var out []daemon.ProcessTree
	err := c.call(ctx, "GET", "/v1/tree", url.Values{"name": names}, nil, &out)
	return out, err
}
