/* winograd_tx.h: the Winograd F(2x2, 3x3) tile and filter transforms
 * (see kernels.h for their contracts), written once over GCC's generic
 * vectors and included by one file per kernel table, which defines
 * WINO_ISA (the name suffix) and WINO_VW (floats per vector: 4 for the
 * portable build, 8 for AVX2, 16 for AVX-512) and is compiled with that
 * table's flags. Every transform is elementwise over the channels, which
 * are contiguous in NHWC and in the transformed buffers, so each runs
 * WINO_VW channels at a time and the remainder one at a time with the
 * same expressions (the same rounding: the result does not depend on the
 * vector width). The transforms only add, subtract and halve, so no
 * table fuses anything and all three give the same bits.
 *
 * The matrices (Lavin and Gray, "Fast Algorithms for Convolutional
 * Neural Networks", 2015):
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1] */
#include <stddef.h>
#include <string.h>

#include "kernels_impl.h"

#define WINO_CAT2(a, b) a##_##b
#define WINO_CAT(a, b) WINO_CAT2(a, b)
#define WINO_NAME(f) WINO_CAT(f, WINO_ISA)

typedef float wvec __attribute__((vector_size(WINO_VW * sizeof(float))));

static inline wvec ldv(const float *p)
{
	wvec v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline void stv(float *p, wvec v)
{
	memcpy(p, &v, sizeof v);
}

static inline float lds(const float *p)
{
	return *p;
}

static inline void sts(float *p, float v)
{
	*p = v;
}

/* The geometry of tile t of a batch (n, h, w, .): its image and its
 * top-left input pixel (2ty - 1, 2tx - 1), which may be -1. */
struct tile {
	size_t img;
	long y, x;
};

static inline struct tile tile_of(size_t t, size_t h, size_t w)
{
	size_t th = (h + 1) / 2, tw = (w + 1) / 2, r = t % (th * tw);
	return (struct tile){ t / (th * tw), 2 * (long)(r / tw) - 1, 2 * (long)(r % tw) - 1 };
}

/* V = B^T d B for channels [ci, ci + width): d[i][j] read at p[i][j] + ci. */
#define WINO_IN(T, LD, ST)                                                          \
	do {                                                                        \
		T d[4][4], e[4][4];                                                 \
		for (int i = 0; i < 4; i++)                                         \
			for (int j = 0; j < 4; j++)                                 \
				d[i][j] = LD(p[i][j] + ci);                         \
		for (int j = 0; j < 4; j++) {                                       \
			e[0][j] = d[0][j] - d[2][j];                                \
			e[1][j] = d[1][j] + d[2][j];                                \
			e[2][j] = d[2][j] - d[1][j];                                \
			e[3][j] = d[1][j] - d[3][j];                                \
		}                                                                   \
		for (int i = 0; i < 4; i++) {                                       \
			ST(o + (4 * i + 0) * ld + ci, e[i][0] - e[i][2]);           \
			ST(o + (4 * i + 1) * ld + ci, e[i][1] + e[i][2]);           \
			ST(o + (4 * i + 2) * ld + ci, e[i][2] - e[i][1]);           \
			ST(o + (4 * i + 3) * ld + ci, e[i][1] - e[i][3]);           \
		}                                                                   \
	} while (0)

void WINO_NAME(mli__wino_in)(const float *x, size_t h, size_t w, size_t ch, size_t t0,
			     size_t t1, const float *zero, float *v, size_t ld, size_t rs)
{
	for (size_t t = t0; t < t1; t++) {
		struct tile g = tile_of(t, h, w);
		const float *p[4][4];
		float *o = v + (t - t0) * rs;
		size_t ci = 0;
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 4; j++) {
				long iy = g.y + i, ix = g.x + j;
				p[i][j] = iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)w ? zero :
					x + ((g.img * h + (size_t)iy) * w + (size_t)ix) * ch;
			}
		for (; ci + WINO_VW <= ch; ci += WINO_VW)
			WINO_IN(wvec, ldv, stv);
		for (; ci < ch; ci++)
			WINO_IN(float, lds, sts);
	}
}

/* y = A^T M A for channels [ci, ci + width), the pixels q[a][b] that are
 * not NULL. */
#define WINO_OUT(T, LD, ST)                                                         \
	do {                                                                        \
		T mm[4][4], u[2][4];                                                 \
		for (int i = 0; i < 4; i++)                                         \
			for (int j = 0; j < 4; j++)                                 \
				mm[i][j] = LD(s + (4 * i + j) * ld + ci);            \
		for (int j = 0; j < 4; j++) {                                       \
			u[0][j] = mm[0][j] + mm[1][j] + mm[2][j];                      \
			u[1][j] = mm[1][j] - mm[2][j] - mm[3][j];                      \
		}                                                                   \
		for (int a = 0; a < 2; a++) {                                       \
			if (q[a][0])                                                \
				ST(q[a][0] + ci, u[a][0] + u[a][1] + u[a][2]);      \
			if (q[a][1])                                                \
				ST(q[a][1] + ci, u[a][1] - u[a][2] - u[a][3]);      \
		}                                                                   \
	} while (0)

void WINO_NAME(mli__wino_out)(const float *m, size_t ld, size_t rs, size_t h, size_t w,
			      size_t ch, size_t t0, size_t t1, float *y)
{
	for (size_t t = t0; t < t1; t++) {
		struct tile g = tile_of(t, h, w);
		const float *s = m + (t - t0) * rs;
		float *q[2][2];
		size_t ci = 0;
		for (int a = 0; a < 2; a++)
			for (int b = 0; b < 2; b++) {
				size_t oy = (size_t)(g.y + 1) + a, ox = (size_t)(g.x + 1) + b;
				q[a][b] = oy < h && ox < w ? y + ((g.img * h + oy) * w + ox) * ch : NULL;
			}
		for (; ci + WINO_VW <= ch; ci += WINO_VW)
			WINO_OUT(wvec, ldv, stv);
		for (; ci < ch; ci++)
			WINO_OUT(float, lds, sts);
	}
}

/* dM = A dY A^T for channels [ci, ci + width): dY[a][b] read at p[a][b]. */
#define WINO_DY(T, LD, ST)                                                          \
	do {                                                                        \
		T g0[2], g1[2], r[4][2];                                            \
		for (int b = 0; b < 2; b++) {                                       \
			g0[b] = LD(p[0][b] + ci);                                   \
			g1[b] = LD(p[1][b] + ci);                                   \
			r[0][b] = g0[b];                                            \
			r[1][b] = g0[b] + g1[b];                                    \
			r[2][b] = g0[b] - g1[b];                                    \
			r[3][b] = -g1[b];                                           \
		}                                                                   \
		for (int i = 0; i < 4; i++) {                                       \
			ST(o + (4 * i + 0) * ld + ci, r[i][0]);                     \
			ST(o + (4 * i + 1) * ld + ci, r[i][0] + r[i][1]);           \
			ST(o + (4 * i + 2) * ld + ci, r[i][0] - r[i][1]);           \
			ST(o + (4 * i + 3) * ld + ci, -r[i][1]);                    \
		}                                                                   \
	} while (0)

void WINO_NAME(mli__wino_dy)(const float *dy, size_t h, size_t w, size_t ch, size_t t0,
			     size_t t1, const float *zero, float *dm, size_t ld, size_t rs)
{
	for (size_t t = t0; t < t1; t++) {
		struct tile g = tile_of(t, h, w);
		const float *p[2][2];
		float *o = dm + (t - t0) * rs;
		size_t ci = 0;
		for (int a = 0; a < 2; a++)
			for (int b = 0; b < 2; b++) {
				size_t oy = (size_t)(g.y + 1) + a, ox = (size_t)(g.x + 1) + b;
				p[a][b] = oy < h && ox < w ? dy + ((g.img * h + oy) * w + ox) * ch : zero;
			}
		for (; ci + WINO_VW <= ch; ci += WINO_VW)
			WINO_DY(wvec, ldv, stv);
		for (; ci < ch; ci++)
			WINO_DY(float, lds, sts);
	}
}

/* U = G g G^T for columns [o, o + width) of row ci: g[u][v] at
 * src[(3u + v) * ck], U[i][j] to dst[(4i + j) * ld]. */
#define WINO_FILTER(T, LD, ST)                                                      \
	do {                                                                        \
		T g[3][3], s[4][3];                                                 \
		for (int a = 0; a < 3; a++)                                         \
			for (int b = 0; b < 3; b++)                                 \
				g[a][b] = LD(src + (3 * a + b) * ck);               \
		for (int b = 0; b < 3; b++) {                                       \
			s[0][b] = g[0][b];                                          \
			s[1][b] = (g[0][b] + g[1][b] + g[2][b]) * 0.5f;             \
			s[2][b] = (g[0][b] - g[1][b] + g[2][b]) * 0.5f;             \
			s[3][b] = g[2][b];                                          \
		}                                                                   \
		for (int i = 0; i < 4; i++) {                                       \
			ST(dst + (4 * i + 0) * ld, s[i][0]);                        \
			ST(dst + (4 * i + 1) * ld, (s[i][0] + s[i][1] + s[i][2]) * 0.5f); \
			ST(dst + (4 * i + 2) * ld, (s[i][0] - s[i][1] + s[i][2]) * 0.5f); \
			ST(dst + (4 * i + 3) * ld, s[i][2]);                        \
		}                                                                   \
	} while (0)

void WINO_NAME(mli__wino_filter)(const float *wt, size_t c, size_t k, size_t c0, size_t c1,
				 float *u, size_t ld)
{
	size_t ck = c * k;

	for (size_t ci = c0; ci < c1; ci++) {
		size_t o = 0;
		for (; o + WINO_VW <= k; o += WINO_VW) {
			const float *src = wt + ci * k + o;
			float *dst = u + (ci - c0) * k + o;
			WINO_FILTER(wvec, ldv, stv);
		}
		for (; o < k; o++) {
			const float *src = wt + ci * k + o;
			float *dst = u + (ci - c0) * k + o;
			WINO_FILTER(float, lds, sts);
		}
	}
}

/* dg = G^T dU G: dg[a][b] = sum over (i, j) of G[i][a] dU[i][j] G[j][b]. */
#define WINO_FILTER_GRAD(T, LD, ST)                                                 \
	do {                                                                        \
		T d[4][4], r[3][4];                                                 \
		for (int i = 0; i < 4; i++)                                         \
			for (int j = 0; j < 4; j++)                                 \
				d[i][j] = LD(src + (4 * i + j) * ld);               \
		for (int j = 0; j < 4; j++) {                                       \
			r[0][j] = d[0][j] + (d[1][j] + d[2][j]) * 0.5f;             \
			r[1][j] = (d[1][j] - d[2][j]) * 0.5f;                       \
			r[2][j] = (d[1][j] + d[2][j]) * 0.5f + d[3][j];             \
		}                                                                   \
		for (int a = 0; a < 3; a++) {                                       \
			ST(dst + (3 * a + 0) * ck, r[a][0] + (r[a][1] + r[a][2]) * 0.5f); \
			ST(dst + (3 * a + 1) * ck, (r[a][1] - r[a][2]) * 0.5f);     \
			ST(dst + (3 * a + 2) * ck, (r[a][1] + r[a][2]) * 0.5f + r[a][3]); \
		}                                                                   \
	} while (0)

void WINO_NAME(mli__wino_filter_grad)(const float *du, size_t ld, size_t rs, size_t c,
				      size_t k, size_t c0, size_t c1, float *dwt)
{
	size_t ck = c * k;

	for (size_t ci = c0; ci < c1; ci++) {
		size_t o = 0;
		for (; o + WINO_VW <= k; o += WINO_VW) {
			const float *src = du + ci * rs + o;
			float *dst = dwt + ci * k + o;
			WINO_FILTER_GRAD(wvec, ldv, stv);
		}
		for (; o < k; o++) {
			const float *src = du + ci * rs + o;
			float *dst = dwt + ci * k + o;
			WINO_FILTER_GRAD(float, lds, sts);
		}
	}
}
