// SPDX-License-Identifier: MIT
#define UNIT_NAME "procmap"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procmap.h"

static char root[64];

static void put(const char *rel, const char *content)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	fputs(content, f);
	fclose(f);
}

static void link_to(const char *rel, const char *target)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (symlink(target, p) < 0)
		perror(p);
}

static void dir(const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	mkdir(p, 0755);
}

/* A /proc with two programs and a kernel-thread-like entry without fd/. */
static void make_tree(void)
{
	snprintf(root, sizeof(root), "/tmp/test_procmap.XXXXXX");
	if (!mkdtemp(root))
		abort();
	dir("100");
	dir("100/fd");
	put("100/comm", "firefox\n");
	link_to("100/exe", "/usr/lib/firefox/firefox");
	link_to("100/fd/3", "socket:[111]");
	link_to("100/fd/4", "/dev/null");
	link_to("100/fd/5", "socket:[222]");
	link_to("100/fd/6", "socket:[12x]");
	link_to("100/fd/7", "anon_inode:[eventfd]");
	dir("200");
	dir("200/fd");
	put("200/comm", "curl\n");
	link_to("200/exe", "/usr/bin/curl");
	link_to("200/fd/9", "socket:[333]");
	dir("2");
	put("2/comm", "kthreadd\n");
	dir("self");
	dir("sys");
}

static void remove_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

static void resolves_socket_inodes_to_programs(void)
{
	struct ds_procmap *m;
	struct ds_procinfo pi;
	uint32_t want[] = {111, 333, 999, 111};

	CHECK_INT(ds_procmap_new(root, &m), 0);
	CHECK_INT(ds_procmap_resolve(m, want, 4), 2);
	CHECK_INT(ds_procmap_lookup(m, 111, &pi), 0);
	CHECK_INT(pi.pid, 100);
	CHECK_STR(pi.comm, "firefox");
	CHECK_STR(pi.exe, "/usr/lib/firefox/firefox");
	CHECK_INT(ds_procmap_lookup(m, 333, &pi), 0);
	CHECK_INT(pi.pid, 200);
	CHECK_STR(pi.comm, "curl");
	CHECK_INT(ds_procmap_lookup(m, 999, &pi), -ENOENT);
	/* Not asked for: not cached (the walk stops early, it does not index everything). */
	CHECK_INT(ds_procmap_lookup(m, 222, &pi), -ENOENT);
	CHECK_INT(ds_procmap_lookup(m, 0, &pi), -ENOENT);
	CHECK_INT(ds_procmap_walks(m), 1);
	ds_procmap_free(m);
}

static void cached_between_sweeps_and_expired_when_gone(void)
{
	struct ds_procmap *m;
	struct ds_procinfo pi;
	uint32_t first[] = {111, 222, 333}, live[] = {333};

	CHECK_INT(ds_procmap_new(root, &m), 0);
	CHECK_INT(ds_procmap_resolve(m, first, 3), 3);
	CHECK_INT(ds_procmap_size(m), 3);
	/* Everything known: no walk. */
	CHECK_INT(ds_procmap_resolve(m, first, 3), 0);
	CHECK_INT(ds_procmap_walks(m), 1);
	ds_procmap_expire(m, live, 1);
	CHECK_INT(ds_procmap_size(m), 1);
	CHECK_INT(ds_procmap_lookup(m, 111, &pi), -ENOENT);
	CHECK_INT(ds_procmap_lookup(m, 333, &pi), 0);
	CHECK_STR(pi.comm, "curl");
	/* 111 is back (say, the same socket seen again): one more walk finds it. */
	CHECK_INT(ds_procmap_resolve(m, first, 1), 1);
	CHECK_INT(ds_procmap_walks(m), 2);
	CHECK_INT(ds_procmap_lookup(m, 111, &pi), 0);
	CHECK_STR(pi.exe, "/usr/lib/firefox/firefox");
	ds_procmap_free(m);
}

static void many_inodes_grow_the_cache(void)
{
	struct ds_procmap *m;
	struct ds_procinfo pi;
	uint32_t *want = malloc(3000 * sizeof(*want));
	int i;

	dir("300");
	dir("300/fd");
	put("300/comm", "busy\n");
	for (i = 0; i < 3000; i++) {
		char rel[64], target[64];

		snprintf(rel, sizeof(rel), "300/fd/%d", i + 10);
		snprintf(target, sizeof(target), "socket:[%d]", 50000 + i);
		link_to(rel, target);
		want[i] = (uint32_t)(50000 + i);
	}
	CHECK_INT(ds_procmap_new(root, &m), 0);
	CHECK_INT(ds_procmap_resolve(m, want, 3000), 3000);
	CHECK_INT(ds_procmap_size(m), 3000);
	CHECK_INT(ds_procmap_lookup(m, 52999, &pi), 0);
	CHECK_INT(pi.pid, 300);
	CHECK_STR(pi.exe, ""); /* no exe link: unreadable, empty */
	ds_procmap_expire(m, want + 1000, 1000);
	CHECK_INT(ds_procmap_size(m), 1000);
	CHECK_INT(ds_procmap_lookup(m, 51500, &pi), 0);
	CHECK_INT(ds_procmap_lookup(m, 50500, &pi), -ENOENT);
	ds_procmap_free(m);
	free(want);
}

static void missing_proc_is_an_error(void)
{
	struct ds_procmap *m;
	uint32_t want = 1;

	CHECK_INT(ds_procmap_new("/nonexistent/proc", &m), 0);
	CHECK_INT(ds_procmap_resolve(m, &want, 1), -ENOENT);
	ds_procmap_free(m);
}

int main(void)
{
	make_tree();
	UNIT_RUN(resolves_socket_inodes_to_programs);
	UNIT_RUN(cached_between_sweeps_and_expired_when_gone);
	UNIT_RUN(many_inodes_grow_the_cache);
	UNIT_RUN(missing_proc_is_an_error);
	remove_tree();
	UNIT_EXIT();
}
