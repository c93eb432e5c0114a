// SPDX-License-Identifier: MIT
/*
 * Socket inode -> process cache. Two tables: an open-addressing hash from inode to an index
 * in procs[], and procs[] itself (one record per process found owning a wanted socket), so
 * ten thousand sockets of one program cost one comm/exe read, not ten thousand.
 */
#include "procmap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct slot {
	uint32_t inode; /* 0 = empty (no socket has inode 0) */
	uint32_t proc;
};

struct ds_procmap {
	char *root;
	struct slot *slots;
	size_t nslots; /* power of two */
	size_t used;
	struct ds_procinfo *procs;
	size_t nprocs, cap_procs;
	unsigned walks;
};

static size_t hash_inode(uint32_t inode, size_t mask)
{
	return (size_t)((inode * 2654435761u) ^ (inode >> 16)) & mask;
}

static struct slot *find_slot(struct slot *slots, size_t nslots, uint32_t inode)
{
	size_t mask = nslots - 1, i = hash_inode(inode, mask);

	while (slots[i].inode && slots[i].inode != inode)
		i = (i + 1) & mask;
	return &slots[i];
}

static int grow(struct ds_procmap *m, size_t want_used)
{
	size_t n = m->nslots ? m->nslots : 256, i;
	struct slot *s;

	while (n < want_used * 2)
		n *= 2;
	if (n == m->nslots)
		return 0;
	s = calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (i = 0; i < m->nslots; i++)
		if (m->slots[i].inode)
			*find_slot(s, n, m->slots[i].inode) = m->slots[i];
	free(m->slots);
	m->slots = s;
	m->nslots = n;
	return 0;
}

int ds_procmap_new(const char *proc_root, struct ds_procmap **out)
{
	struct ds_procmap *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->root = strdup(proc_root ? proc_root : "/proc");
	if (!m->root || grow(m, 64) < 0) {
		ds_procmap_free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void ds_procmap_free(struct ds_procmap *m)
{
	if (!m)
		return;
	free(m->root);
	free(m->slots);
	free(m->procs);
	free(m);
}

int ds_procmap_lookup(const struct ds_procmap *m, uint32_t inode, struct ds_procinfo *out)
{
	const struct slot *s;

	if (!inode)
		return -ENOENT;
	s = find_slot(m->slots, m->nslots, inode);
	if (!s->inode)
		return -ENOENT;
	*out = m->procs[s->proc];
	return 0;
}

size_t ds_procmap_size(const struct ds_procmap *m)
{
	return m->used;
}

unsigned ds_procmap_walks(const struct ds_procmap *m)
{
	return m->walks;
}

/* "socket:[12345]" -> 12345; 0 for anything else. */
static uint32_t socket_link_inode(const char *link)
{
	unsigned long v = 0;
	const char *p;

	if (strncmp(link, "socket:[", 8) != 0)
		return 0;
	for (p = link + 8; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > UINT32_MAX)
			return 0;
	}
	return (*p == ']' && p[1] == '\0') ? (uint32_t)v : 0;
}

static void read_comm(int piddir, char *buf, size_t len)
{
	int fd = openat(piddir, "comm", O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	buf[0] = '\0';
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int add_proc(struct ds_procmap *m, pid_t pid, int piddir, uint32_t *index)
{
	struct ds_procinfo *p;
	ssize_t n;

	if (m->nprocs == m->cap_procs) {
		size_t cap = m->cap_procs ? m->cap_procs * 2 : 16;
		struct ds_procinfo *np = realloc(m->procs, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		m->procs = np;
		m->cap_procs = cap;
	}
	p = &m->procs[m->nprocs];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	read_comm(piddir, p->comm, sizeof(p->comm));
	n = readlinkat(piddir, "exe", p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = '\0';
	*index = (uint32_t)m->nprocs++;
	return 0;
}

/* The wanted set during a walk: inode -> 1 wanted, 2 found. */
struct want_set {
	struct slot *slots;
	size_t nslots;
};

static int is_pid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Look through one process's descriptors for wanted sockets. */
static int scan_process(struct ds_procmap *m, int procfd, const char *pidname, struct want_set *ws,
			size_t *remaining, int *found)
{
	int piddir, fddir, err = 0;
	DIR *fds;
	struct dirent *fe;
	bool have_proc = false;
	uint32_t proc_index = 0;

	piddir = openat(procfd, pidname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (piddir < 0)
		return 0; /* exited meanwhile */
	fddir = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fds = fddir >= 0 ? fdopendir(fddir) : NULL;
	if (!fds) {
		if (fddir >= 0)
			close(fddir);
		close(piddir);
		return 0; /* not ours to read, or gone */
	}
	while (*remaining && (fe = readdir(fds))) {
		char link[64];
		ssize_t len;
		uint32_t inode;
		struct slot *w, *s;

		if (fe->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(fds), fe->d_name, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		inode = socket_link_inode(link);
		if (!inode)
			continue;
		w = find_slot(ws->slots, ws->nslots, inode);
		if (w->inode != inode || w->proc != 1)
			continue;
		if (!have_proc) {
			err = add_proc(m, (pid_t)atol(pidname), piddir, &proc_index);
			if (err)
				break;
			have_proc = true;
		}
		w->proc = 2;
		s = find_slot(m->slots, m->nslots, inode);
		s->inode = inode;
		s->proc = proc_index;
		m->used++;
		(*remaining)--;
		(*found)++;
	}
	closedir(fds);
	close(piddir);
	return err;
}

int ds_procmap_resolve(struct ds_procmap *m, const uint32_t *want, size_t n)
{
	struct want_set ws = {0};
	size_t i, remaining = 0, nother = 0, cap_other = 0;
	int found = 0, err = 0;
	DIR *proc = NULL;
	struct dirent *de;
	char ownns[64] = "", path[300];
	ssize_t len;
	pid_t *other = NULL;

	ws.nslots = 64;
	while (ws.nslots < n * 2)
		ws.nslots *= 2;
	ws.slots = calloc(ws.nslots, sizeof(*ws.slots));
	if (!ws.slots)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct slot *s;

		if (!want[i] || find_slot(m->slots, m->nslots, want[i])->inode)
			continue;
		s = find_slot(ws.slots, ws.nslots, want[i]);
		if (!s->inode) {
			s->inode = want[i];
			s->proc = 1;
			remaining++;
		}
	}
	if (!remaining)
		goto out;
	err = grow(m, m->used + remaining);
	if (err)
		goto out;
	proc = opendir(m->root);
	if (!proc) {
		err = -errno;
		goto out;
	}
	m->walks++;
	/*
	 * The sockets of a network namespace are nearly always owned by processes in it, so
	 * those are walked first and the rest only for what is still missing: with a busy
	 * server in the next namespace, this halves the work.
	 */
	len = readlinkat(dirfd(proc), "self/ns/net", ownns, sizeof(ownns) - 1);
	ownns[len > 0 ? len : 0] = '\0';
	while (remaining && (de = readdir(proc))) {
		char ns[64];

		if (!is_pid_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/ns/net", de->d_name);
		len = readlinkat(dirfd(proc), path, ns, sizeof(ns) - 1);
		ns[len > 0 ? len : 0] = '\0';
		if (!ownns[0] || strcmp(ns, ownns) == 0) {
			err = scan_process(m, dirfd(proc), de->d_name, &ws, &remaining, &found);
			if (err)
				goto out;
			continue;
		}
		if (nother == cap_other) {
			size_t nc = cap_other ? cap_other * 2 : 256;
			pid_t *no = realloc(other, nc * sizeof(*no));

			if (!no) {
				err = -ENOMEM;
				goto out;
			}
			other = no;
			cap_other = nc;
		}
		other[nother++] = (pid_t)atol(de->d_name);
	}
	for (i = 0; remaining && i < nother; i++) {
		snprintf(path, sizeof(path), "%d", (int)other[i]);
		err = scan_process(m, dirfd(proc), path, &ws, &remaining, &found);
		if (err)
			goto out;
	}
out:
	if (proc)
		closedir(proc);
	free(other);
	free(ws.slots);
	return err ? err : found;
}

void ds_procmap_expire(struct ds_procmap *m, const uint32_t *live, size_t n)
{
	struct slot *keep;
	size_t nkeep = 64, i, used = 0;
	uint32_t *remap;
	struct ds_procinfo *procs;
	size_t nprocs = 0;

	while (nkeep < n * 2)
		nkeep *= 2;
	keep = calloc(nkeep, sizeof(*keep));
	remap = malloc((m->nprocs ? m->nprocs : 1) * sizeof(*remap));
	procs = malloc((m->nprocs ? m->nprocs : 1) * sizeof(*procs));
	if (!keep || !remap || !procs) {
		/* Out of memory: keep the stale cache; it is only a cache. */
		free(keep);
		free(remap);
		free(procs);
		return;
	}
	for (i = 0; i < m->nprocs; i++)
		remap[i] = UINT32_MAX;
	for (i = 0; i < n; i++) {
		const struct slot *s;
		struct slot *k;

		if (!live[i])
			continue;
		s = find_slot(m->slots, m->nslots, live[i]);
		if (!s->inode)
			continue;
		k = find_slot(keep, nkeep, live[i]);
		if (k->inode)
			continue;
		if (remap[s->proc] == UINT32_MAX) {
			procs[nprocs] = m->procs[s->proc];
			remap[s->proc] = (uint32_t)nprocs++;
		}
		k->inode = s->inode;
		k->proc = remap[s->proc];
		used++;
	}
	free(m->slots);
	free(m->procs);
	free(remap);
	m->slots = keep;
	m->nslots = nkeep;
	m->used = used;
	m->procs = procs;
	m->nprocs = nprocs;
	m->cap_procs = nprocs ? nprocs : 1; /* what was allocated is at least this */
}
