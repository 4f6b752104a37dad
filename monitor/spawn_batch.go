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
	type pending struct {
		i       int
		p       *process
		job     *spawnJob
		release func()
	}
	var batch []pending
	var jobs []*spawnJob
	inBatch := map[*process]bool{}
	var again []int
	for i, name := range names {
		p, err := l.get(name)
		if err == nil {
			err = l.startable(p)
		}
		if err == nil && inBatch[p] {
			// Named again: started after the batch, one at a time, so
			// it finds what a second Start would.
			again = append(again, i)
			continue
		}
		if err != nil {
			errs[i] = err
			continue
		}
		inBatch[p] = true
		p.failures, p.crashes, p.retries = 0, 0, 0
		j, release, err := l.prepareProcess(&p.spec)
		if err != nil {
			errs[i] = l.spawned(p, 0, err)
			continue
		}
		batch = append(batch, pending{i, p, j, release})
		jobs = append(jobs, j)
	}
	defer func() {
		for _, i := range again {
			p, err := l.get(names[i])
			if err == nil {
				err = l.start(p)
			}
			errs[i] = err
		}
	}()
	if len(jobs) == 0 {
		return
	}
	err := spawner.spawn(jobs)
	for _, b := range batch {
		b.release()
		if err != nil && b.job.pid == 0 && b.job.err == nil {
			b.job.err = err // the request itself failed
		}
		pid, err := l.spawnedBySpawner(b.job, l.watch)
		errs[b.i] = l.spawned(b.p, pid, err)
	}
}
