// SPDX-License-Identifier: MIT
#define UNIT_NAME "test_agentstate"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include "agentstate.h"
#include "clock.h"

static char dir[64];

static void read_all(const char *name, char *buf, size_t cap)
{
	char path[128];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, cap - 1) : -1;
	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

static int count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	if (d)
		closedir(d);
	return n;
}

static void atomic_write_replaces_and_leaves_no_temp_file(void)
{
	char buf[64];
	struct stat st;
	char path[128];

	CHECK_INT(ds_state_write_atomic(dir, "f", "one\n", 4, 0640), 0);
	CHECK_INT(ds_state_write_atomic(dir, "f", "two\n", 4, 0640), 0);
	read_all("f", buf, sizeof(buf));
	CHECK_STR(buf, "two\n");
	snprintf(path, sizeof(path), "%s/f", dir);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0640);
	CHECK_INT(count_files(), 1);
	CHECK_INT(ds_state_write_atomic("/nonexistent-dir-x", "f", "x", 1, 0600), -ENOENT);
	unlink(path);
}

static void mesh_flag_file(void)
{
	char path[128];

	CHECK(!ds_state_mesh_off(dir));
	snprintf(path, sizeof(path), "%s/mesh-off", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	CHECK(ds_state_mesh_off(dir));
	unlink(path);
	CHECK(!ds_state_mesh_off(NULL));
}

static void candidates_round_trip_through_the_file(void)
{
	struct ds_cand c[3], back[DS_CAND_MAX];
	size_t n;
	char s[DS_ADDR_STRLEN], path[128];

	c[0].kind = DS_CANDK_HOST;
	ds_addr_parse("192.168.1.10:41878", 0, 0, &c[0].addr);
	c[1].kind = DS_CANDK_SRFLX;
	ds_addr_parse("203.0.113.5:54321", 0, 0, &c[1].addr);
	c[2].kind = DS_CANDK_HOST;
	ds_addr_parse("[2001:db8::10]:41878", 0, 0, &c[2].addr);
	CHECK_INT(ds_cand_publish(dir, "hq", c, 3), 0);
	CHECK_INT(ds_cand_read(dir, "hq", back, DS_CAND_MAX, &n, NULL), 0);
	CHECK_INT(n, 3);
	CHECK_INT(back[1].kind, DS_CANDK_SRFLX);
	CHECK_STR(ds_addr_format(&back[2].addr, true, s, sizeof(s)), "[2001:db8::10]:41878");
	CHECK_INT(ds_cand_read(dir, "nobody", back, DS_CAND_MAX, &n, NULL), -ENOENT);
	/* At most max are kept. */
	CHECK_INT(ds_cand_read(dir, "hq", back, 2, &n, NULL), 0);
	CHECK_INT(n, 2);
	snprintf(path, sizeof(path), "%s/cand-hq.csv", dir);
	unlink(path);
}

static void candidate_parser_skips_bad_rows_and_other_names(void)
{
	static const char f[] = "kind,addr,name\n"
				"host,192.0.2.1:5,hq\n"
				"bogus,192.0.2.2:5,hq\n"      /* unknown kind */
				"host,192.0.2.3:0,hq\n"       /* port 0 */
				"host,0.0.0.0:5,hq\n"         /* any */
				"host,192.0.2.4,hq\n"         /* no port */
				"srflx,192.0.2.5:5,laptop\n"; /* someone else's */
	struct ds_cand c[8];
	size_t n;

	CHECK_INT(ds_cand_parse(f, sizeof(f) - 1, "hq", c, 8, &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(ds_cand_parse("x,y\n1,2\n", 8, "hq", c, 8, &n), -EBADMSG);
}

static int npaths;
static struct ds_path_rec last;
static void got_path(void *arg, const struct ds_path_rec *p)
{
	npaths++;
	last = *p;
}

static void paths_round_trip_and_bad_rows_are_skipped(void)
{
	struct ds_path_rec p[2];
	char buf[1024];
	int len;

	memset(p, 0, sizeof(p));
	snprintf(p[0].peer, sizeof(p[0].peer), "hq");
	ds_addr_parse("203.0.113.5:41878", 0, 0, &p[0].remote);
	ds_addr_parse("192.168.1.2", 0, 0, &p[0].local);
	p[0].confirmed_ns = 1795000000123000000LL;
	snprintf(p[1].peer, sizeof(p[1].peer), "laptop");
	ds_addr_parse("[2001:db8::5]:41878", 0, 0, &p[1].remote);
	len = ds_paths_format(p, 2, buf, sizeof(buf));
	CHECK(len > 0);
	npaths = 0;
	CHECK_INT(ds_paths_parse(buf, (size_t)len, got_path, NULL), 0);
	CHECK_INT(npaths, 2);
	CHECK_STR(last.peer, "laptop");
	CHECK_INT(last.confirmed_ns, 0);
	npaths = 0;
	CHECK_INT(ds_paths_parse(buf, 40, got_path, NULL), 0); /* cut mid-row */
	CHECK(npaths <= 1);
	/* A year strptime would take but int64 nanoseconds cannot hold: ignored, row kept. */
	{
		static const char f[] =
		    "peer,remote,confirmed\nhq,192.0.2.1:5,7666-11-23T12:00:00Z\n"
		    "x,192.0.2.1:5,202-11-23T12:00:00Z\n";

		npaths = 0;
		CHECK_INT(ds_paths_parse(f, sizeof(f) - 1, got_path, NULL), 0);
		CHECK_INT(npaths, 2);
		CHECK_INT(last.confirmed_ns, 0);
	}
}

static void audit_log_has_a_header_once_and_whole_lines(void)
{
	char buf[1024], path[128];
	int fd;

	fd = ds_audit_open(dir);
	CHECK(fd >= 0);
	CHECK_INT(ds_audit_append(fd, 0xabcdef01, "hq", "laptop", "echo", 1234, "ok"), 0);
	close(fd);
	fd = ds_audit_open(dir);
	CHECK_INT(ds_audit_append(fd, 7, "hq", "a,b", "pair", 0, "aborted"), 0);
	close(fd);
	read_all("audit.csv", buf, sizeof(buf));
	CHECK(strncmp(buf, "ts,run_id,initiator,responder,test,bytes,outcome\n", 49) == 0);
	CHECK(strstr(buf, ",abcdef01,hq,laptop,echo,1234,ok\n") != NULL);
	CHECK(strstr(buf, ",00000007,hq,\"a,b\",pair,0,aborted\n") != NULL);
	CHECK(strstr(buf + 1, "ts,run_id") == NULL);
	snprintf(path, sizeof(path), "%s/audit.csv", dir);
	unlink(path);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_agentstate.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	UNIT_RUN(atomic_write_replaces_and_leaves_no_temp_file);
	UNIT_RUN(mesh_flag_file);
	UNIT_RUN(candidates_round_trip_through_the_file);
	UNIT_RUN(candidate_parser_skips_bad_rows_and_other_names);
	UNIT_RUN(paths_round_trip_and_bad_rows_are_skipped);
	UNIT_RUN(audit_log_has_a_header_once_and_whole_lines);
	rmdir(dir);
	UNIT_EXIT();
}
