package monitor

// startEach is StartEach's batch on the loop: a user's start of each name,
// with errs[i] the outcome for names[i]. With the spawner thread the whole
// batch is one request (one channel round trip, one SCM_RIGHTS message);
// without it the processes are spawned one by one, as Start does.
func (l *loop) startEach(names []string, errs []error) {
	if spawner == nil {
		for i, name := range names {
			p, err := l.get(name)
			if err == nil {
				err = l.start(p)
			}
			errs[i] = err
		}
		return
	}
	var batch []*process
	var at []int
	inBatch := map[*process]bool{}
	var again []int
	for i, name := range names {
		p, err := l.get(name)
		if err == nil {
			err = l.startable(p)
		}
		if err == nil && (inBatch[p] || len(p.spec.Readiness.Deps) > 0) {
			// Named again: started after the batch, one at a time, so
			// it finds what a second Start would. A process with
			// dependencies, too: it may wait for them, or go FATAL.
			again = append(again, i)
			continue
		}
		if err != nil {
			errs[i] = err
			continue
		}
		inBatch[p] = true
		p.failures, p.crashes, p.retries = 0, 0, 0
		batch = append(batch, p)
		at = append(at, i)
	}
	for k, err := range l.spawnMany(batch) {
		errs[at[k]] = err
	}
	for _, i := range again {
		p, err := l.get(names[i])
		if err == nil {
			err = l.start(p)
		}
		errs[i] = err
	}
}

// spawnMany spawns each of ps as spawn does, in one request to the spawner
// thread, and returns spawn's error for each.
func (l *loop) spawnMany(ps []*process) []error {
	errs := make([]error, len(ps))
	type pending struct {
		i       int
		p       *process
		job     *spawnJob
		release func()
	}
	var batch []pending
	var jobs []*spawnJob
	seen := resolved{}
	for i, p := range ps {
		if p.spec.PreStart != nil {
			// Its hook first: spawned by the hook's end (hooks.go).
			errs[i] = l.spawn(p)
			continue
		}
		spec := &p.spec
		if p.cgKills > 0 && spec.Cgroup != "" {
			spec = l.freshCgroup(p) // see spawnMain
		}
		j, release, err := l.prepareProcess(spec, seen)
		if err != nil {
			errs[i] = l.spawned(p, 0, err)
			continue
		}
		batch = append(batch, pending{i, p, j, release})
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		return errs
	}
	err := spawner.spawn(jobs)
	for _, b := range batch {
		b.release()
		if err != nil && b.job.pid == 0 && b.job.err == nil {
			b.job.err = err // the request itself failed
		}
		pid, ticks, err := l.spawnedBySpawner(b.job, l.watch)
		errs[b.i] = l.spawnedAt(b.p, pid, ticks, err)
	}
	return errs
}

// respawn spawns p again: a restart the loop decided (policy, backoff,
// retry out of FATAL). During a reap or timer turn with the spawner
// thread, it joins the turn's batch: a kill storm's restarts go to the
// spawner together.
func (l *loop) respawn(p *process) {
	if !l.batching {
		_ = l.spawn(p)
		return
	}
	l.respawns = append(l.respawns, p)
}

// batchRespawns runs one reap or timer turn, then spawns the restarts it
// decided, in batches of at most 64 so the loop stays responsive. Every pid
// is recorded before the loop can reap again.
func (l *loop) batchRespawns(turn func()) {
	l.batching = spawner != nil
	turn()
	l.batching = false
	ps := l.respawns
	l.respawns = nil
	for len(ps) > 0 {
		n := min(len(ps), 64)
		var batch []*process
		for _, p := range ps[:n] {
			// Queued in this turn and spawned by nothing since: still
			// waiting for its new pid (EXITED, BACKOFF or FATAL).
			if p.pid == 0 || l.byPid[p.pid] != p {
				batch = append(batch, p)
			}
		}
		l.spawnMany(batch)
		ps = ps[n:]
	}
}
