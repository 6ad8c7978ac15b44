// SPDX-License-Identifier: MIT
/*
 * The C reference of the inquiry benchmark (scripts/bench_inquiry.ts): a scanner
 * of <root>/class/warpdrive that reads the same attributes by the same rules as
 * src/sysfs/enumerate.ts and src/select/select.ts:
 *
 *   - list the class directory and each device's mdev_supported_types/, sort
 *     the names in natural order;
 *   - every attribute is open(O_RDONLY|O_NONBLOCK) / one read of a page plus
 *     one byte / close, then parsed (trimmed token, decimal, hex flags, level
 *     in [0, 99], count >= 0);
 *   - with an algorithm: a type whose name differs is read no further, a
 *     device with no such type keeps wdev/ unread; devices/ entries must be
 *     UUIDs; zone_id falls back to node_id, iommu to iommu_type;
 *   - match (name, problems, flags, device_api, device problems, priority in
 *     [-100, 99], an mdev or allow-create with capacity), then rank: priority
 *     ascending, throughput descending, available_instances descending,
 *     device id then type directory in natural order.
 *
 *   gcc -O2 -o inquiry scripts/bench/inquiry.c
 *   inquiry -r RUNS [-a ALG] [-f FLAGS] [-p API] ROOT
 *
 * Without -a it reads everything (what `wd list` reads) and selects nothing.
 * Output: one JSON object per run: {"lang":"c","mode":"inquiry"|"list",
 * "ms":T,"devices":D,"types":N,"device":"...","type":"..."}.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ATTRIBUTE_MAX_BYTES 4096
#define PRIORITY_MIN (-100)
#define PRIORITY_MAX 99
#define LEVEL_MAX 99
#define NAME_MAX_LEN 256

struct type {
	char dir[NAME_MAX + 1];
	char name[NAME_MAX_LEN + 1], wd_type[NAME_MAX_LEN + 1], api[NAME_MAX_LEN + 1];
	int has_name, partial;
	long long flags, latency, throughput, available;
	int mdevs;
	int problems;
};

struct device {
	char id[NAME_MAX + 1];
	long long zone, priority, iommu;
	int enabled, problems, partial;
	struct type *types;
	int ntypes;
};

/* snprintf into a path buffer; a path that does not fit stops the scanner. */
#define PATHF(buf, ...)                                                          \
	do {                                                                     \
		if (snprintf(buf, sizeof(buf), __VA_ARGS__) >= (int)sizeof(buf)) { \
			fprintf(stderr, "inquiry: path too long\n");            \
			exit(2);                                                 \
		}                                                                \
	} while (0)

/* ---- natural order (as naturalCompare in src/sysfs/parse.ts) ------------ */

static int natural_compare(const char *a, const char *b)
{
	while (*a && *b) {
		int da = isdigit((unsigned char)*a), db = isdigit((unsigned char)*b);
		const char *ea = a, *eb = b;

		while (*ea && !!isdigit((unsigned char)*ea) == !!da)
			ea++;
		while (*eb && !!isdigit((unsigned char)*eb) == !!db)
			eb++;
		size_t la = ea - a, lb = eb - b;
		if (la != lb || memcmp(a, b, la)) {
			if (da && db) {
				/* Compare as numbers: skip leading zeros, then by length, then digits. */
				const char *pa = a, *pb = b;
				while (pa < ea - 1 && *pa == '0')
					pa++;
				while (pb < eb - 1 && *pb == '0')
					pb++;
				size_t na = ea - pa, nb = eb - pb;
				if (na != nb)
					return na < nb ? -1 : 1;
				int c = memcmp(pa, pb, na);
				if (c)
					return c;
				return (int)la - (int)lb;
			}
			size_t n = la < lb ? la : lb;
			int c = memcmp(a, b, n);
			if (c)
				return c;
			/* One run is a prefix of the other: the runs differ as strings. */
			return la < lb ? -1 : 1;
		}
		a = ea;
		b = eb;
	}
	return *a ? 1 : *b ? -1 : 0;
}

static int cmp_names(const void *x, const void *y)
{
	return natural_compare(*(char *const *)x, *(char *const *)y);
}

/* ---- attributes ----------------------------------------------------------- */

/* open / one read / close; returns the length, or -errno. */
static int read_attr(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, ATTRIBUTE_MAX_BYTES + 1);
	if (n < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	if (n > ATTRIBUTE_MAX_BYTES)
		return -EFBIG;
	buf[n] = 0;
	return (int)n;
}

/* Trims white space in place; returns the start. */
static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = 0;
	return s;
}

static int parse_token(char *text, char *out)
{
	char *t = trim(text);
	size_t n = strlen(t);

	if (!n || n > NAME_MAX_LEN)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f || isspace((unsigned char)t[i]))
			return -1;
	memcpy(out, t, n + 1);
	return 0;
}

static int parse_decimal(char *text, long long *out)
{
	char *t = trim(text), *p = t;

	if (*p == '+' || *p == '-')
		p++;
	if (!*p)
		return -1;
	for (char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return -1;
	errno = 0;
	long long v = strtoll(t, NULL, 10);
	if (errno || v > 9007199254740991LL || v < -9007199254740991LL)
		return -1;
	*out = v;
	return 0;
}

static int parse_flags(char *text, long long *out)
{
	char *t = trim(text);

	if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))
		t += 2;
	if (!*t)
		return -1;
	for (char *q = t; *q; q++)
		if (!isxdigit((unsigned char)*q))
			return -1;
	while (t[0] == '0' && t[1])
		t++;
	if (strlen(t) > 8)
		return -1;
	*out = (long long)strtoul(t, NULL, 16);
	return 0;
}

static int is_uuid(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };

	if (strlen(s) != 36)
		return 0;
	for (int i = 0, d = 0; i < 36; i++) {
		if (d < 4 && i == dash[d]) {
			if (s[i] != '-')
				return 0;
			d++;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

enum kind { TOKEN, DECIMAL, FLAGS, LEVEL, COUNT };

/* Reads and parses one attribute of dir; counts a problem when it fails. */
static void value(const char *dir, const char *rel, const char *fallback, enum kind k,
		  long long *num, char *str, int *problems)
{
	char path[PATH_MAX], buf[ATTRIBUTE_MAX_BYTES + 2];
	int n, ok;

	PATHF(path, "%s/%s", dir, rel);
	n = read_attr(path, buf);
	if (n == -ENOENT && fallback) {
		PATHF(path, "%s/%s", dir, fallback);
		n = read_attr(path, buf);
	}
	if (n < 0) {
		(*problems)++;
		return;
	}
	switch (k) {
	case TOKEN: ok = !parse_token(buf, str); break;
	case DECIMAL: ok = !parse_decimal(buf, num); break;
	case FLAGS: ok = !parse_flags(buf, num); break;
	case LEVEL: ok = !parse_decimal(buf, num) && *num >= 0 && *num <= LEVEL_MAX; break;
	default: ok = !parse_decimal(buf, num) && *num >= 0; break;
	}
	if (!ok)
		(*problems)++;
}

/* Lists a directory (names only, as readdir gives them), sorted naturally. */
static char **list(const char *path, int *count)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;
	int n = 0, cap = 0;

	*count = -1;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	*count = n;
	return names;
}

static void free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---- enumerate ------------------------------------------------------------ */

static void read_type(const char *types_dir, const char *entry, const char *alg, struct type *t)
{
	char dir[PATH_MAX], devs[PATH_MAX];
	char **names;
	int n;

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "%s", entry);
	PATHF(dir, "%s/%s", types_dir, entry);
	value(dir, "name", NULL, TOKEN, NULL, t->name, &t->problems);
	t->has_name = t->problems == 0;
	if (alg && t->has_name && strcmp(t->name, alg)) {
		t->partial = 1;
		return;
	}
	value(dir, "wd_type", NULL, TOKEN, NULL, t->wd_type, &t->problems);
	value(dir, "flags", NULL, FLAGS, &t->flags, NULL, &t->problems);
	value(dir, "latency", NULL, LEVEL, &t->latency, NULL, &t->problems);
	value(dir, "throughput", NULL, LEVEL, &t->throughput, NULL, &t->problems);
	value(dir, "available_instances", NULL, COUNT, &t->available, NULL, &t->problems);
	value(dir, "device_api", NULL, TOKEN, NULL, t->api, &t->problems);
	PATHF(devs, "%s/devices", dir);
	names = list(devs, &n);
	if (n < 0) {
		t->problems++;
		return;
	}
	for (int i = 0; i < n; i++) {
		if (is_uuid(names[i]))
			t->mdevs++;
		else
			t->problems++;
	}
	free_names(names, n);
}

static void read_device(const char *class_dir, const char *entry, const char *alg, struct device *d)
{
	char dev[PATH_MAX], types_dir[PATH_MAX];
	char **names;
	int n, offers = 0;

	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", entry);
	PATHF(dev, "%s/%s", class_dir, entry);
	PATHF(types_dir, "%s/mdev_supported_types", dev);
	names = list(types_dir, &n);
	if (n < 0) {
		d->problems++;
		return;
	}
	d->types = calloc(n ? n : 1, sizeof(*d->types));
	d->ntypes = n;
	for (int i = 0; i < n; i++) {
		read_type(types_dir, names[i], alg, &d->types[i]);
		offers |= alg && d->types[i].has_name && !strcmp(d->types[i].name, alg);
	}
	free_names(names, n);
	if (alg && !offers) {
		d->partial = 1;
		return;
	}
	value(dev, "wdev/zone_id", "wdev/node_id", DECIMAL, &d->zone, NULL, &d->problems);
	value(dev, "wdev/priority", NULL, DECIMAL, &d->priority, NULL, &d->problems);
	value(dev, "wdev/iommu", "wdev/iommu_type", COUNT, &d->iommu, NULL, &d->problems);
	d->enabled = !d->problems && d->priority >= PRIORITY_MIN && d->priority <= PRIORITY_MAX;
}

static struct device *enumerate(const char *root, const char *alg, int *count)
{
	char class_dir[PATH_MAX];
	char **names;
	struct device *devs;
	int n;

	PATHF(class_dir, "%s/class/warpdrive", root);
	names = list(class_dir, &n);
	if (n < 0) {
		perror(class_dir);
		exit(2);
	}
	devs = calloc(n ? n : 1, sizeof(*devs));
	for (int i = 0; i < n; i++)
		read_device(class_dir, names[i], alg, &devs[i]);
	free_names(names, n);
	*count = n;
	return devs;
}

static void free_devices(struct device *devs, int n)
{
	for (int i = 0; i < n; i++)
		free(devs[i].types);
	free(devs);
}

/* ---- select --------------------------------------------------------------- */

struct pair {
	struct device *d;
	struct type *t;
};

static int cmp_pairs(const void *x, const void *y)
{
	const struct pair *a = x, *b = y;
	int c;

	if (a->d->priority != b->d->priority)
		return a->d->priority < b->d->priority ? -1 : 1;
	if (a->t->throughput != b->t->throughput)
		return a->t->throughput > b->t->throughput ? -1 : 1;
	if (a->t->available != b->t->available)
		return a->t->available > b->t->available ? -1 : 1;
	c = natural_compare(a->d->id, b->d->id);
	return c ? c : natural_compare(a->t->dir, b->t->dir);
}

static struct pair choose(struct device *devs, int n, const char *alg, long long want,
			  const char *api, int allow_create, int *accepted)
{
	struct pair *ok = NULL, best = { 0 };
	int k = 0, cap = 0;

	for (int i = 0; i < n; i++) {
		struct device *d = &devs[i];

		for (int j = 0; j < d->ntypes; j++) {
			struct type *t = &d->types[j];

			if (!t->has_name || strcmp(t->name, alg) || t->problems ||
			    (t->flags & want) != want || strcmp(t->api, api) || d->problems ||
			    !d->enabled)
				continue;
			if (!t->mdevs && (!allow_create || t->available <= 0))
				continue;
			if (k == cap) {
				cap = cap ? cap * 2 : 64;
				ok = realloc(ok, cap * sizeof(*ok));
			}
			ok[k++] = (struct pair){ d, t };
		}
	}
	qsort(ok, k, sizeof(*ok), cmp_pairs);
	if (k)
		best = ok[0];
	free(ok);
	*accepted = k;
	return best;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	const char *alg = NULL, *api = "wd_dummy_v1";
	long long want = 0;
	int runs = 9, opt;

	while ((opt = getopt(argc, argv, "r:a:f:p:")) != -1) {
		switch (opt) {
		case 'r': runs = atoi(optarg); break;
		case 'a': alg = optarg; break;
		case 'f': want = strtoll(optarg, NULL, 0); break;
		case 'p': api = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || runs < 1)
		goto usage;

	for (int r = -1; r < runs; r++) {	/* run -1 warms the caches, untimed */
		double t0 = now_ms();
		int n, types = 0, accepted = 0;
		struct device *devs = enumerate(argv[optind], alg, &n);
		struct pair best = { 0 };

		if (alg)
			best = choose(devs, n, alg, want, api, 1, &accepted);
		double t = now_ms() - t0;

		for (int i = 0; i < n; i++)
			types += devs[i].ntypes;
		if (r >= 0)
			printf("{\"lang\":\"c\",\"mode\":\"%s\",\"ms\":%.4f,\"devices\":%d,\"types\":%d,"
			       "\"accepted\":%d,\"device\":\"%s\",\"type\":\"%s\"}\n",
			       alg ? "inquiry" : "list", t, n, types, accepted,
			       best.d ? best.d->id : "", best.t ? best.t->dir : "");
		free_devices(devs, n);
	}
	return 0;
usage:
	fprintf(stderr, "usage: inquiry [-r RUNS] [-a ALG] [-f FLAGS] [-p API] ROOT\n");
	return 2;
}
