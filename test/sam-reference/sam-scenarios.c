/*
 * Scenarios of corosync's test/testsam.c that need no running corosync (no QUORUM, no CMAP),
 * written anew for sanlock-ts: run against the real libsam, they give the expectations that
 * sam-scenarios.mjs (the same scenarios on @sanlock-ts/client/sam) must meet; see
 * test/sam-reference.test.ts and docs/sam.md §11. One line per observation on stdout.
 *
 *   restart: RESTART, interval 400 ms. Instance 1 sets the warn signal SIGUSR2, whose handler
 *            counts warnings in the data store, and stops sending heartbeats; instance 2 only
 *            installs the handler (the signal persists); instance 3 sets SIGKILL (no warning);
 *            instance 4 prints the count and the errors of calls in the wrong state, quits.
 *   quit:    QUIT, interval 400 ms; instance 1 hangs without a handler: SIGTERM ends it.
 *   hc:      RESTART, interval 400 ms; the health-check callback counts its calls in the data
 *            store and fails on call 3; instance 2 prints the count and quits.
 *   exit:    RESTART, no interval; instance 1 exits 3 while started (a recovery), instance 2
 *            exits 4 while not started (a clean quit with its status).
 */
#include <corosync/sam.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned int instance;

static int stored_count(void)
{
	char buf[32] = { 0 };
	size_t size = 0;

	if (sam_data_getsize(&size) != CS_OK || size == 0 || size >= sizeof(buf))
		return 0;
	if (sam_data_restore(buf, sizeof(buf)) != CS_OK)
		return -1;
	return atoi(buf);
}

static void store_count(int count)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", count);
	sam_data_store(buf, strlen(buf));
}

static void print_data(void)
{
	char buf[32] = { 0 };
	size_t size = 0;

	sam_data_getsize(&size);
	if (size == 0) {
		printf("instance %u data -\n", instance);
		return;
	}
	sam_data_restore(buf, sizeof(buf));
	printf("instance %u data %s\n", instance, buf);
}

static void on_warn(int sig)
{
	int count = stored_count() + 1;

	(void)sig;
	store_count(count);
	printf("instance %u warned %d\n", instance, count);
}

static int hc_calls;

static int health_check(void)
{
	hc_calls++;
	store_count(hc_calls);
	return hc_calls >= 3 ? -1 : 0;
}

static void hang(void)
{
	for (;;)
		pause();
}

static int restart_scenario(void)
{
	if (instance == 1) {
		sam_warn_signal_set(SIGUSR2);
		signal(SIGUSR2, on_warn);
	}
	if (instance == 2)
		signal(SIGUSR2, on_warn);
	if (instance == 3)
		sam_warn_signal_set(SIGKILL);
	if (instance <= 3) {
		sam_start();
		sam_hc_send();
		hang();
	}
	int hb = sam_hc_send();
	sam_start();
	int start = sam_start();
	sam_stop();
	int stop = sam_stop();
	sam_finalize();
	int after = sam_start();
	printf("instance %u errors %d %d %d %d\n", instance, hb, start, stop, after);
	return 0;
}

static int hc_scenario(void)
{
	if (instance == 1) {
		sam_hc_callback_register(health_check);
		sam_start();
		hang();
	}
	return 0;
}

static int exit_scenario(void)
{
	if (instance == 1) {
		sam_start();
		return 3;
	}
	return 4;
}

int main(int argc, char **argv)
{
	const char *scenario = argc > 1 ? argv[1] : "";
	int quit = strcmp(scenario, "quit") == 0;
	int interval = strcmp(scenario, "exit") == 0 ? 0 : 400;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (sam_initialize(interval, quit ? SAM_RECOVERY_POLICY_QUIT : SAM_RECOVERY_POLICY_RESTART) != CS_OK)
		return 90;
	if (sam_register(&instance) != CS_OK)
		return 91;
	print_data();
	if (strcmp(scenario, "restart") == 0)
		return restart_scenario();
	if (strcmp(scenario, "hc") == 0)
		return hc_scenario();
	if (strcmp(scenario, "exit") == 0)
		return exit_scenario();
	if (quit) {
		sam_start();
		sam_hc_send();
		hang();
	}
	return 92;
}
