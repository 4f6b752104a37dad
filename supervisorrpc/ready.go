package supervisorrpc

// supervisord has no WAITING state: a process waiting for its dependencies
// is shown as STARTING, with a description naming what it waits for.
func asSupervisordState(p *proc) {
	if p.State == "WAITING" {
		p.StateCode, p.State = stateStarting, "STARTING"
	}
}

// readyDescription adds what readiness knows to supervisord's description:
// "waiting for db:ready" for a waiting process, and the STATUS= text a
// process sent ("pid 42, uptime 0:01:02, serving requests").
func readyDescription(p proc, desc string) string {
	if p.WaitingFor != "" {
		return "waiting for " + p.WaitingFor
	}
	if p.StatusText != "" && p.Pid != 0 {
		if desc == "" {
			return p.StatusText
		}
		return desc + ", " + p.StatusText
	}
	return desc
}
