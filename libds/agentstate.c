// SPDX-License-Identifier: MIT
/* The agent's files: atomic replacement, candidates, last-known-good paths, audit log. */
#include "agentstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "clock.h"
#include "csv.h"

int ds_state_write_atomic(const char *dir, const char *name, const void *data, size_t len,
			  mode_t mode)
{
	char tmp[4096], dst[4096];
	int fd, dfd, err = 0;
	const char *p = data;

	if (snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%d", dir, name, (int)getpid()) >=
		(int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	if (!err && fchmod(fd, mode) < 0)
		err = -errno;
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, dst) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

bool ds_state_mesh_off(const char *dir)
{
	char path[4096];

	if (!dir || snprintf(path, sizeof(path), "%s/mesh-off", dir) >= (int)sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

const char *ds_cand_kind_str(int kind)
{
	switch (kind) {
	case DS_CANDK_HOST:
		return "host";
	case DS_CANDK_SRFLX:
		return "srflx";
	case DS_CANDK_RELAY:
		return "relay";
	default:
		return NULL;
	}
}

int ds_cand_kind_parse(const char *s)
{
	for (int k = DS_CANDK_HOST; k <= DS_CANDK_RELAY; k++)
		if (strcmp(s, ds_cand_kind_str(k)) == 0)
			return k;
	return 0;
}

int ds_cand_format(const char *name, const struct ds_cand *c, size_t n, int64_t realtime_ns,
		   char *buf, size_t cap)
{
	char ts[DS_ISO8601_LEN];
	size_t len;
	int r;

	ds_time_iso8601(ts, sizeof(ts), realtime_ns);
	r = snprintf(buf, cap, "name,kind,addr,ts\n");
	if (r < 0 || (size_t)r >= cap)
		return -ENOSPC;
	len = (size_t)r;
	for (size_t i = 0; i < n; i++) {
		char a[DS_ADDR_STRLEN];
		struct ds_csv_rec rec;
		const char *kind = ds_cand_kind_str(c[i].kind);

		if (!kind || !ds_addr_format(&c[i].addr, true, a, sizeof(a)))
			continue;
		ds_csv_rec_init(&rec, buf + len, cap - len);
		ds_csv_field(&rec, name);
		ds_csv_field(&rec, kind);
		ds_csv_field(&rec, a);
		ds_csv_field(&rec, ts);
		if (ds_csv_rec_end(&rec) < 0)
			return -ENOSPC;
		len += rec.len;
	}
	return (int)len;
}

int ds_cand_parse(const char *data, size_t len, const char *name, struct ds_cand *out, size_t max,
		  size_t *n)
{
	struct ds_csv_reader *rd;
	int cn, ck, ca, r;

	*n = 0;
	if (ds_csv_reader_mem(data, len, &rd) < 0)
		return -EBADMSG;
	cn = ds_csv_reader_column(rd, "name");
	ck = ds_csv_reader_column(rd, "kind");
	ca = ds_csv_reader_column(rd, "addr");
	if (cn < 0 || ck < 0 || ca < 0) {
		ds_csv_reader_free(rd);
		return -EBADMSG;
	}
	while (*n < max && (r = ds_csv_reader_next(rd)) != 0) {
		const char *nm, *kind, *addr;
		struct ds_cand c;

		if (r < 0)
			continue;
		nm = ds_csv_reader_get(rd, cn);
		kind = ds_csv_reader_get(rd, ck);
		addr = ds_csv_reader_get(rd, ca);
		if (!nm || !kind || !addr || (name && strcmp(nm, name) != 0))
			continue;
		c.kind = ds_cand_kind_parse(kind);
		if (!c.kind || ds_addr_parse(addr, 0, DS_ADDR_PORT_REQUIRED, &c.addr) != 0 ||
		    ds_addr_port(&c.addr) == 0 || ds_addr_is_any(&c.addr))
			continue;
		out[(*n)++] = c;
	}
	ds_csv_reader_free(rd);
	return 0;
}

static int cand_file(const char *name, char *buf, size_t cap)
{
	int r = snprintf(buf, cap, "cand-%s.csv", name);

	return r < 0 || (size_t)r >= cap ? -ENAMETOOLONG : 0;
}

int ds_cand_publish(const char *rdv_dir, const char *name, const struct ds_cand *c, size_t n)
{
	char file[128], buf[4096];
	int len, err;

	err = cand_file(name, file, sizeof(file));
	if (err)
		return err;
	len = ds_cand_format(name, c, n, ds_clock_realtime_ns(), buf, sizeof(buf));
	if (len < 0)
		return len;
	return ds_state_write_atomic(rdv_dir, file, buf, (size_t)len, 0644);
}

/* Changes whenever the file is replaced: two renames within one tick of the file system's
 * clock keep the modification time, never the inode (the old one is still held open or
 * was just freed, and the new file got another). */
static int64_t change_stamp(const struct stat *st)
{
	return (int64_t)((uint64_t)ds_timespec_ns(&st->st_mtim) * 1000003u + (uint64_t)st->st_ino);
}

static int read_small(const char *path, char *buf, size_t cap, size_t *len, int64_t *mtime_ns)
{
	struct stat st;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (mtime_ns)
		*mtime_ns = change_stamp(&st);
	r = read(fd, buf, cap);
	close(fd);
	if (r < 0)
		return -errno;
	*len = (size_t)r;
	return 0;
}

int ds_cand_mtime(const char *rdv_dir, const char *name, int64_t *mtime_ns)
{
	char file[128], path[4096];
	struct stat st;
	int err = cand_file(name, file, sizeof(file));

	if (err)
		return err;
	if (snprintf(path, sizeof(path), "%s/%s", rdv_dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (stat(path, &st) < 0)
		return -errno;
	*mtime_ns = change_stamp(&st);
	return 0;
}

int ds_cand_read(const char *rdv_dir, const char *name, struct ds_cand *out, size_t max, size_t *n,
		 int64_t *mtime_ns)
{
	char file[128], path[4096], buf[8192];
	size_t len;
	int err = cand_file(name, file, sizeof(file));

	*n = 0;
	if (err)
		return err;
	if (snprintf(path, sizeof(path), "%s/%s", rdv_dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	err = read_small(path, buf, sizeof(buf), &len, mtime_ns);
	if (err)
		return err;
	return ds_cand_parse(buf, len, name, out, max, n);
}

int ds_paths_format(const struct ds_path_rec *p, size_t n, char *buf, size_t cap)
{
	int r = snprintf(buf, cap, "peer,remote,local,confirmed\n");
	size_t len;

	if (r < 0 || (size_t)r >= cap)
		return -ENOSPC;
	len = (size_t)r;
	for (size_t i = 0; i < n; i++) {
		char rem[DS_ADDR_STRLEN], loc[DS_ADDR_STRLEN], ts[DS_ISO8601_LEN];
		struct ds_csv_rec rec;

		if (!ds_addr_format(&p[i].remote, true, rem, sizeof(rem)))
			continue;
		ds_csv_rec_init(&rec, buf + len, cap - len);
		ds_csv_field(&rec, p[i].peer);
		ds_csv_field(&rec, rem);
		ds_csv_field(&rec,
			     p[i].local.len && ds_addr_format(&p[i].local, false, loc, sizeof(loc))
				 ? loc
				 : NULL);
		ds_csv_field(&rec, p[i].confirmed_ns
				       ? ds_time_iso8601(ts, sizeof(ts), p[i].confirmed_ns)
				       : NULL);
		if (ds_csv_rec_end(&rec) < 0)
			return -ENOSPC;
		len += rec.len;
	}
	return (int)len;
}

/* "YYYY-" with 1970 <= YYYY <= 2200: strptime takes fewer digits and any year, and years
 * far off overflow int64 nanoseconds in ds_time_parse_iso8601. */
static bool plausible_year(const char *s)
{
	int y = 0;

	for (int i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		y = y * 10 + (s[i] - '0');
	}
	return s[4] == '-' && y >= 1970 && y <= 2200;
}

int ds_paths_parse(const char *data, size_t len, void (*fn)(void *arg, const struct ds_path_rec *p),
		   void *arg)
{
	struct ds_csv_reader *rd;
	int cp, cr, cl, cc, r;

	if (ds_csv_reader_mem(data, len, &rd) < 0)
		return -EBADMSG;
	cp = ds_csv_reader_column(rd, "peer");
	cr = ds_csv_reader_column(rd, "remote");
	cl = ds_csv_reader_column(rd, "local");
	cc = ds_csv_reader_column(rd, "confirmed");
	if (cp < 0 || cr < 0) {
		ds_csv_reader_free(rd);
		return -EBADMSG;
	}
	while ((r = ds_csv_reader_next(rd)) != 0) {
		struct ds_path_rec p;
		const char *peer, *rem, *loc, *conf;

		if (r < 0)
			continue;
		memset(&p, 0, sizeof(p));
		peer = ds_csv_reader_get(rd, cp);
		rem = ds_csv_reader_get(rd, cr);
		loc = cl >= 0 ? ds_csv_reader_get(rd, cl) : NULL;
		conf = cc >= 0 ? ds_csv_reader_get(rd, cc) : NULL;
		if (!peer || !rem || strlen(peer) >= sizeof(p.peer) || !*peer)
			continue;
		if (ds_addr_parse(rem, 0, DS_ADDR_PORT_REQUIRED, &p.remote) != 0 ||
		    ds_addr_port(&p.remote) == 0)
			continue;
		if (loc && *loc && ds_addr_parse(loc, 0, DS_ADDR_PORT_OPTIONAL, &p.local) != 0)
			p.local.len = 0;
		if (conf && *conf &&
		    (!plausible_year(conf) || ds_time_parse_iso8601(conf, &p.confirmed_ns) != 0))
			p.confirmed_ns = 0;
		memcpy(p.peer, peer, strlen(peer) + 1);
		fn(arg, &p);
	}
	ds_csv_reader_free(rd);
	return 0;
}

int ds_paths_load(const char *state_dir, void (*fn)(void *arg, const struct ds_path_rec *p),
		  void *arg)
{
	char path[4096];
	char *buf;
	size_t len;
	int err;

	if (snprintf(path, sizeof(path), "%s/paths.csv", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	buf = malloc(1 << 20);
	if (!buf)
		return -ENOMEM;
	err = read_small(path, buf, 1 << 20, &len, NULL);
	if (!err)
		err = ds_paths_parse(buf, len, fn, arg);
	free(buf);
	return err;
}

int ds_audit_open(const char *state_dir)
{
	char path[4096];
	struct stat st;
	int fd;

	if (snprintf(path, sizeof(path), "%s/audit.csv", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && st.st_size == 0) {
		static const char hdr[] = "ts,run_id,initiator,responder,test,bytes,outcome\n";

		if (write(fd, hdr, sizeof(hdr) - 1) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	return fd;
}

int ds_audit_append(int fd, uint32_t run_id, const char *initiator, const char *responder,
		    const char *test, uint64_t bytes, const char *outcome)
{
	char buf[512], ts[DS_ISO8601_LEN];
	struct ds_csv_rec rec;

	ds_csv_rec_init(&rec, buf, sizeof(buf));
	ds_csv_field(&rec, ds_time_now_iso8601(ts, sizeof(ts)));
	ds_csv_fieldf(&rec, "%08x", run_id);
	ds_csv_field(&rec, initiator);
	ds_csv_field(&rec, responder);
	ds_csv_field(&rec, test);
	ds_csv_fieldf(&rec, "%llu", (unsigned long long)bytes);
	ds_csv_field(&rec, outcome);
	if (ds_csv_rec_end(&rec) < 0)
		return -ENOSPC;
	return ds_csv_write_fd(fd, &rec);
}
