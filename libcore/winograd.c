/* winograd.c: the F(2x2, 3x3) convolutions (see winograd.h).
 *
 * Forward and backward-data run as one pool task: each thread takes a
 * contiguous range of the batch's tiles and, a chunk at a time, does the
 * input transform, the 16 products and the output transform on its own
 * buffers (in the pool's per-thread scratch), with no barrier between
 * them; the transformed filter is packed once per call, before, into the
 * micro-kernel's strip layout and shared read-only. A first version ran
 * each of the 16 products as its own threaded mli_sgemm per chunk, 18
 * pool barriers a chunk, several hundred per call: on this shared
 * two-core machine a worker descheduled at a barrier cost a time slice
 * each time, and the pass took 2-40 times its quiet time, where the
 * implicit GEMM (one barrier) lost a few per cent.
 *
 * Backward-weights sums over all tiles, so threads cannot own runs of
 * tiles that follow the thread count (the order of the sum would
 * follow it too). With few channels the tiles are cut into 8 fixed
 * groups, each summed by one thread into its own dU, a chunk at a time
 * in L2, and the 8 are added in order at the end (3 barriers a call).
 * With many, dU is too big to keep 8 of: per shared chunk, one task
 * transforms the chunk's tiles (split over the threads), a second
 * multiplies, each thread owning whole output strips (an element xi and
 * NR columns of dU), and dU is added to chunk after chunk in order.
 *
 * The products call the kernel table's SGEMM micro-kernel directly, with
 * A read in place (V's rows, or its columns for V^T) and B packed in
 * gemm.c's strip layout, so that no mli_sgemm (and no barrier of its
 * own) runs inside a pool task. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "winograd.h"

/* Bytes of one thread's chunk of transformed tiles (V and M together)
 * in forward and backward-data: the chunk stays in that core's L2 (1
 * MiB on Zen 5) between the transforms and the products. */
#define THREAD_CHUNK_BYTES ((size_t)1 << 20)
/* At least this many micro-kernel row strips per thread chunk, so that
 * each packed filter strip read from L3 serves enough rows. */
#define THREAD_CHUNK_MIN_STRIPS 4
/* Bytes of a backward-weights chunk (V and dM): its products sum over
 * the chunk's tiles, and each chunk reads and writes dU once more, so
 * longer chunks pay; they live in L3. */
#define BWD_CHUNK_BYTES ((size_t)16 << 20)
/* Backward-weights with few channels: GROUPS fixed groups of tiles,
 * each summed into its own dU by one thread, chunk by chunk in L2, when
 * the GROUPS dU take at most GROUPS_BYTES; the groups' dU are then added
 * in order. With 64 channels the shared chunks above spent most of
 * their time moving the transformed tiles through L3 (the 16-fold V and
 * dM of a chunk for 16 products of only 64 x 64 each). */
#define GROUPS 8
#define GROUPS_BYTES ((size_t)16 << 20)
/* Filter rows per block of the packing of U (per thread scratch). */
#define PACK_ROWS 8

int mli_winograd_covers(const struct mli_conv_shape *s)
{
	return s->kh == 3 && s->kw == 3 && s->stride == 1 && s->pad_top == 1 && s->pad_left == 1 &&
	       s->oh == s->h && s->ow == s->w;
}

static size_t round_up(size_t n, size_t m)
{
	return (n + m - 1) / m * m;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* Floats from one tile's row of a transformed matrix to the next: room
 * for the micro-kernel's full NR-wide column strips, and 16 more, so
 * that the rows an AVX-512 micro-kernel reads at once do not all fall
 * into the same L1 sets when the channels are a multiple of 256 (as
 * gemm.c's loaded blocks). */
static size_t row_floats(const struct mli_kernels *kern, size_t ch)
{
	return round_up(ch, kern->sgemm_nr) + 16;
}

static size_t tile_count(const struct mli_conv_shape *s)
{
	return s->n * ((s->h + 1) / 2) * ((s->w + 1) / 2);
}

/* The geometry of one pass: the convolution of an input of cin channels
 * into cout (backward-data: of dy, k into c), and its chunks. */
struct plan {
	const struct mli_kernels *kern;
	const struct mli_conv_shape *s;
	size_t cin, cout;
	size_t rs_in, rs_out;   /* row_floats of cin, cout */
	size_t kp;              /* cout rounded up to NR: packed U's width */
	size_t t;               /* tiles per chunk (per thread, but for
				 * backward-weights in shared chunks) */
	size_t zero;            /* floats of zeros */
	size_t cp;              /* backward-weights: dU's rows, c rounded up to MR */
	size_t groups;          /* backward-weights: tile groups, or 0 */
};

static void plan_init(struct plan *p, const struct mli_kernels *kern,
		      const struct mli_conv_shape *s, int pass)
{
	size_t mr = kern->sgemm_mr, per;

	p->kern = kern;
	p->s = s;
	p->cin = pass == 1 ? s->k : s->c;
	p->cout = pass == 1 ? s->c : s->k;
	p->rs_in = row_floats(kern, p->cin);
	p->rs_out = row_floats(kern, p->cout);
	p->kp = round_up(p->cout, kern->sgemm_nr);
	p->zero = round_up(max_size(s->c, s->k), 16);
	per = 16 * (p->rs_in + p->rs_out) * sizeof(float);
	p->cp = round_up(s->c, mr);
	p->groups = 0;
	if (pass == 2 && GROUPS * 16 * p->cp * p->kp * sizeof(float) <= GROUPS_BYTES) {
		p->groups = GROUPS;
		p->t = max_size(THREAD_CHUNK_BYTES / per, 16);
	} else if (pass == 2) {
		p->t = min_size(max_size(BWD_CHUNK_BYTES / per, 1), tile_count(s));
	} else {
		p->t = THREAD_CHUNK_BYTES / per / mr * mr;
		p->t = max_size(p->t, THREAD_CHUNK_MIN_STRIPS * mr);
		p->t = min_size(p->t, round_up(tile_count(s), mr));
	}
}

/* Per-thread scratch: a chunk's V and M (forward, backward-data, and
 * backward-weights in groups) and for backward-weights a packed strip
 * of dM, or the block of transformed filter rows being packed. */
static size_t thread_floats(const struct plan *p, int pass)
{
	const struct mli_kernels *kern = p->kern;
	size_t pack = 16 * PACK_ROWS * max_size(p->s->c, p->s->k);

	if (pass == 2 && p->groups)
		return 16 * p->t * (p->rs_in + p->rs_out) + p->t * kern->sgemm_nr;
	if (pass == 2)
		return max_size(pack, kern->sgemm_kc * kern->sgemm_nr);
	return max_size(pack, 16 * p->t * (p->rs_in + p->rs_out));
}

/* Work space: the packed U (16, cin, kp) or dU (16, cp, kp), the zeros,
 * and backward-data's turned filter (3, 3, k, c) or backward-weights'
 * chunk (16, T, rs_in) + (16, T, rs_out). */
static size_t ws_floats(const struct plan *p, int pass)
{
	size_t u = pass < 2 ? 16 * p->cin * p->kp :
		   16 * p->cp * p->kp * (p->groups ? p->groups : 1);
	size_t extra = pass == 1 ? 9 * p->s->c * p->s->k :
		       pass == 2 && !p->groups ? 16 * p->t * (p->rs_in + p->rs_out) : 0;

	return u + p->zero + extra;
}

size_t mli_winograd_ws_bytes(const struct mli_kernels *kern, const struct mli_conv_shape *s,
			     int pass)
{
	struct plan p;

	plan_init(&p, kern, s, pass);
	return ws_floats(&p, pass) * sizeof(float);
}

struct job {
	const struct plan *p;
	struct mli_pool *pool;
	const float *in;        /* x or dy; or the filter being packed */
	const float *dy;        /* backward-weights */
	float *out;             /* y or dx; or dwt */
	float *u;               /* packed U or dU */
	const float *zero;
	float *v, *m;           /* backward-weights: the chunk's V and dM */
	size_t t0, t1;          /* backward-weights: the chunk */
	int first;              /* backward-weights: the first chunk */
};

/* Packs rows [r0, r1) of the transformed filter (rows: the cin input
 * channels, columns: the cout outputs) into U: for each xi, KC-row
 * blocks of NR-wide strips, each (kc, NR) contiguous and zero-padded
 * past cout: the layout of gemm.c's packed B, which the micro-kernel
 * reads. The filter is wt (3, 3, cin, cout). */
static void pack_task(void *arg, int i, int n)
{
	const struct job *j = arg;
	const struct plan *p = j->p;
	const struct mli_kernels *kern = p->kern;
	size_t KC = kern->sgemm_kc, nr = kern->sgemm_nr, b, e;
	float *blk = mli_pool_scratch(j->pool, i);

	mli_pool_split(p->cin, PACK_ROWS, i, n, &b, &e);
	for (size_t r0 = b; r0 < e; r0 += PACK_ROWS) {
		size_t r1 = min_size(r0 + PACK_ROWS, e), ld = (r1 - r0) * p->cout;
		kern->wino_filter(j->in, p->cin, p->cout, r0, r1, blk, ld);
		for (size_t xi = 0; xi < 16; xi++)
			for (size_t r = r0; r < r1; r++) {
				size_t pc = r / KC * KC, kcb = min_size(KC, p->cin - pc);
				const float *src = blk + xi * ld + (r - r0) * p->cout;
				float *dst = j->u + xi * p->cin * p->kp + pc * p->kp + (r - pc) * nr;
				for (size_t c0 = 0; c0 < p->cout; c0 += nr, dst += kcb * nr) {
					size_t w = min_size(nr, p->cout - c0);
					memcpy(dst, src + c0, w * sizeof(float));
					memset(dst + w, 0, (nr - w) * sizeof(float));
				}
			}
	}
}

/* Backward-data's filter, turned by 180 degrees with the channels
 * swapped: turned (3, 3, k, c), tap (u, v) = wt's (2 - u, 2 - v)
 * transposed, in 32 x 32 blocks (a plain loop writes a new line per
 * element), the (tap, block row) pairs split over the threads. */
static void turn_task(void *arg, int i, int n)
{
	const struct job *j = arg;
	const struct mli_conv_shape *s = j->p->s;
	size_t rows = (s->c + 31) / 32, b, e;

	mli_pool_split(9 * rows, 1, i, n, &b, &e);
	for (size_t r = b; r < e; r++) {
		size_t tap = r / rows, c0 = r % rows * 32, c1 = min_size(c0 + 32, s->c);
		const float *src = j->in + (8 - tap) * s->c * s->k;
		float *dst = j->out + tap * s->k * s->c;
		for (size_t o0 = 0; o0 < s->k; o0 += 32) {
			size_t o1 = min_size(o0 + 32, s->k);
			for (size_t o = o0; o < o1; o++)
				for (size_t ci = c0; ci < c1; ci++)
					dst[o * s->c + ci] = src[ci * s->k + o];
		}
	}
}

/* Forward and backward-data, thread i's share of the tiles. */
static void conv_task(void *arg, int i, int n)
{
	const struct job *j = arg;
	const struct plan *p = j->p;
	const struct mli_conv_shape *s = p->s;
	const struct mli_kernels *kern = p->kern;
	size_t mr = kern->sgemm_mr, nr = kern->sgemm_nr, KC = kern->sgemm_kc;
	size_t ldv = p->t * p->rs_in, ldm = p->t * p->rs_out, b, e;
	float *v = mli_pool_scratch(j->pool, i), *m = v + 16 * ldv;

	mli_pool_split(tile_count(s), mr, i, n, &b, &e);
	for (size_t t0 = b; t0 < e; t0 += p->t) {
		size_t t1 = min_size(t0 + p->t, e), rows = round_up(t1 - t0, mr);
		kern->wino_in(j->in, s->h, s->w, p->cin, t0, t1, j->zero, v, ldv, p->rs_in);
		/* The last strip's missing rows: zeros in, ignored out. */
		for (size_t xi = 0; xi < 16; xi++)
			for (size_t r = t1 - t0; r < rows; r++)
				memset(v + xi * ldv + r * p->rs_in, 0, p->cin * sizeof(float));
		/* M[xi] (rows, kp) = V[xi] (rows, cin) x U[xi] (cin, kp). */
		for (size_t xi = 0; xi < 16; xi++) {
			const float *a = v + xi * ldv, *u = j->u + xi * p->cin * p->kp;
			float *c = m + xi * ldm;
			for (size_t pc = 0; pc < p->cin; pc += KC) {
				size_t kcb = min_size(KC, p->cin - pc);
				for (size_t jr = 0; jr < p->kp; jr += nr) {
					const float *bs = u + pc * p->kp + jr * kcb;
					for (size_t ir = 0; ir < rows; ir += mr)
						kern->sgemm_ukr(kcb, a + ir * p->rs_in + pc, p->rs_in, 1, bs,
								c + ir * p->rs_out + jr, p->rs_out, pc > 0);
				}
			}
		}
		kern->wino_out(m, ldm, p->rs_out, s->h, s->w, p->cout, t0, t1, j->out);
	}
}

/* Packs U and runs the tiles: y (n, h, w, cout) from in (n, h, w, cin)
 * and the filter wt (3, 3, cin, cout). */
static int run_conv(const struct plan *p, struct mli_pool *pool, struct mli_buffer *ws,
		    struct mli_buffer *own, const float *in, const float *wt, int turn, float *out)
{
	struct mli_buffer *b = ws ? ws : own;
	struct job j = { .p = p, .pool = pool };
	int rc;

	if ((rc = mli_buffer_reserve(b, ws_floats(p, turn) * sizeof(float))) < 0 ||
	    (rc = mli_pool_reserve(pool, thread_floats(p, 0) * sizeof(float))) < 0)
		return rc;
	j.u = b->p;
	j.zero = j.u + 16 * p->cin * p->kp;
	memset((float *)j.zero, 0, p->zero * sizeof(float));
	if (turn) {
		float *turned = j.u + 16 * p->cin * p->kp + p->zero;
		struct job t = { .p = p, .pool = pool, .in = wt, .out = turned };
		mli_pool_run(pool, turn_task, &t);
		wt = turned;
	}
	j.in = wt;
	mli_pool_run(pool, pack_task, &j);
	j.in = in;
	j.out = out;
	mli_pool_run(pool, conv_task, &j);
	return 0;
}

int mli_winograd_forward(const struct mli_kernels *kern, struct mli_pool *pool,
			 struct mli_buffer *ws, const struct mli_conv_shape *s,
			 const float *x, const float *wt, float *y)
{
	struct mli_buffer own = { 0 };
	struct plan p;
	int rc;

	if (!pool || mli_conv_shape_check(s) < 0 || !mli_winograd_covers(s))
		return MLI_EINVAL;
	plan_init(&p, kern, s, 0);
	rc = run_conv(&p, pool, ws, &own, x, wt, 0, y);
	mli_buffer_free(&own);
	return rc;
}

int mli_winograd_backward_data(const struct mli_kernels *kern, struct mli_pool *pool,
			       struct mli_buffer *ws, const struct mli_conv_shape *s,
			       const float *dy, const float *wt, float *dx)
{
	struct mli_buffer own = { 0 };
	struct plan p;
	int rc;

	if (!pool || mli_conv_shape_check(s) < 0 || !mli_winograd_covers(s))
		return MLI_EINVAL;
	plan_init(&p, kern, s, 1);
	rc = run_conv(&p, pool, ws, &own, dy, wt, 1, dx);
	mli_buffer_free(&own);
	return rc;
}

/* dU[xi] (cp, kp) (+)= V[xi]^T (cp, cnt) x dM[xi] (cnt, kp) for one NR
 * strip of columns, jr: dM's strip is packed per KC block into bp, V is
 * read in place (transposed), its last strip of channels reading V's
 * zero padding (rs_in >= c + MR) into dU's padding rows. v and dm hold
 * element xi's matrices, ld floats apart. */
static void mul_strip(const struct plan *p, const float *v, size_t ldv, const float *dm,
		      size_t ldm, size_t cnt, float *du, size_t xi, size_t jr, int first, float *bp)
{
	const struct mli_kernels *kern = p->kern;
	size_t mr = kern->sgemm_mr, nr = kern->sgemm_nr, KC = kern->sgemm_kc;
	size_t w = min_size(nr, p->s->k - jr);

	v += xi * ldv;
	dm += xi * ldm + jr;
	du += xi * p->cp * p->kp + jr;
	for (size_t pc = 0; pc < cnt; pc += KC) {
		size_t kcb = min_size(KC, cnt - pc);
		for (size_t r = 0; r < kcb; r++) {
			memcpy(bp + r * nr, dm + (pc + r) * p->rs_out, w * sizeof(float));
			memset(bp + r * nr + w, 0, (nr - w) * sizeof(float));
		}
		for (size_t ir = 0; ir < p->s->c; ir += mr)
			kern->sgemm_ukr(kcb, v + pc * p->rs_in + ir, 1, p->rs_in, bp, du + ir * p->kp,
					p->kp, !first || pc > 0);
	}
}

/* Zeros V's columns past c (which the transforms never write) in rows
 * rows of rs_in floats. */
static void zero_pad(const struct plan *p, float *v, size_t rows)
{
	for (size_t r = 0; r < rows; r++)
		memset(v + r * p->rs_in + p->s->c, 0, (p->cp - p->s->c) * sizeof(float));
}

/* Backward-weights in shared chunks: the chunk's transforms, its tiles
 * split. */
static void bwd_tx_task(void *arg, int i, int n)
{
	const struct job *j = arg;
	const struct plan *p = j->p;
	const struct mli_conv_shape *s = p->s;
	size_t b, e;

	mli_pool_split(j->t1 - j->t0, 1, i, n, &b, &e);
	if (b >= e)
		return;
	p->kern->wino_in(j->in, s->h, s->w, s->c, j->t0 + b, j->t0 + e, j->zero,
			 j->v + b * p->rs_in, p->t * p->rs_in, p->rs_in);
	p->kern->wino_dy(j->dy, s->h, s->w, s->k, j->t0 + b, j->t0 + e, j->zero,
			 j->m + b * p->rs_out, p->t * p->rs_out, p->rs_out);
}

/* Backward-weights in shared chunks: the products, the (xi, NR strip)
 * pairs split over the threads. */
static void bwd_mul_task(void *arg, int i, int n)
{
	const struct job *j = arg;
	const struct plan *p = j->p;
	size_t nr = p->kern->sgemm_nr, strips = p->kp / nr, b, e;

	mli_pool_split(16 * strips, 1, i, n, &b, &e);
	for (size_t q = b; q < e; q++)
		mul_strip(p, j->v, p->t * p->rs_in, j->m, p->t * p->rs_out, j->t1 - j->t0, j->u,
			  q / strips, q % strips * nr, j->first, mli_pool_scratch(j->pool, i));
}

/* Backward-weights in groups: thread i's groups, each tile group summed
 * into its own dU, a chunk at a time in the thread's scratch. */
static void group_task(void *arg, int i, int n)
{
	const struct job *j = arg;
	const struct plan *p = j->p;
	const struct mli_conv_shape *s = p->s;
	size_t all = tile_count(s), nr = p->kern->sgemm_nr, strips = p->kp / nr, gb, ge;
	size_t ldv = p->t * p->rs_in, ldm = p->t * p->rs_out, du_floats = 16 * p->cp * p->kp;
	float *v = mli_pool_scratch(j->pool, i), *m = v + 16 * ldv, *bp = m + 16 * ldm;

	mli_pool_split(p->groups, 1, i, n, &gb, &ge);
	if (gb < ge)
		zero_pad(p, v, 16 * p->t);
	for (size_t g = gb; g < ge; g++) {
		size_t a0 = all * g / p->groups, a1 = all * (g + 1) / p->groups;
		float *du = j->u + g * du_floats;
		if (a0 == a1)
			memset(du, 0, du_floats * sizeof(float));
		for (size_t t0 = a0; t0 < a1; t0 += p->t) {
			size_t t1 = min_size(t0 + p->t, a1);
			p->kern->wino_in(j->in, s->h, s->w, s->c, t0, t1, j->zero, v, ldv, p->rs_in);
			p->kern->wino_dy(j->dy, s->h, s->w, s->k, t0, t1, j->zero, m, ldm, p->rs_out);
			for (size_t q = 0; q < 16 * strips; q++)
				mul_strip(p, v, ldv, m, ldm, t1 - t0, du, q / strips, q % strips * nr,
					  t0 == a0, bp);
		}
	}
}

/* dU = the groups' dU added in group order (into the first), its
 * elements split over the threads. */
static void reduce_task(void *arg, int i, int n)
{
	const struct job *j = arg;
	const struct plan *p = j->p;
	size_t count = 16 * p->cp * p->kp, b, e;

	mli_pool_split(count, 16, i, n, &b, &e);
	for (size_t g = 1; g < p->groups; g++) {
		const float *src = j->u + g * count;
		for (size_t q = b; q < e; q++)
			j->u[q] += src[q];
	}
}

static void grad_task(void *arg, int i, int n)
{
	const struct job *j = arg;
	const struct plan *p = j->p;
	size_t b, e;

	mli_pool_split(p->s->c, 1, i, n, &b, &e);
	if (b < e)
		p->kern->wino_filter_grad(j->u, p->cp * p->kp, p->kp, p->s->c, p->s->k, b, e,
					  j->out);
}

int mli_winograd_backward_weights(const struct mli_kernels *kern, struct mli_pool *pool,
				  struct mli_buffer *ws, const struct mli_conv_shape *s,
				  const float *x, const float *dy, float *dwt)
{
	struct mli_buffer own = { 0 }, *buf = ws ? ws : &own;
	struct plan p;
	struct job j = { .p = &p, .pool = pool, .in = x, .dy = dy, .out = dwt };
	size_t all, du_floats;
	int rc;

	if (!pool || mli_conv_shape_check(s) < 0 || !mli_winograd_covers(s))
		return MLI_EINVAL;
	plan_init(&p, kern, s, 2);
	all = tile_count(s);
	du_floats = 16 * p.cp * p.kp * (p.groups ? p.groups : 1);
	if ((rc = mli_buffer_reserve(buf, ws_floats(&p, 2) * sizeof(float))) < 0 ||
	    (rc = mli_pool_reserve(pool, thread_floats(&p, 2) * sizeof(float))) < 0)
		goto out;
	j.u = buf->p;
	j.zero = j.u + du_floats;
	memset((float *)j.zero, 0, p.zero * sizeof(float));
	if (p.groups) {
		mli_pool_run(pool, group_task, &j);
		mli_pool_run(pool, reduce_task, &j);
	} else {
		j.v = j.u + du_floats + p.zero;
		j.m = j.v + 16 * p.t * p.rs_in;
		zero_pad(&p, j.v, 16 * p.t);
		for (size_t t0 = 0; t0 < all; t0 += p.t) {
			j.t0 = t0;
			j.t1 = min_size(t0 + p.t, all);
			j.first = t0 == 0;
			mli_pool_run(pool, bwd_tx_task, &j);
			mli_pool_run(pool, bwd_mul_task, &j);
		}
	}
	mli_pool_run(pool, grad_task, &j);
out:
	mli_buffer_free(&own);
	return rc;
}
