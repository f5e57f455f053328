/* trainstate.h: a training run's whole state in one safetensors file.
 *
 * Tensors: every parameter of the network under its own name (the
 * batch-norm running statistics included); with momentum, the momentum
 * buffer of every trainable parameter as "momentum/NAME"; with a loss,
 * its running class counts as "loss/pos_count" and "loss/neg_count"
 * (classes). The caller adds the metadata (step, options, random
 * state). Loading the same file into a network of the same shape and
 * going on with the same stream continues the run exactly. */
#ifndef MLI_TRAINSTATE_H
#define MLI_TRAINSTATE_H

#include "checkpoint.h"
#include "loss.h"
#include "resnet.h"

/* Writes the state atomically (checkpoint.h). momentum and loss may be
 * NULL. Returns 0 or a negative MLI_E* code. */
int mli_trainstate_save(const char *path, const struct mli_resnet *net, const float *momentum,
			const struct mli_loss *loss, const struct mli_ckpt_meta *meta,
			size_t n_meta);

/* Copies the tensors of an open checkpoint into net (and momentum and
 * the loss counts when not NULL). Every parameter must be present with
 * its shape, except that with skip_classifier the classifier
 * (logits/dense) is left alone when its shape differs (fine-tuning to
 * another class count). Returns 0, or MLI_EINVAL with *why naming the
 * tensor at fault (a static buffer per call is not used: *why points
 * into `whybuf`, of whylen bytes). */
int mli_trainstate_load(const struct mli_ckpt *c, struct mli_resnet *net, float *momentum,
			struct mli_loss *loss, int skip_classifier, char *whybuf, size_t whylen);

#endif
