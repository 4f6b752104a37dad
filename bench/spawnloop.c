/*
 * spawnloop: the machine's limit for supervising N programs.
 *
 * It posix_spawns N copies of one command, each in its own process group
 * (as corral does), then blocks in waitpid(-1) and respawns every child that
 * exits, at once and without backoff. Nothing else: no config, no logs, no
 * state machine. corralbench compiles it with gcc into a temporary directory
 * at run time and reports every other supervisor as a ratio against it.
 *
 * With SPAWNLOOP_CGROUP=DIR (a cgroup v2 directory) each child is forked
 * into its own cgroup DIR/cSLOT instead, made at its first spawn and reused
 * by its restarts, with clone3(CLONE_INTO_CGROUP) (glibc 2.36's posix_spawn
 * cannot): the kernel's cost of a process per cgroup, which corral pays by
 * default as root, as a second baseline (corralbench's spawnloop-cg). The
 * child is a vfork-like copy (CLONE_VFORK without CLONE_VM: clone3 on the
 * parent's stack would need a stack of its own), then setpgid and execve.
 *
 * With SPAWNLOOP_PROCS=K (K > 1) the N children are split among K loop
 * processes, this one and K-1 forked copies, each spawning and respawning
 * its own share in parallel (corralbench's spawnloop-2): what forking from
 * more than one thread or process buys on this machine. A fork with
 * CLONE_VFORK holds its parent until the child execs, so one loop's spawns
 * are serial, however many CPUs there are.
 *
 * usage: spawnloop N PATH [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char **child_argv;
static posix_spawnattr_t attr;
static int *slot_of; /* pid -> slot+1, 0 when the pid is not ours */
static long pid_max;
static const char *cgroup_base; /* SPAWNLOOP_CGROUP, or NULL */

/* spawn_cgroup forks a child into the cgroup of slot and returns its pid, or
 * -errno. */
static pid_t spawn_cgroup(int slot)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/c%d", cgroup_base, slot);
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "spawnloop: mkdir %s: %s\n", path, strerror(errno));
			exit(1);
		}
		fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		fprintf(stderr, "spawnloop: open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	struct clone_args args;
	memset(&args, 0, sizeof args);
	args.flags = CLONE_VFORK | CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)fd;
	long pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid == 0) {
		setpgid(0, 0);
		execve(child_argv[0], child_argv, environ);
		_exit(127);
	}
	int err = errno;
	close(fd);
	return pid < 0 ? -err : (pid_t)pid;
}

static void spawn(int slot)
{
	for (;;) {
		pid_t pid;
		int err;
		if (cgroup_base != NULL) {
			pid = spawn_cgroup(slot);
			err = pid < 0 ? -pid : 0;
		} else {
			err = posix_spawn(&pid, child_argv[0], NULL, &attr, child_argv, environ);
		}
		if (err == 0) {
			if (pid > pid_max) {
				fprintf(stderr, "spawnloop: pid %d above pid_max %ld\n", pid, pid_max);
				exit(1);
			}
			slot_of[pid] = slot + 1;
			return;
		}
		fprintf(stderr, "spawnloop: posix_spawn %s: %s\n", child_argv[0], strerror(err));
		if (err != EAGAIN && err != ENOMEM)
			exit(1);
		usleep(10000);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: spawnloop N PATH [ARG...]\n");
		return 2;
	}
	int n = atoi(argv[1]);
	child_argv = &argv[2];
	cgroup_base = getenv("SPAWNLOOP_CGROUP");

	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	if (f == NULL || fscanf(f, "%ld", &pid_max) != 1)
		pid_max = 4194304;
	if (f != NULL)
		fclose(f);
	slot_of = calloc(pid_max + 1, sizeof *slot_of);
	if (slot_of == NULL) {
		perror("spawnloop: calloc");
		return 1;
	}

	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);

	/* This process's share of the slots, [lo, hi). */
	int lo = 0, hi = n;
	const char *procs_env = getenv("SPAWNLOOP_PROCS");
	int procs = procs_env != NULL ? atoi(procs_env) : 1;
	if (procs > 1) {
		pid_t leader = getpid();
		hi = (int)((long)n / procs); /* the first share stays here */
		for (int k = 1; k < procs; k++) {
			pid_t pid = fork();
			if (pid < 0) {
				perror("spawnloop: fork");
				return 1;
			}
			if (pid == 0) {
				/* A copy ends with the first loop, as the harness expects. */
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				if (getppid() != leader)
					return 1;
				lo = (int)((long)n * k / procs);
				hi = (int)((long)n * (k + 1) / procs);
				break;
			}
		}
	}

	for (int i = lo; i < hi; i++)
		spawn(i);

	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			perror("spawnloop: waitpid");
			return 1;
		}
		if (pid <= pid_max && slot_of[pid] != 0) {
			int slot = slot_of[pid] - 1;
			slot_of[pid] = 0;
			spawn(slot);
		}
	}
}
