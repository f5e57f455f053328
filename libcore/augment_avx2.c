/* augment_avx2.c: the colour kernels and the rotation rows of
 * augment_impl.h, eight pixels at a time, operation for operation as the
 * references in augment.c. The colour kernels spread 8-bit pixels into
 * planes and gather them back through small arrays, the float work in
 * between all in registers; the rotation gathers each tap's three bytes
 * with one 32-bit load and leaves the pixels near the edges to the
 * reference. */
#include <immintrin.h>
#include <string.h>

#include "augment_impl.h"

struct hsv_consts {
	__m256 zero, one, two, four, six, sixth, n5, n3, n1;
};

static inline struct hsv_consts consts(void)
{
	struct hsv_consts k = {
		_mm256_setzero_ps(), _mm256_set1_ps(1), _mm256_set1_ps(2), _mm256_set1_ps(4),
		_mm256_set1_ps(6), _mm256_set1_ps(1.0f / 6), _mm256_set1_ps(5), _mm256_set1_ps(3),
		_mm256_set1_ps(1)
	};
	return k;
}

/* One channel of HSV to RGB: v - vs * clamp(min(k, 4 - k), 0, 1), where
 * k = n + h6 wrapped below 6. */
static inline __m256 channel(__m256 n, __m256 h6, __m256 v, __m256 vs, const struct hsv_consts *k)
{
	__m256 kk = _mm256_add_ps(n, h6), t;

	kk = _mm256_sub_ps(kk, _mm256_and_ps(_mm256_cmp_ps(kk, k->six, _CMP_GE_OQ), k->six));
	t = _mm256_min_ps(kk, _mm256_sub_ps(k->four, kk));
	t = _mm256_max_ps(t, k->zero);
	t = _mm256_min_ps(t, k->one);
	return _mm256_sub_ps(v, _mm256_mul_ps(vs, t));
}

static inline void hsv_adjust8(__m256 *r, __m256 *g, __m256 *b, __m256 sat, __m256 dhue,
			       const struct hsv_consts *k)
{
	__m256 R = *r, G = *g, B = *b;
	__m256 mx = _mm256_max_ps(_mm256_max_ps(R, G), B);
	__m256 mn = _mm256_min_ps(_mm256_min_ps(R, G), B);
	__m256 d = _mm256_sub_ps(mx, mn), v = mx;
	__m256 dpos = _mm256_cmp_ps(d, k->zero, _CMP_GT_OQ);
	__m256 inv = _mm256_div_ps(k->one, d);
	__m256 hr = _mm256_mul_ps(_mm256_sub_ps(G, B), inv);
	__m256 hg = _mm256_add_ps(k->two, _mm256_mul_ps(_mm256_sub_ps(B, R), inv));
	__m256 hb = _mm256_add_ps(k->four, _mm256_mul_ps(_mm256_sub_ps(R, G), inv));
	__m256 h = _mm256_blendv_ps(hb, hg, _mm256_cmp_ps(mx, G, _CMP_EQ_OQ));
	__m256 s, h6, vs;

	h = _mm256_blendv_ps(h, hr, _mm256_cmp_ps(mx, R, _CMP_EQ_OQ));
	h = _mm256_and_ps(_mm256_mul_ps(h, k->sixth), dpos);
	s = _mm256_and_ps(_mm256_div_ps(d, mx),
			  _mm256_and_ps(dpos, _mm256_cmp_ps(mx, k->zero, _CMP_GT_OQ)));
	h = _mm256_add_ps(h, dhue);
	h = _mm256_add_ps(h, _mm256_and_ps(_mm256_cmp_ps(h, k->zero, _CMP_LT_OQ), k->one));
	h = _mm256_sub_ps(h, _mm256_and_ps(_mm256_cmp_ps(h, k->one, _CMP_GE_OQ), k->one));
	s = _mm256_mul_ps(s, sat);
	s = _mm256_max_ps(s, k->zero);
	s = _mm256_min_ps(s, k->one);
	h6 = _mm256_mul_ps(h, k->six);
	vs = _mm256_mul_ps(v, s);
	*r = channel(k->n5, h6, v, vs, k);
	*g = channel(k->n3, h6, v, vs, k);
	*b = channel(k->n1, h6, v, vs, k);
}

void mli__color_pass1_avx2(const uint8_t *img, float *f, size_t n, int order, float br, float sat,
			   float hue)
{
	struct hsv_consts k = consts();
	__m256 vbr = _mm256_set1_ps(br), vsat = _mm256_set1_ps(sat), vhue = _mm256_set1_ps(hue);
	__m256 scale = _mm256_set1_ps(1.0f / 255);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		int32_t p[3][8];
		for (int j = 0; j < 8; j++) {
			p[0][j] = img[3 * (i + j)];
			p[1][j] = img[3 * (i + j) + 1];
			p[2][j] = img[3 * (i + j) + 2];
		}
		__m256 r = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)p[0])), scale);
		__m256 g = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)p[1])), scale);
		__m256 b = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)p[2])), scale);
		if (order == 1) {
			r = _mm256_add_ps(r, vbr);
			g = _mm256_add_ps(g, vbr);
			b = _mm256_add_ps(b, vbr);
			hsv_adjust8(&r, &g, &b, vsat, vhue, &k);
		} else {
			hsv_adjust8(&r, &g, &b, vsat, k.zero, &k);
			r = _mm256_add_ps(r, vbr);
			g = _mm256_add_ps(g, vbr);
			b = _mm256_add_ps(b, vbr);
		}
		_mm256_storeu_ps(f + i, r);
		_mm256_storeu_ps(f + n + i, g);
		_mm256_storeu_ps(f + 2 * n + i, b);
	}
	/* The last pixels, fewer than eight, by the reference. */
	if (i < n) {
		float tail[3 * 8];
		size_t m = n - i;
		mli__color_pass1_ref(img + 3 * i, tail, m, order, br, sat, hue);
		for (size_t j = 0; j < m; j++) {
			f[i + j] = tail[j];
			f[n + i + j] = tail[m + j];
			f[2 * n + i + j] = tail[2 * m + j];
		}
	}
}

void mli__color_pass2_avx2(const float *f, uint8_t *dst, size_t n, int order, float kc,
			   const float mean[3], float hue)
{
	struct hsv_consts k = consts();
	__m256 vk = _mm256_set1_ps(kc), vhue = _mm256_set1_ps(hue);
	__m256 m0 = _mm256_set1_ps(mean[0]), m1 = _mm256_set1_ps(mean[1]), m2 = _mm256_set1_ps(mean[2]);
	__m256 v255 = _mm256_set1_ps(255), half = _mm256_set1_ps(0.5f);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 r = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(f + i), m0), vk), m0);
		__m256 g = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(f + n + i), m1), vk), m1);
		__m256 b = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(f + 2 * n + i), m2), vk), m2);
		__m256 c[3];
		int32_t q[3][8];
		if (order == 2)
			hsv_adjust8(&r, &g, &b, k.one, vhue, &k);
		c[0] = r;
		c[1] = g;
		c[2] = b;
		for (int ch = 0; ch < 3; ch++) {
			__m256 v = _mm256_add_ps(_mm256_mul_ps(c[ch], v255), half);
			v = _mm256_max_ps(v, k.zero);
			v = _mm256_min_ps(v, v255);
			_mm256_storeu_si256((__m256i *)q[ch], _mm256_cvttps_epi32(v));
		}
		for (int j = 0; j < 8; j++) {
			dst[3 * (i + j)] = (uint8_t)q[0][j];
			dst[3 * (i + j) + 1] = (uint8_t)q[1][j];
			dst[3 * (i + j) + 2] = (uint8_t)q[2][j];
		}
	}
	if (i < n) {
		float tail[3 * 8];
		size_t m = n - i;
		for (size_t j = 0; j < m; j++) {
			tail[j] = f[i + j];
			tail[m + j] = f[n + i + j];
			tail[2 * m + j] = f[2 * n + i + j];
		}
		mli__color_pass2_ref(tail, dst + 3 * i, m, order, kc, mean, hue);
	}
}

void mli__rotate_row3_avx2(const uint8_t *src, uint32_t n, long fx, long fy, long step_x,
			   long step_y, uint8_t *out)
{
	const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	const __m256i sx = _mm256_set1_epi32((int32_t)step_x), sy = _mm256_set1_epi32((int32_t)step_y);
	const __m256i last = _mm256_set1_epi32((int32_t)n - 1), neg1 = _mm256_set1_epi32(-1);
	const __m256i ff = _mm256_set1_epi32(0xff), c256 = _mm256_set1_epi32(256);
	const __m256i half = _mm256_set1_epi32(32768), three = _mm256_set1_epi32(3);
	const __m256i stride = _mm256_set1_epi32((int32_t)n * 3);
	const int *base = (const int *)(const void *)src;
	uint32_t j = 0;

	for (; j + 8 <= n; j += 8) {
		long bx = fx + (long)j * step_x, by = fy + (long)j * step_y;
		__m256i px = _mm256_add_epi32(_mm256_set1_epi32((int32_t)bx), _mm256_mullo_epi32(lane, sx));
		__m256i py = _mm256_add_epi32(_mm256_set1_epi32((int32_t)by), _mm256_mullo_epi32(lane, sy));
		__m256i x0 = _mm256_srai_epi32(px, 16), y0 = _mm256_srai_epi32(py, 16);
		__m256i inside = _mm256_and_si256(
			_mm256_and_si256(_mm256_cmpgt_epi32(x0, neg1), _mm256_cmpgt_epi32(last, x0)),
			_mm256_and_si256(_mm256_cmpgt_epi32(y0, neg1), _mm256_cmpgt_epi32(last, y0)));
		uint32_t px32[8];

		if (_mm256_movemask_ps(_mm256_castsi256_ps(inside)) != 0xff) {
			/* Near an edge: the reference, pixel by pixel. */
			for (uint32_t k = 0; k < 8; k++)
				mli__rotate_pixel(src, n, 3, bx + (long)k * step_x, by + (long)k * step_y,
						  out + 3 * (size_t)(j + k));
			continue;
		}
		__m256i wx = _mm256_and_si256(_mm256_srai_epi32(px, 8), ff);
		__m256i wy = _mm256_and_si256(_mm256_srai_epi32(py, 8), ff);
		__m256i w00 = _mm256_mullo_epi32(_mm256_sub_epi32(c256, wx), _mm256_sub_epi32(c256, wy));
		__m256i w01 = _mm256_mullo_epi32(wx, _mm256_sub_epi32(c256, wy));
		__m256i w10 = _mm256_mullo_epi32(_mm256_sub_epi32(c256, wx), wy);
		__m256i w11 = _mm256_mullo_epi32(wx, wy);
		__m256i idx = _mm256_add_epi32(_mm256_mullo_epi32(y0, stride), _mm256_mullo_epi32(x0, three));
		/* Each load takes a pixel's three bytes and one more. */
		__m256i a0 = _mm256_i32gather_epi32(base, idx, 1);
		__m256i a1 = _mm256_i32gather_epi32(base, _mm256_add_epi32(idx, three), 1);
		__m256i b0 = _mm256_i32gather_epi32(base, _mm256_add_epi32(idx, stride), 1);
		__m256i b1 = _mm256_i32gather_epi32(base, _mm256_add_epi32(_mm256_add_epi32(idx, stride), three), 1);
		__m256i res = _mm256_setzero_si256();
		for (int ch = 0; ch < 3; ch++) {
			__m128i sh = _mm_cvtsi32_si128(8 * ch);
			__m256i p00 = _mm256_and_si256(_mm256_srl_epi32(a0, sh), ff);
			__m256i p01 = _mm256_and_si256(_mm256_srl_epi32(a1, sh), ff);
			__m256i p10 = _mm256_and_si256(_mm256_srl_epi32(b0, sh), ff);
			__m256i p11 = _mm256_and_si256(_mm256_srl_epi32(b1, sh), ff);
			__m256i v = _mm256_add_epi32(_mm256_mullo_epi32(w00, p00), _mm256_mullo_epi32(w01, p01));
			v = _mm256_add_epi32(v, _mm256_mullo_epi32(w10, p10));
			v = _mm256_add_epi32(v, _mm256_mullo_epi32(w11, p11));
			v = _mm256_srli_epi32(_mm256_add_epi32(v, half), 16);
			res = _mm256_or_si256(res, _mm256_sll_epi32(v, sh));
		}
		_mm256_storeu_si256((__m256i *)(void *)px32, res);
		for (uint32_t k = 0; k < 8; k++)
			memcpy(out + 3 * (size_t)(j + k), &px32[k], 3);
	}
	for (; j < n; j++)
		mli__rotate_pixel(src, n, 3, fx + (long)j * step_x, fy + (long)j * step_y, out + 3 * (size_t)j);
}
