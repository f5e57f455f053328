/* gemm.c: the blocked, packed, threaded SGEMM driver (see gemm.h).
 *
 * The cache blocking (KC, MC, NC) is the kernel table's (kernels.c says
 * why each table has the figures it has): an NR-wide strip of B, KC
 * deep, stays in L1 while the MR-high strips of an MC x KC block of A
 * stream past it from L2; a KC x NC panel of B lives in L3. Blocks are
 * fixed per table, not derived from the thread count, so the summation
 * order over k is always the same for a table. Measured for the 6 x 16
 * tiles on one Zen 5 core, in CPU time: KC 256..384 with MC 72..168 came
 * within 5% of each other on 2000^3 and on convolution shapes; MC 288
 * with NC 3072 lost a third on two threads. */
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "gemm.h"

struct gemm_job {
	const struct mli_kernels *kern;
	struct mli_pool *pool;
	size_t m, n, k;
	float alpha, beta;
	const float *a;
	size_t a_rs, a_cs;  /* op(A)(i, p) = a[i * a_rs + p * a_cs] */
	const float *b;
	size_t b_rs, b_cs;  /* op(B)(p, j) = b[p * b_rs + j * b_cs] */
	float *c;
	size_t c_rs, c_cs;  /* C(i, j) = c[i * c_rs + j * c_cs]; c_cs is 1 unless transposed */
	int split_rows;     /* threads split C's rows (else its columns) */
	int pack_a;         /* copy A into strips (else read it in place) */
	int copy_a;         /* copy row-major A's rows kc + 16 apart */
	const struct mli_sgemm_a_loader *load;  /* A made block by block */
};

/* dst[p * rows + r] = src[r * rs + p] for r < rows, p < kc: rows runs
 * of a matrix made into kc groups of rows floats. Taken 16 p (one cache
 * line of each run) at a time: a gather of one float from every run per
 * p missed L1 on every load when the runs were a multiple of 4 KiB apart
 * (the classifier's activations, 2048 floats a row, as the B of its
 * transposed product: a third of that GEMM's time). */
static void transpose_rows(float *dst, const float *src, size_t rs, size_t rows, size_t kc)
{
	for (size_t p0 = 0; p0 < kc; p0 += 16) {
		size_t p1 = kc - p0 < 16 ? kc : p0 + 16;
		for (size_t r = 0; r < rows; r++) {
			const float *s = src + r * rs;
			for (size_t p = p0; p < p1; p++)
				dst[p * rows + r] = s[p];
		}
	}
}

/* How many rows of A ahead pack_a asks for, and of B pack_b. */
#define PACK_AHEAD 8
#define PACK_B_AHEAD 32

/* Packs op(A)[i0 .. i0+mc, p0 .. p0+kc] into MR-high strips, each stored
 * p-major (MR values per p), the last strip zero-padded; scaled by
 * alpha. dst: (ceil(mc / MR), kc, MR). */
static void pack_a(float *dst, const struct gemm_job *j, size_t i0, size_t mc, size_t p0,
		   size_t kc, size_t mr)
{
	size_t full = mc / mr * mr;

	if (j->a_rs == 1 && full > 0) {
		/* Transposed A: each p is a run of mc floats of one row of A
		 * (a row of the weights, in the classifier), read whole, row
		 * after row, with the rows a few ahead asked for early: taken
		 * strip by strip instead, the same rows were visited once
		 * per strip for 56 bytes each, and waited on memory. */
		const float *src = j->a + i0 + p0 * j->a_cs;
		const float alpha = j->alpha;
		for (size_t p = 0; p < kc; p++) {
			const float *row = src + p * j->a_cs;
			if (p + PACK_AHEAD < kc)
				for (size_t q = 0; q < full; q += 16)
					__builtin_prefetch(row + PACK_AHEAD * j->a_cs + q);
			for (size_t is = 0; is < full; is += mr) {
				float *d = dst + is * kc + p * mr;
				if (alpha == 1.0f && mr == 14)
					memcpy(d, row + is, 14 * sizeof *d);
				else if (alpha == 1.0f && mr == 6)
					memcpy(d, row + is, 6 * sizeof *d);
				else
					for (size_t r = 0; r < mr; r++)
						d[r] = row[is + r] * alpha;
			}
		}
		if (full == mc)
			return;
		i0 += full;
		mc -= full;
		dst += full * kc;
	}
	for (size_t is = 0; is < mc; is += mr) {
		size_t rows = mc - is < mr ? mc - is : mr;
		const float *src = j->a + (i0 + is) * j->a_rs + p0 * j->a_cs;
		if (j->a_cs == 1 && rows == mr) {
			transpose_rows(dst, src, j->a_rs, mr, kc);
			if (j->alpha != 1.0f)
				for (size_t i = 0; i < kc * mr; i++)
					dst[i] *= j->alpha;
		} else if (j->a_rs == 1 && rows == mr) {
			for (size_t p = 0; p < kc; p++)
				for (size_t r = 0; r < mr; r++)
					dst[p * mr + r] = src[p * j->a_cs + r] * j->alpha;
		} else {
			for (size_t p = 0; p < kc; p++)
				for (size_t r = 0; r < mr; r++)
					dst[p * mr + r] = r < rows ?
						src[r * j->a_rs + p * j->a_cs] * j->alpha : 0.0f;
		}
		dst += kc * mr;
	}
}

/* Packs an mr-high strip (rows <= mr of them real, element (r, p) at
 * src[r * rs + p * cs]) like pack_a, for the edges of in-place A. */
static void pack_strip(float *dst, const float *src, size_t rs, size_t cs, size_t rows, size_t kc,
		       size_t mr)
{
	for (size_t p = 0; p < kc; p++)
		for (size_t r = 0; r < mr; r++)
			dst[p * mr + r] = r < rows ? src[r * rs + p * cs] : 0.0f;
}

/* Packs op(B)[p0 .. p0+kc, j0 .. j0+nc] into NR-wide strips stored
 * p-major, the last strip zero-padded. dst: (ceil(nc / NR), kc, NR). */
static void pack_b(float *dst, const struct gemm_job *j, size_t p0, size_t kc, size_t j0,
		   size_t nc, size_t nr)
{
	for (size_t js = 0; js < nc; js += nr) {
		size_t cols = nc - js < nr ? nc - js : nr;
		const float *src = j->b + p0 * j->b_rs + (j0 + js) * j->b_cs;
		/* Rows of B this many ahead are asked for (up to B's last):
		 * when m is small B streams from memory once per call and the
		 * copy waited on every row (s1's backward-weights, k = 401,408
		 * pixels: +15-20% on one core with 32 rows ahead, 8 or 16
		 * gave half that). */
		size_t ahead = j->k - p0 > PACK_B_AHEAD ? j->k - p0 - PACK_B_AHEAD : 0;
		if (j->b_cs == 1 && cols == nr && nr == 16) {
			/* A constant size, so that the copy is inlined: a call
			 * per 64 bytes cost a third of the time when m is small
			 * and B is repacked often (backward-weights of 1x1s). */
			for (size_t p = 0; p < kc; p++) {
				if (p < ahead)
					__builtin_prefetch(src + (p + PACK_B_AHEAD) * j->b_rs);
				memcpy(dst + p * 16, src + p * j->b_rs, 16 * sizeof *dst);
			}
		} else if (j->b_cs == 1 && cols == nr && nr == 32) {
			for (size_t p = 0; p < kc; p++) {
				if (p < ahead) {
					__builtin_prefetch(src + (p + PACK_B_AHEAD) * j->b_rs);
					__builtin_prefetch(src + (p + PACK_B_AHEAD) * j->b_rs + 16);
				}
				memcpy(dst + p * 32, src + p * j->b_rs, 32 * sizeof *dst);
			}
		} else if (j->b_cs == 1 && cols == nr) {
			for (size_t p = 0; p < kc; p++)
				memcpy(dst + p * nr, src + p * j->b_rs, nr * sizeof *dst);
		} else if (j->b_rs == 1 && cols == nr) {
			transpose_rows(dst, src, j->b_cs, nr, kc);
		} else {
			for (size_t p = 0; p < kc; p++)
				for (size_t q = 0; q < nr; q++)
					dst[p * nr + q] = q < cols ? src[p * j->b_rs + q * j->b_cs] : 0.0f;
		}
		dst += kc * nr;
	}
}

/* Asks for the next A strip to be brought into cache while this one is
 * multiplied: read in place from a large matrix, each strip is a few
 * short runs that the hardware prefetchers do not pick up in time. */
static void prefetch_strip(const float *a, size_t rs, size_t cs, size_t mr, size_t kc)
{
	if (cs == 1) {
		for (size_t r = 0; r < mr; r++)
			for (size_t p = 0; p < kc; p += 16)
				__builtin_prefetch(a + r * rs + p);
	} else {
		for (size_t p = 0; p < kc; p++)
			__builtin_prefetch(a + p * cs);
	}
}

/* Whether C = op(A) op(B) is better computed as its transpose, C^T =
 * op(B)^T op(A)^T: when m is small against n (the classifier's batch of
 * 32 against thousands of columns; the backward-weights of a 1x1 layer
 * that widens the channels 4x). Then a strip of MR rows leaves part of
 * its last tile empty (32 rows fill 32 of 42), every packed B strip
 * serves only ceil(m / MR) tiles, and with trans_b the B pack gathers
 * B's columns; transposed, m becomes the n of the product, a few NR
 * strips packed once per KC block, and op(B)^T is read in place by the
 * micro-kernel (row-major with trans_b, else transposed, with the
 * kernel's prefetch 64 floats ahead). Measured on one Zen 5 core, in
 * CPU time: 32 x 2048 x 11166 60 -> 190 GF/s, 32 x 11166 x 2048 88 ->
 * 227, m 8..14 against 11166 columns 1.3-1.7x, 128 x 11166 x 2048 170 ->
 * 230, 256 x 2048 x 2048 200 -> 223, backward-weights 128 x 512 x 25088
 * 168 -> 205 and 256 x 1024 x 6272 203 -> 216, 64 x 256 x 100352 the
 * same. Up to m = 8 NR (256 for the AVX-512 tile; larger m untried),
 * but 4 NR for the 6-row AVX2 tile without trans_b: reading op(B)^T in
 * place transposed, a new row (a new page) every 6 FMAs instead of 14,
 * its m 96..128 lost 7-20% (m <= 64 the same either way; with trans_b
 * 128 x 2048 x 2048 gained 30%). */
static int want_transposed(const struct mli_kernels *kern, int trans_b, size_t m, size_t n)
{
	size_t strips = trans_b || kern->sgemm_mr >= 14 ? 8 : 4;

	return m <= strips * kern->sgemm_nr && n >= 4 * m;
}

/* Whether mr rows lda floats apart fall into so few sets of a 64-set
 * L1 (48 KiB, 12 ways, 64-byte lines) that a strip read in place evicts
 * its own lines: more than 7 in one set (lda a multiple of 1024 floats,
 * or 3 x 1024, ...). */
static int rows_crowd_l1(size_t lda, size_t mr)
{
	unsigned count[64] = { 0 }, most = 0;

	for (size_t r = 0; r < mr; r++) {
		unsigned *c = &count[(r * lda * sizeof(float) / 64) % 64];
		if (++*c > most)
			most = *c;
	}
	return most > 7;
}

/* Scales rows [i0, i1) x columns [j0, j1) of C by beta (beta != 0, 1). */
static void scale_c(const struct gemm_job *j, size_t i0, size_t i1, size_t j0, size_t j1)
{
	for (size_t i = i0; i < i1; i++)
		for (size_t q = j0; q < j1; q++)
			j->c[i * j->c_rs + q * j->c_cs] *= j->beta;
}

/* Stores (or adds, when accumulate) the rows x cols corner of an mr x nr
 * tile (row stride nr) into C at ct, element (r, q) at ct[r * rs + q *
 * cs]; the add is the one the micro-kernel's accumulate does, so a tile
 * stored this way has the same bits as one the kernel stores itself. */
static void store_tile(float *ct, size_t rs, size_t cs, const float *tile, size_t nr, size_t rows,
		       size_t cols, int accumulate)
{
	if (cs == 1) {
		for (size_t r = 0; r < rows; r++)
			for (size_t q = 0; q < cols; q++)
				ct[r * rs + q] = accumulate ? ct[r * rs + q] + tile[r * nr + q] :
							      tile[r * nr + q];
	} else if (accumulate) {
		/* C transposed: a tile column is a run of C's row. */
		for (size_t q = 0; q < cols; q++)
			for (size_t r = 0; r < rows; r++)
				ct[q * cs + r * rs] += tile[r * nr + q];
	} else {
		for (size_t q = 0; q < cols; q++)
			for (size_t r = 0; r < rows; r++)
				ct[q * cs + r * rs] = tile[r * nr + q];
	}
}

/* The serial loop nest over C[i0 .. i1, j0 .. j1]. */
static void gemm_block(const struct gemm_job *j, float *scratch, size_t i0, size_t i1,
		       size_t j0, size_t j1)
{
	const struct mli_kernels *kern = j->kern;
	size_t mr = kern->sgemm_mr, nr = kern->sgemm_nr;
	size_t KC = kern->sgemm_kc, MC = kern->sgemm_mc, NC = kern->sgemm_nc;
	float *bp = scratch;                             /* (NC / NR, KC, NR) */
	float *ap = scratch + KC * (NC + nr);            /* (MC / MR, KC, MR) */
	float *lb = ap + KC * (MC + mr);                 /* (MC, KC + 16) loaded A */
	float edge[MLI_SGEMM_MAX_MR * MLI_SGEMM_MAX_NR]; /* MR x NR */

	if (j->k == 0 || j->alpha == 0.0f) {
		if (j->beta == 0.0f)
			for (size_t i = i0; i < i1; i++)
				for (size_t q = j0; q < j1; q++)
					j->c[i * j->c_rs + q * j->c_cs] = 0.0f;
		else if (j->beta != 1.0f)
			scale_c(j, i0, i1, j0, j1);
		return;
	}
	if (j->beta != 0.0f && j->beta != 1.0f)
		scale_c(j, i0, i1, j0, j1);
	for (size_t jc = j0; jc < j1; jc += NC) {
		size_t nc = j1 - jc < NC ? j1 - jc : NC;
		for (size_t pc = 0; pc < j->k; pc += KC) {
			size_t kc = j->k - pc < KC ? j->k - pc : KC;
			int accumulate = pc > 0 || j->beta != 0.0f;
			pack_b(bp, j, pc, kc, jc, nc, nr);
			for (size_t ic = i0; ic < i1; ic += MC) {
				size_t mc = i1 - ic < MC ? i1 - ic : MC;
				/* The block of op(A) this (ic, pc) step reads, as a
				 * base and strides, unless it is packed into ap. */
				const float *ab = NULL;
				size_t ab_rs = 0, ab_cs = 0;
				if (j->load) {
					j->load->load(j->load->ctx, ic, mc, pc, kc, lb, &ab_rs, &ab_cs);
					ab = lb;
				} else if (j->pack_a) {
					pack_a(ap, j, ic, mc, pc, kc, mr);
				} else if (j->copy_a) {
					for (size_t i = 0; i < mc; i++)
						memcpy(lb + i * (kc + 16), j->a + (ic + i) * j->a_rs + pc,
						       kc * sizeof *lb);
					ab = lb;
					ab_rs = kc + 16;
					ab_cs = 1;
				} else {
					ab = j->a + ic * j->a_rs + pc * j->a_cs;
					ab_rs = j->a_rs;
					ab_cs = j->a_cs;
				}
				for (size_t jr = 0; jr < nc; jr += nr) {
					size_t cols = nc - jr < nr ? nc - jr : nr;
					const float *bs = bp + jr * kc;
					for (size_t ir = 0; ir < mc; ir += mr) {
						size_t rows = mc - ir < mr ? mc - ir : mr;
						const float *as = ap + ir * kc;
						size_t as_rs = 1, as_cs = mr;
						float *ct = j->c + (ic + ir) * j->c_rs + (jc + jr) * j->c_cs;
						if (ab && rows == mr) {
							as = ab + ir * ab_rs;
							as_rs = ab_rs;
							as_cs = ab_cs;
							if (!j->load && !j->copy_a && jr == 0 && ir + 2 * mr <= mc)
								prefetch_strip(as + mr * as_rs, as_rs, as_cs, mr, kc);
						} else if (ab && jr == 0) {
							pack_strip(ap + ir * kc, ab + ir * ab_rs, ab_rs, ab_cs, rows,
								   kc, mr);
						}
						if (rows == mr && cols == nr && j->c_cs == 1) {
							kern->sgemm_ukr(kc, as, as_rs, as_cs, bs, ct, j->c_rs,
									accumulate);
							continue;
						}
						kern->sgemm_ukr(kc, as, as_rs, as_cs, bs, edge, nr, 0);
						store_tile(ct, j->c_rs, j->c_cs, edge, nr, rows, cols, accumulate);
					}
				}
			}
		}
	}
}

static void gemm_task(void *arg, int i, int n)
{
	const struct gemm_job *j = arg;
	size_t b, e;

	if (j->split_rows) {
		mli_pool_split(j->m, j->kern->sgemm_mr, i, n, &b, &e);
		if (b < e)
			gemm_block(j, mli_pool_scratch(j->pool, i), b, e, 0, j->n);
	} else {
		mli_pool_split(j->n, j->kern->sgemm_nr, i, n, &b, &e);
		if (b < e)
			gemm_block(j, mli_pool_scratch(j->pool, i), 0, j->m, b, e);
	}
}

size_t mli_sgemm_scratch_bytes(const struct mli_kernels *kern)
{
	size_t mr = kern->sgemm_mr, nr = kern->sgemm_nr, kc = kern->sgemm_kc;
	return (kc * (kern->sgemm_nc + nr) + kc * (kern->sgemm_mc + mr) +
		(kc + 16) * kern->sgemm_mc) * sizeof(float);
}

static int run_gemm(struct gemm_job *j)
{
	const struct mli_kernels *kern = j->kern;
	int threads = mli_pool_threads(j->pool), rc;

	if ((rc = mli_pool_reserve(j->pool, mli_sgemm_scratch_bytes(kern))) < 0)
		return rc;
	/* Split the larger side of C, measured in micro-tiles: whichever
	 * side is split, every thread re-packs all of the other operand, so
	 * the split side should be the one that leaves the other small.
	 * But A read in place is not re-packed, only read again: then the
	 * columns are split unless A is much the larger (m > 2n: the
	 * convolutions' activations), so that each thread packs only its
	 * share of B. On two threads, wall time, quiet machine: 512^3 and
	 * 1024^3 +3..10%, 1568 x 2048 x 512 (s4's 1x1 at batch 32) +2..5%. */
	j->split_rows = j->m / kern->sgemm_mr >= j->n / kern->sgemm_nr;
	if (!j->pack_a && !j->load && j->m <= 2 * j->n &&
	    j->n / kern->sgemm_nr >= 4 * (size_t)threads)
		j->split_rows = 0;
	/* Unless one split leaves a thread clearly more tiles than the
	 * other: C 64 x 64 (the backward-weights of s1's 64-channel 1x1
	 * layer, k = 401,408) is 5 x 2 tiles, 6 for the busier thread split
	 * by rows, 5 by columns. */
	{
		size_t ms = (j->m + kern->sgemm_mr - 1) / kern->sgemm_mr;
		size_t ns = (j->n + kern->sgemm_nr - 1) / kern->sgemm_nr;
		size_t t = (size_t)threads;
		size_t by_rows = (ms + t - 1) / t * ns, by_cols = ms * ((ns + t - 1) / t);
		if (10 * by_rows < 9 * by_cols)
			j->split_rows = 1;
		else if (10 * by_cols < 9 * by_rows)
			j->split_rows = 0;
	}
	/* Below about a million multiply-adds, waking the workers costs
	 * more than it saves; the result is the same either way. */
	if ((double)j->m * (double)j->n * (double)j->k < 1e6)
		gemm_task(j, 0, 1);
	else
		mli_pool_run(j->pool, gemm_task, j);
	return 0;
}

int mli_sgemm_loaded(const struct mli_kernels *kern, struct mli_pool *pool,
		     const struct mli_sgemm_a_loader *load, int trans_b, size_t m, size_t n,
		     size_t k, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
	struct gemm_job j = {
		.kern = kern, .pool = pool, .m = m, .n = n, .k = k, .alpha = 1.0f, .beta = beta,
		.b = b, .c = c, .c_rs = ldc, .c_cs = 1, .load = load,
	};

	if (!pool || kern->sgemm_mr > MLI_SGEMM_MAX_MR || kern->sgemm_nr > MLI_SGEMM_MAX_NR)
		return MLI_EINVAL;
	if (ldc < n || (trans_b ? ldb < k : ldb < n))
		return MLI_EINVAL;
	if (m == 0 || n == 0)
		return 0;
	j.b_rs = trans_b ? 1 : ldb;
	j.b_cs = trans_b ? ldb : 1;
	return run_gemm(&j);
}

int mli_sgemm(const struct mli_kernels *kern, struct mli_pool *pool,
	      int trans_a, int trans_b, size_t m, size_t n, size_t k,
	      float alpha, const float *a, size_t lda, const float *b, size_t ldb,
	      float beta, float *c, size_t ldc)
{
	struct gemm_job j = {
		.kern = kern, .pool = pool, .m = m, .n = n, .k = k,
		.alpha = alpha, .beta = beta, .a = a, .b = b, .c = c, .c_rs = ldc, .c_cs = 1,
	};

	if (!pool || kern->sgemm_mr > MLI_SGEMM_MAX_MR || kern->sgemm_nr > MLI_SGEMM_MAX_NR)
		return MLI_EINVAL;
	if (ldc < n || (trans_a ? lda < m : lda < k) || (trans_b ? ldb < k : ldb < n))
		return MLI_EINVAL;
	if (m == 0 || n == 0)
		return 0;
	j.b_rs = trans_b ? 1 : ldb;
	j.b_cs = trans_b ? ldb : 1;
	if (want_transposed(kern, trans_b, m, n)) {
		/* C^T = op(B)^T op(A)^T: the same sums, each C element
		 * summed over k in the same order, with the roles swapped. */
		j.m = n;
		j.n = m;
		j.a = b;
		j.a_rs = j.b_cs;
		j.a_cs = j.b_rs;
		j.b = a;
		j.b_rs = trans_a ? lda : 1;
		j.b_cs = trans_a ? 1 : lda;
		j.c_rs = 1;
		j.c_cs = ldc;
		trans_a = !trans_b;
		lda = ldb;
		m = j.m;
		n = j.n;
	} else {
		j.a_rs = trans_a ? 1 : lda;
		j.a_cs = trans_a ? lda : 1;
	}
	/* A is read in place by the micro-kernel when it is row-major
	 * (measured faster than packing it on every shape tried, by up to 2x
	 * when n is small, as in convolutions, where packing A costs as much
	 * as the multiply). Transposed, an in-place strip touches a new row
	 * of A at every k step: that wins while rows are short (lda 64..256:
	 * +25%) and loses once each row is a new page or so (lda >= 1024:
	 * -30%), so A is packed from lda 512 on, and to fold in alpha;
	 * except when C has at most 8 NR strips (a transposed product, see
	 * want_transposed), where each packed strip would serve only that
	 * many tiles: the pack then waited on memory as long as the multiply
	 * took, and in place 32 x 11166 x 2048 ran 1.3x faster (115 -> 150
	 * GF/s on one core; 227 with the micro-kernels' prefetch of A, with
	 * which packing and reading in place now come out the same on the
	 * transposed-A squares and backward-weights shapes).
	 * Row-major A whose 14 rows fall into one L1 set (lda a multiple of
	 * 1024 floats) costs the micro-kernel 5% (250 against 263 GF/s, A
	 * and B in L2). Packing such A (a transpose) when n >= 128 gained
	 * nothing on the squares 1024^3..3072^3 and lost 10-15% on the 1x1
	 * convolutions with 1024 or 2048 channels; copying its rows kc + 16
	 * floats apart (a memcpy per row, into the loader's buffer) gains
	 * 1-3% on those squares but still lost 2-5% on the convolutions
	 * (n 256, 512), so it is done from n 1024 on (one core, CPU time,
	 * 2026-11-26). */
	j.pack_a = alpha != 1.0f || (trans_a && lda >= 512 && n > 8 * kern->sgemm_nr);
	j.copy_a = !j.pack_a && !trans_a && n >= 1024 && rows_crowd_l1(lda, kern->sgemm_mr);
	return run_gemm(&j);
}
