/*
 * Core-file backend: the bytes of the core file.
 *
 * A plain core is read where it lies, with pread.  A gzip-compressed core
 * (as crash collectors keep them) cannot be read at random offsets, so it
 * is inflated once into memory, never onto disk: first only its headers
 * (ec_source_peek), which say how large the core is, then the whole image,
 * capped at that size.  A stream that inflates to more than its headers
 * declare (a gzip bomb) or to more than half the machine's memory is
 * refused; one that ends early is a truncated core.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ecore.h"

#define EC_GZIP_RATIO 1032u /* the most one deflate byte can inflate to */

void *ec_alloc(const struct pyspy_host *host, size_t n)
{
	return host->alloc(n ? n : 1);
}

void *ec_realloc(const struct pyspy_host *host, void *p, size_t n)
{
	return host->realloc(p, n ? n : 1);
}

void ec_free(const struct pyspy_host *host, void *p)
{
	if (p)
		host->free(p);
}

char *ec_strdup(const struct pyspy_host *host, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = ec_alloc(host, n);

	if (d)
		memcpy(d, s, n);
	return d;
}

int ec_source_open(const struct pyspy_host *host, const char *path, struct ec_source *src,
		   char *err, size_t errlen)
{
	unsigned char magic[2];
	struct stat st;
	ssize_t n;
	int rc;

	memset(src, 0, sizeof(*src));
	/* non-blocking: a FIFO or a device named by mistake must not hang us */
	src->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (src->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open core file %s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(src->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a core file (not a regular file)", path);
		rc = -EINVAL;
		goto out_close;
	}
	src->size = (uint64_t)st.st_size;
	do
		n = pread(src->fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	src->compressed = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
	return 0;

out_close:
	close(src->fd);
	src->fd = -1;
	return rc;
}

void ec_source_close(const struct pyspy_host *host, struct ec_source *src)
{
	if (src->fd >= 0)
		close(src->fd);
	ec_free(host, src->image);
	memset(src, 0, sizeof(*src));
	src->fd = -1;
}

/* Where inflated bytes go: buf[0, cap), grown up to max bytes through
 * host (NULL: never grown). */
struct ec_out {
	const struct pyspy_host *host;
	uint8_t *buf;
	size_t cap, max;
};

/* Grow o->buf (doubling, at most o->max): 0, or -ENOMEM. */
static int ec_out_grow(struct ec_out *o)
{
	size_t ncap = o->cap < (1u << 20) ? (1u << 20) : o->cap * 2;
	uint8_t *nbuf;

	if (ncap > o->max)
		ncap = o->max;
	nbuf = ec_realloc(o->host, o->buf, ncap);
	if (!nbuf)
		return -ENOMEM;
	o->buf = nbuf;
	o->cap = ncap;
	return 0;
}

/*
 * Inflate from the start of the file into o: how many bytes came out (max
 * at most), with *more set when the stream holds more than max, *ended
 * when it ended properly; or a negative errno (-EBADMSG: corrupt).  The
 * buffer grows only as bytes arrive, so a stream that declares much and
 * holds little costs little.
 */
static ssize_t ec_inflate(int fd, struct ec_out *o, int *more, int *ended)
{
	uint8_t in[4096], spill[1];
	size_t done = 0;
	z_stream zs;
	off_t at = 0;
	ssize_t n;
	int zrc = Z_OK, rc = 0;

	*more = *ended = 0;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK) /* gzip wrapper */
		return -ENOMEM;
	while (zrc != Z_STREAM_END) {
		if (zs.avail_in == 0) {
			do
				n = pread(fd, in, sizeof(in), at);
			while (n < 0 && errno == EINTR);
			if (n < 0) {
				rc = -errno;
				break;
			}
			if (n == 0)
				break; /* the stream ends early: truncated */
			at += n;
			zs.next_in = in;
			zs.avail_in = (uInt)n;
		}
		if (done == o->cap && o->host && o->cap < o->max) {
			rc = ec_out_grow(o);
			if (rc)
				break;
		}
		if (done == o->cap) {
			/* full: does the stream hold even one byte more? */
			zs.next_out = spill;
			zs.avail_out = sizeof(spill);
			zrc = inflate(&zs, Z_NO_FLUSH);
			if (zs.avail_out == 0) {
				*more = 1;
				break;
			}
		} else {
			zs.next_out = o->buf + done;
			zs.avail_out = (uInt)(o->cap - done < UINT32_MAX ? o->cap - done : UINT32_MAX);
			zrc = inflate(&zs, Z_NO_FLUSH);
			done = (size_t)(zs.next_out - o->buf);
		}
		if (zrc == Z_NEED_DICT || zrc == Z_DATA_ERROR || zrc == Z_MEM_ERROR || zrc == Z_STREAM_ERROR) {
			rc = zrc == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
			break;
		}
	}
	if (zrc == Z_STREAM_END)
		*ended = 1;
	inflateEnd(&zs);
	return rc ? rc : (ssize_t)done;
}

ssize_t ec_source_peek(const struct ec_source *src, void *buf, size_t len)
{
	struct ec_out out = { 0 };
	int more, ended;

	if (!src->compressed) {
		ssize_t n;

		do
			n = pread(src->fd, buf, len, 0);
		while (n < 0 && errno == EINTR);
		return n < 0 ? -errno : n;
	}
	out.buf = buf;
	out.cap = out.max = len;
	return ec_inflate(src->fd, &out, &more, &ended);
}

/* Half the machine's memory: a bigger image is refused before inflating. */
static uint64_t ec_memory_cap(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || size <= 0)
		return (uint64_t)4 << 30;
	return (uint64_t)pages * (uint64_t)size / 2;
}

int ec_source_inflate(const struct pyspy_host *host, const char *path, struct ec_source *src,
		      uint64_t declared, char *err, size_t errlen)
{
	struct ec_out out = { .host = host };
	int more, ended;
	ssize_t n;

	if (!src->compressed) {
		if (declared > src->size) {
			snprintf(err, errlen, "%s is truncated: its headers describe %llu bytes but it "
				 "holds %llu (copy the whole core again)", path,
				 (unsigned long long)declared, (unsigned long long)src->size);
			return -EINVAL;
		}
		return 0;
	}
	if (declared > ec_memory_cap() || declared > SIZE_MAX / 2) {
		snprintf(err, errlen, "%s: the compressed core would inflate to %llu MiB, more than "
			 "half of this machine's memory; decompress it to a file first", path,
			 (unsigned long long)(declared >> 20));
		return -EFBIG;
	}
	/* deflate cannot inflate beyond 1032 times its size */
	if (declared / EC_GZIP_RATIO > src->size) {
		snprintf(err, errlen, "%s is truncated: its headers describe %llu bytes, more than its "
			 "%llu compressed bytes can hold (copy the whole core again)", path,
			 (unsigned long long)declared, (unsigned long long)src->size);
		return -EINVAL;
	}
	out.max = (size_t)declared;
	n = ec_inflate(src->fd, &out, &more, &ended);
	src->image = out.buf;
	if (n == -ENOMEM) {
		snprintf(err, errlen, "%s: out of memory inflating %llu MiB", path,
			 (unsigned long long)(declared >> 20));
		return -ENOMEM;
	}
	if (n == -EBADMSG) {
		snprintf(err, errlen, "%s: the gzip stream is corrupt", path);
		return -EINVAL;
	}
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot inflate: %s", path, strerror((int)-n));
		return (int)n;
	}
	if (more) {
		snprintf(err, errlen, "%s: refused: the gzip stream inflates to more than the %llu "
			 "bytes its core headers describe (a gzip bomb?)", path,
			 (unsigned long long)declared);
		return -EFBIG;
	}
	if ((uint64_t)n < declared || !ended) {
		snprintf(err, errlen, "%s is truncated: it inflates to %llu bytes, its headers "
			 "describe %llu (copy the whole core again)", path, (unsigned long long)n,
			 (unsigned long long)declared);
		return -EINVAL;
	}
	src->size = declared;
	return 0;
}

int ec_source_read(const struct ec_source *src, uint64_t off, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	if (off > src->size || len > src->size - off)
		return -EFAULT;
	if (src->image) {
		memcpy(buf, src->image + off, len);
		return 0;
	}
	while (got < len) {
		n = pread(src->fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EFAULT; /* the file shrank under us */
		got += (size_t)n;
	}
	return 0;
}
