package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/corralhq/corral/daemon"
)

// A change the daemon could not save is a server error, with the daemon's
// message and, for an action, the per-process results.
func TestUnsavedChangesAreServerErrors(t *testing.T) {
	notSaved := fmt.Errorf("%w: program %q not added: no space left on device", daemon.ErrNotSaved, "web")
	if got := statusOf(notSaved); got != http.StatusInternalServerError {
		t.Errorf("status of %v: %d, want 500", notSaved, got)
	}
	// Even when the error also says the action failed or the program exists.
	both := fmt.Errorf("%w; %w", notSaved, daemon.ErrActionFailed)
	for _, err := range []error{notSaved, both} {
		rec := httptest.NewRecorder()
		writeResults(rec, []daemon.Result{{Name: "web"}}, err)
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("writeResults(%v): status %d, want 500", err, rec.Code)
		}
		var er ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &er); err != nil {
			t.Fatal(err)
		}
		if er.Error != err.Error() || len(er.Results) != 1 || er.Results[0].Name != "web" {
			t.Errorf("writeResults(%v): body %s", err, rec.Body)
		}
	}
}
