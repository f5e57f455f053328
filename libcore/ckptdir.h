/* ckptdir.h: the checkpoint directory of mli-train.
 *
 *   DIR/step-NNNNNNNN.safetensors   the checkpoint written at step N
 *   DIR/latest.safetensors          a symbolic link to the newest
 *
 * A file being written is NAME.tmp.PID until it is renamed into place, so
 * a run killed at any moment leaves every checkpoint whole. */
#ifndef MLI_CKPTDIR_H
#define MLI_CKPTDIR_H

#include <stddef.h>
#include <stdint.h>

/* Writes the file name of step's checkpoint into name (size bytes; 64
 * hold any step). */
void mli_ckptdir_name(char *name, size_t size, uint64_t step);

/* The steps of the checkpoints in dir, sorted, into *steps (freed by the
 * caller); returns their count, 0 when dir cannot be read. */
size_t mli_ckptdir_list(const char *dir, uint64_t **steps);

/* Called once step's checkpoint is written in dir: points
 * latest.safetensors at it (by rename, so a reader always finds a link
 * to a whole file), removes all but the newest keep checkpoints, and the
 * temporary files of runs that were killed (whose process is gone).
 * Returns 0, or MLI_ESYS (errno set) when the link cannot be made. */
int mli_ckptdir_commit(const char *dir, uint64_t step, size_t keep);

#endif
