package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/corralhq/corral/api"
	"github.com/corralhq/corral/daemon"
)

// Upgrade asks the daemon to replace its binary in place (empty binary: the
// one it was started from) and returns its description before and after.
// A refusal or a failed exec is an *Error with the daemon's reason (the old
// daemon runs on). When the exec happens the connection closes without an
// answer: Upgrade then asks the daemon behind the same socket for its
// description until ctx ends, and fails unless it is the same pid.
func (c *Client) Upgrade(ctx context.Context, binary string) (before, after daemon.Info, err error) {
	if before, err = c.Info(ctx); err != nil {
		return before, after, err
	}
	err = c.call(ctx, "POST", "/v1/upgrade", nil, api.UpgradeRequest{Binary: binary}, nil)
	var apiErr *Error
	if errors.As(err, &apiErr) || ctx.Err() != nil {
		return before, after, err
	}
	if err == nil {
		return before, after, errors.New("the daemon answered the upgrade without executing the new binary")
	}
	// The connection ended with the old image: wait for the new one.
	c.hc.CloseIdleConnections()
	for {
		after, err = c.Info(ctx)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return before, after, fmt.Errorf("the daemon did not answer after the upgrade: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if after.Pid != before.Pid {
		return before, after, fmt.Errorf("the daemon answering after the upgrade is pid %d, not %d", after.Pid, before.Pid)
	}
	return before, after, nil
}
