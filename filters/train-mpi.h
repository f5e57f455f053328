/* train-mpi.h: the Open MPI side of mli-train --mpi, compiled into
 * mli-train only in a build with MPI (configure's MLI_MPI), so that
 * libcore never depends on MPI.
 *
 * Every rank runs the same mli-train with the same options on its own
 * stream. The calls below are collective: every rank makes the same
 * calls in the same order, or the job hangs; mli-train keeps that order
 * by deciding every step together (train_mpi_sum_i64 of a "have a batch"
 * flag). A fault in MPI itself ends the whole job (MPI's default
 * MPI_ERRORS_ARE_FATAL), and so does a rank that exits with a non-zero
 * status before train_mpi_finish: an exit handler calls MPI_Abort, so
 * that the other ranks do not wait for it forever. */
#ifndef MLI_TRAIN_MPI_H
#define MLI_TRAIN_MPI_H

#include <stddef.h>
#include <stdint.h>

/* Starts MPI; sets this process's rank and the rank count. Returns 0, or
 * -1 when MPI cannot start (the caller says so and exits). */
int train_mpi_start(int *argc, char ***argv, int *rank, int *ranks);

/* Ends MPI after a run every rank completed. */
void train_mpi_finish(void);

/* Sums v (n) over the ranks, in place on every rank. Integer sums are
 * exact, so every rank holds the same result. */
void train_mpi_sum_i64(int64_t *v, size_t n);

/* Sums v (n floats or doubles) over the ranks and gives every rank the
 * same bytes: a reduction to rank 0 (in the order Open MPI's algorithm
 * for this rank count and size fixes), then a broadcast of rank 0's
 * result. An allreduce alone would not promise that every rank gets the
 * same bits (recursive doubling adds in a different order on each rank);
 * the broadcast does, so the weights stay bit-identical on every rank. */
void train_mpi_sum_f32(float *v, size_t n);
void train_mpi_sum_f64(double *v, size_t n);

/* Rank 0's n values to every rank. */
void train_mpi_bcast_i64(int64_t *v, size_t n);

/* Every rank's `bytes` bytes to rank 0, in rank order, into all (ranks *
 * bytes; used on rank 0 only). */
void train_mpi_gather(const void *mine, void *all, size_t bytes);

#endif
