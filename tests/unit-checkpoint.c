/* unit-checkpoint.c: safetensors files written and read back (tensors,
 * shapes, metadata, the byte layout of the format), replaced atomically
 * with no temporary file left, and damaged files refused with a reason. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "ckptdir.h"
#include "error.h"
#include "tap.h"

static char dir[] = "/tmp/unit-checkpoint-XXXXXX";

static int count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_round_trip(struct tap *tap)
{
	float a[6] = { 1, 2, 3, 4, 5, 6 }, b[3] = { -1.5f, 0, 7 };
	struct mli_ckpt_tensor t[2] = {
		{ "stages_0_block_0/conv1_b2/conv2d/kernel", a, 4, { 1, 1, 2, 3 } },
		{ "logits/dense/bias", b, 1, { 3 } },
	};
	struct mli_ckpt_meta m[2] = { { "step", "42" }, { "arch", "resnet101" } };
	char path[128];
	struct mli_ckpt *c;
	const char *why;
	const void *data;
	int ndim;
	size_t dims[4], count;

	snprintf(path, sizeof path, "%s/a.safetensors", dir);
	ASSERT_EQ(mli_ckpt_write(path, t, 2, m, 2), 0);
	ASSERT_EQ(mli_ckpt_write(path, t, 2, m, 2), 0);
	ASSERT_EQ(count_files(), 1);
	ASSERT_EQ(mli_ckpt_open(&c, path, &why), 0);
	ASSERT_EQ(mli_ckpt_count(c), 2);
	ASSERT_EQ(mli_ckpt_tensor(c, "logits/dense/bias", &data, &ndim, dims, &count), 0);
	ASSERT(ndim == 1 && dims[0] == 3 && count == 3);
	ASSERT_MEM_EQ(data, b, sizeof b);
	ASSERT_EQ(mli_ckpt_tensor(c, t[0].name, &data, &ndim, dims, &count), 0);
	ASSERT(ndim == 4 && dims[3] == 3 && count == 6);
	ASSERT_MEM_EQ(data, a, sizeof a);
	ASSERT(strcmp(mli_ckpt_meta(c, "step"), "42") == 0);
	ASSERT(mli_ckpt_meta(c, "nothing") == NULL);
	ASSERT_EQ(mli_ckpt_tensor(c, "missing", &data, &ndim, dims, &count), MLI_EINVAL);
	mli_ckpt_free(c);

	/* The layout: 8-byte length, then JSON padded to 8, then the data. */
	FILE *f = fopen(path, "rb");
	uint8_t head[8];
	ASSERT(f && fread(head, 1, 8, f) == 8);
	uint64_t hl = 0;
	for (int i = 0; i < 8; i++)
		hl |= (uint64_t)head[i] << (8 * i);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	ASSERT_EQ(hl % 8, 0);
	ASSERT_EQ((uint64_t)size, 8 + hl + sizeof a + sizeof b);
	ASSERT_EQ(mli_ckpt_write(path, t, 2, m, 2), 0);
	/* A duplicate name is refused and leaves the old file. */
	t[1].name = t[0].name;
	ASSERT_EQ(mli_ckpt_write(path, t, 2, m, 2), MLI_EINVAL);
	ASSERT_EQ(count_files(), 1);
	unlink(path);
}

static void write_raw(const char *path, const char *json, size_t data_bytes)
{
	FILE *f = fopen(path, "wb");
	uint64_t n = strlen(json);
	for (int i = 0; i < 8; i++)
		fputc((int)((n >> (8 * i)) & 255), f);
	fputs(json, f);
	for (size_t i = 0; i < data_bytes; i++)
		fputc(0, f);
	fclose(f);
}

static void test_damaged_files_are_refused(struct tap *tap)
{
	static const struct {
		const char *json;
		size_t data;
	} bad[] = {
		{ "[1]", 0 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4 },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8 },
		{ "{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4 },
		{ "{\"__metadata__\":{\"step\":3}}", 0 },
	};
	char path[128];
	struct mli_ckpt *c;
	const char *why;

	snprintf(path, sizeof path, "%s/bad.safetensors", dir);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_raw(path, bad[i].json, bad[i].data);
		int rc = mli_ckpt_open(&c, path, &why);
		if (rc != MLI_EINVAL || !why)
			TAP_FAIL("case %zu accepted", i);
		printf("# case %zu: %s\n", i, why);
	}
	write_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
	ASSERT_EQ(mli_ckpt_open(&c, path, &why), 0);
	mli_ckpt_free(c);
	unlink(path);
	ASSERT_EQ(mli_ckpt_open(&c, path, &why), MLI_ESYS);
}

static void touch(const char *name)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")))
		fclose(f);
}

static void remove_file(const char *name)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
}

static int exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* Commits keep the newest checkpoints, point latest at the one just
 * written, and clear a killed run's temporaries but not a live one's. */
static void test_directory_keeps_the_newest(struct tap *tap)
{
	char name[64], link[64], stale[64], live[64];
	uint64_t *steps;
	ssize_t len;
	/* A process that has ended (the test's child) and one that lives. */
	pid_t gone = fork();

	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	snprintf(stale, sizeof stale, "step-00000009.safetensors.tmp.%ld", (long)gone);
	snprintf(live, sizeof live, "step-00000010.safetensors.tmp.%ld", (long)getppid());
	touch(stale);
	touch(live);
	for (uint64_t step = 2; step <= 12; step += 2) {
		mli_ckptdir_name(name, sizeof name, step);
		touch(name);
		ASSERT_EQ(mli_ckptdir_commit(dir, step, 3), 0);
	}
	ASSERT_EQ(mli_ckptdir_list(dir, &steps), 3);
	ASSERT_EQ(steps[0], 8);
	ASSERT_EQ(steps[2], 12);
	free(steps);
	snprintf(name, sizeof name, "%s/latest.safetensors", dir);
	len = readlink(name, link, sizeof link - 1);
	ASSERT(len > 0);
	link[len > 0 ? len : 0] = '\0';
	ASSERT(strcmp(link, "step-00000012.safetensors") == 0);
	ASSERT(!exists(stale));
	ASSERT(exists(live));
	ASSERT_EQ(mli_ckptdir_list("/nonexistent-dir", &steps), 0);
	/* Leave the directory empty for the caller. */
	for (uint64_t step = 8; step <= 12; step += 2) {
		mli_ckptdir_name(name, sizeof name, step);
		remove_file(name);
	}
	remove_file("latest.safetensors");
	remove_file(live);
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;

	if (!mkdtemp(dir))
		return 1;
	RUN(test_round_trip);
	RUN(test_damaged_files_are_refused);
	RUN(test_directory_keeps_the_newest);
	rmdir(dir);
	return tap_done(tap);
}
