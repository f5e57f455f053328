/* trainstate.c: the training state as safetensors (see trainstate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "trainstate.h"

int mli_trainstate_save(const char *path, const struct mli_resnet *net, const float *momentum,
			const struct mli_loss *loss, const struct mli_ckpt_meta *meta,
			size_t n_meta)
{
	size_t cap = 2 * net->n_param + 2, n = 0;
	struct mli_ckpt_tensor *t = calloc(cap, sizeof *t);
	char (*names)[112] = calloc(net->n_param, sizeof *names);
	int rc = MLI_ENOMEM;

	if (!t || !names)
		goto done;
	for (size_t i = 0; i < net->n_param; i++) {
		const struct mli_param *p = &net->param[i];
		t[n].name = p->name;
		t[n].data = net->params + p->offset;
		t[n].ndim = p->ndim;
		memcpy(t[n].dims, p->dims, sizeof t[n].dims);
		n++;
	}
	if (momentum)
		for (size_t i = 0; i < net->n_param; i++) {
			const struct mli_param *p = &net->param[i];
			if (!p->trainable)
				continue;
			snprintf(names[i], sizeof names[i], "momentum/%s", p->name);
			t[n] = t[i];
			t[n].name = names[i];
			t[n].data = momentum + p->offset;
			n++;
		}
	if (loss) {
		t[n++] = (struct mli_ckpt_tensor){ "loss/pos_count", loss->pos_count, 1,
						   { loss->classes } };
		t[n++] = (struct mli_ckpt_tensor){ "loss/neg_count", loss->neg_count, 1,
						   { loss->classes } };
	}
	rc = mli_ckpt_write(path, t, n, meta, n_meta);
done:
	free(t);
	free(names);
	return rc;
}

/* Copies tensor `name` of shape (ndim, dims) into dst. 1 copied, 0 the
 * shape differs, -1 missing. */
static int take(const struct mli_ckpt *c, const char *name, int ndim, const size_t *dims,
		float *dst)
{
	const void *data;
	int nd;
	size_t d[4], count;
	if (mli_ckpt_tensor(c, name, &data, &nd, d, &count) < 0)
		return -1;
	if (nd != ndim)
		return 0;
	for (int i = 0; i < ndim; i++)
		if (d[i] != dims[i])
			return 0;
	memcpy(dst, data, count * sizeof(float));
	return 1;
}

int mli_trainstate_load(const struct mli_ckpt *c, struct mli_resnet *net, float *momentum,
			struct mli_loss *loss, int skip_classifier, char *whybuf, size_t whylen)
{
	char name[128];

	for (size_t i = 0; i < net->n_param; i++) {
		const struct mli_param *p = &net->param[i];
		int r = take(c, p->name, p->ndim, p->dims, net->params + p->offset);
		int head = strncmp(p->name, "logits/", 7) == 0;
		if (r == 0 && head && skip_classifier)
			continue;
		if (r <= 0) {
			snprintf(whybuf, whylen, "%s: %s", p->name,
				 r < 0 ? "missing" : "shape differs from the network's");
			return MLI_EINVAL;
		}
		if (momentum && p->trainable) {
			snprintf(name, sizeof name, "momentum/%s", p->name);
			if (take(c, name, p->ndim, p->dims, momentum + p->offset) <= 0) {
				snprintf(whybuf, whylen, "%s: missing or misshapen", name);
				return MLI_EINVAL;
			}
		}
	}
	if (loss) {
		if (take(c, "loss/pos_count", 1, &loss->classes, loss->pos_count) <= 0 ||
		    take(c, "loss/neg_count", 1, &loss->classes, loss->neg_count) <= 0) {
			snprintf(whybuf, whylen, "loss/pos_count, loss/neg_count: missing or misshapen");
			return MLI_EINVAL;
		}
	}
	return 0;
}
