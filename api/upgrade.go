package api

import (
	"fmt"
	"net/http"
)

// UpgradeRequest is the body of POST /v1/upgrade.
type UpgradeRequest struct {
	// Binary is the corral binary to execute; empty means the one the
	// daemon was started from.
	Binary string `json:"binary,omitempty"`
}

// upgrade replaces the daemon's image in place (daemon.Upgrade). On success
// there is no answer: the exec closes the connection, and the client finds
// the new image behind the same socket (GET /v1/info, same pid). On
// failure the old image answers 422 with the reason and runs on unchanged.
func (h *handler) upgrade(w http.ResponseWriter, r *http.Request) {
	var req UpgradeRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
	}
	err := h.d.Upgrade(r.Context(), req.Binary)
	writeError(w, http.StatusUnprocessableEntity, fmt.Errorf("upgrade: %w", err))
}
