/*
 * spawnloop: the machine's limit for supervising N programs.
 *
 * It posix_spawns N copies of one command, each in its own process group
 * (as corral does), then blocks in waitpid(-1) and respawns every child that
 * exits, at once and without backoff. Nothing else: no config, no logs, no
 * state machine. corralbench compiles it with gcc into a temporary directory
 * at run time and reports every other supervisor as a ratio against it.
 *
 * usage: spawnloop N PATH [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char **child_argv;
static posix_spawnattr_t attr;
static int *slot_of; /* pid -> slot+1, 0 when the pid is not ours */
static long pid_max;

static void spawn(int slot)
{
	for (;;) {
		pid_t pid;
		int err = posix_spawn(&pid, child_argv[0], NULL, &attr, child_argv, environ);
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

	for (int i = 0; i < n; i++)
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
