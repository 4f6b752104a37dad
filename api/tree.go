package api

import "net/http"

// tree answers GET /v1/tree?name=...: every process of each named process
// (all when no name), from its cgroup, with its CPU and memory use.
func (h *handler) tree(w http.ResponseWriter, r *http.Request) {
	trees, err := h.d.Tree(r.URL.Query()["name"]...)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, trees)
}
